"""A local JupyterHub in front of the dashboards, for a trial (see README.md here).

DummyAuthenticator with one shared password: a trial only, never a deployment. Paths come from
the environment: QI_TRIAL (a scratch folder), QI_JHS (the jhsingle-native-proxy environment),
QI_QIWIDGETS (the qiwidgets command), QI_STORE (the store), QI_CHP (configurable-http-proxy).
"""

import os

c = get_config()  # noqa: F821 - given by JupyterHub when it reads this file

trial = os.environ["QI_TRIAL"]
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = 8000
c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = "trial-password"
c.Authenticator.allowed_users = {"alice", "bob"}  # alice is in the group, bob is not
c.JupyterHub.load_groups = {"improvement-teams": {"users": ["alice"]}}
c.ConfigurableHTTPProxy.command = [os.environ["QI_CHP"]]
c.JupyterHub.db_url = f"sqlite:///{trial}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = f"{trial}/cookie_secret"
c.JupyterHub.services = [{
    "name": "qi-dashboards",
    "url": "http://127.0.0.1:9866",
    "oauth_no_confirm": True,
    "command": [
        os.environ["QI_JHS"] + "/bin/jhsingle-native-proxy", "--port", "9866",
        "--destport", "0", "--authtype", "oauth", "--request-timeout", "300",
        "--ready-timeout", "120",
        os.environ["QI_QIWIDGETS"], "serve", "{--}port", "{port}", "{--}db", os.environ["QI_STORE"],
        "{--}base-url", "{base_url}/", "{--}server-url", "/", "{--}no-token",
        "{--}stop-with-parent", "{--}pool", "1",
    ],
}]  # fmt: skip
c.JupyterHub.load_roles = [{
    "name": "dashboard-users",
    "scopes": ["access:services!service=qi-dashboards"],
    "groups": ["improvement-teams"],
}]  # fmt: skip
