"""Run ``qiwidgets serve`` as a child process, for the browser tests and the benchmark.

:class:`ServedDashboards` starts the real command on a free port with a store, keeps Jupyter's
state (config, data, runtime, IPython) in a temporary folder, waits until the server prints
its address, and stops the whole process group at the end.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Self

from qiwidgets import config
from qiwidgets.dashboards import kernel


def is_kernel(cmdline: list[str]) -> bool:
    """Whether a process with this command line is a dashboard kernel (``psutil``'s
    ``Process.cmdline()``)."""
    return kernel.MODULE in cmdline


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServedDashboards:
    """``with ServedDashboards(db) as server: server.url("team.ipynb", team="W01")``."""

    def __init__(self, db: str | os.PathLike, *,
                 token: str | None = "qiwidgets-test-token-0123456789",
                 pool: int = 1, extra_args: list[str] | None = None,
                 workdir: str | os.PathLike | None = None, ready_timeout: float = 240):  # fmt: skip
        self.db = str(db)
        self.token = token
        self.port = free_port()
        self.pool = pool
        self.extra_args = list(extra_args or [])
        self.ready_timeout = ready_timeout
        self._own_tmp = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="qiwidgets-dash-"))
        self.proc: subprocess.Popen | None = None
        self.output: list[str] = []
        self._ready = threading.Event()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, page: str = "team.ipynb", *, token: bool = True, **params: str) -> str:
        query = dict(params)
        if token and self.token:
            query["token"] = self.token
        q = urllib.parse.urlencode(query)
        return f"{self.base}/voila/render/{page}" + (f"?{q}" if q else "")

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        for name, sub in (("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_DATA_DIR", "data"),
                          ("JUPYTER_RUNTIME_DIR", "runtime"), ("IPYTHONDIR", "ipython")):  # fmt: skip
            path = self.workdir / "jupyter" / sub
            path.mkdir(parents=True, exist_ok=True)
            env[name] = str(path)
        for name in ("programme", "token", "database_url"):  # nothing of the developer's own
            env.pop(config.env_name(name), None)
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def start(self) -> ServedDashboards:
        token = [] if self.token else ["--no-token"]  # the token goes in the environment
        cmd = [sys.executable, "-m", "qiwidgets.cli", "serve", "--db", self.db,
               "--port", str(self.port), *token, "--pool", str(self.pool),
               "--cache-dir", str(self.workdir / "charts"), *self.extra_args]  # fmt: skip
        env = self.env()
        if self.token:
            env[config.env_name("token")] = self.token
        self.proc = subprocess.Popen(
            cmd, cwd=self.workdir, env=env, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, start_new_session=True,
        )  # fmt: skip
        threading.Thread(target=self._read, daemon=True).start()
        if not self._ready.wait(self.ready_timeout):
            self.stop()
            raise RuntimeError("qiwidgets serve did not start:\n" + "".join(self.output[-40:]))
        if self.proc.poll() is not None:
            raise RuntimeError("qiwidgets serve stopped:\n" + "".join(self.output[-40:]))
        return self

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line)
            if "dashboards are ready" in line:
                self._ready.set()
        self._ready.set()  # the process ended: let start() report it

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
            except ProcessLookupError:
                pass
        if self._own_tmp:
            import shutil

            shutil.rmtree(self.workdir, ignore_errors=True)

    def wait_for_output(self, text: str, count: int = 1, timeout: float = 120) -> bool:
        """Wait until ``count`` lines the server printed contain ``text``; False on time-out."""
        deadline = time.monotonic() + timeout
        while sum(text in line for line in self.output) < count:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.1)
        return True

    def wait_port_closed(self, timeout: float = 30) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) != 0:
                    return True
            time.sleep(0.2)
        return False

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


#: Chromium flags for headless tests on these machines (see jupyter-traps.md).
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update", "--no-first-run",
    "--disable-default-apps", "--disable-sync", "--metrics-recording-only",
    "--disable-features=Translate,OptimizationHints,MediaRouter",
]  # fmt: skip
CHROMIUM = "/usr/bin/chromium"


def launch_chromium(playwright, **kwargs):
    """Debian's Chromium, headless (never ``playwright install``)."""
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                      args=CHROMIUM_ARGS, **kwargs)  # fmt: skip


__all__ = ["CHROMIUM_ARGS", "ServedDashboards", "free_port", "launch_chromium"]
