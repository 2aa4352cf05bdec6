"""``qiwidgets serve --hub``: the dashboards as a JupyterHub service that knows its visitors.

The Hub starts ``qiwidgets serve --hub`` as a managed service (docs/deployment.md) and gives it,
in its environment, the service's API token, prefix, address and OAuth client. A visitor is
logged in by the Hub (OAuth, as for a single-user server: :class:`HubIdentityProvider`); the
server then knows their Hub name and groups and hands them to the page's kernel itself
(``hub:<name>``, :mod:`qiwidgets.dashboards.voila_app`), which reads and writes the store as the
person with that identity key, with the roles the store and their ``qi:`` groups give
(:func:`qiwidgets.store.people.actor_for_hub`). Nothing a page sends can change who it is for.

Imports JupyterHub (the ``hub`` extra); nothing else in qiwidgets does.
"""

from __future__ import annotations

import os
import urllib.parse

from jupyterhub.singleuser.extension import JupyterHubIdentityProvider

from qiwidgets.errors import QIError

#: What the Hub sets in a managed service's environment, and what --hub needs of it.
HUB_ENV = ("JUPYTERHUB_API_TOKEN", "JUPYTERHUB_API_URL", "JUPYTERHUB_SERVICE_PREFIX",
           "JUPYTERHUB_SERVICE_URL", "JUPYTERHUB_CLIENT_ID")  # fmt: skip


class HubIdentityProvider(JupyterHubIdentityProvider):
    """JupyterHub's login for ``qiwidgets serve --hub``: the Hub logs the visitor in (OAuth, as
    for a single-user server) and says who they are and their groups; only users the Hub lets
    use this service get in. The name and groups reach the kernel from here, never from the
    page (:func:`visitor_of`, :func:`groups_of`)."""

    @property
    def token(self) -> str:  # the Hub's API token; Voilà passes token="" (ignored)
        return self.hub_auth.api_token

    @token.setter
    def token(self, _value: str) -> None:
        pass


def hub_service() -> tuple[str, int, str]:
    """``(host, port, prefix)`` of the service, from the environment the Hub gives it; refused
    in words when qiwidgets serve --hub was not started by a Hub."""
    missing = [name for name in HUB_ENV if not os.environ.get(name)]
    if missing:
        raise QIError(f"qiwidgets serve --hub runs as a JupyterHub service, started by the Hub "
                      f"(c.JupyterHub.services, docs/deployment.md): {', '.join(missing)} "
                      "not set.")  # fmt: skip
    url = urllib.parse.urlsplit(os.environ["JUPYTERHUB_SERVICE_URL"])
    prefix = os.environ["JUPYTERHUB_SERVICE_PREFIX"]
    return (
        url.hostname or "127.0.0.1",
        url.port or 80,
        prefix if prefix.endswith("/") else prefix + "/",
    )


__all__ = ["HUB_ENV", "HubIdentityProvider", "hub_service"]
