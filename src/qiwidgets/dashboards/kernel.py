"""The dashboards' kernels: ipykernel, which a Ctrl+C (SIGINT) before it is up stops quietly
(``qiwidgets serve`` starts them through the ``python3`` kernel spec it writes into its site,
:func:`qiwidgets.dashboards.server.kernel_spec`).

jupyter_client interrupts a kernel before it asks it to shut down. A warm kernel that ``serve``
stops a moment after it started is still importing ipykernel then, and Python's default answer
to SIGINT is a ``KeyboardInterrupt`` traceback on the operator's terminal (1 run in 3 under
load, stopping the server as the pools reported full). Ignoring the signal instead lets the
kernel start after its connection file was removed, on a TCP port of its own (measured: ipykernel
then warns of plain-text TCP). So until ipykernel takes signals over (it ignores SIGINT outside
a cell and catches it while a cell runs, ``IPKernelApp.init_signal``) SIGINT ends the process
at once, with nothing printed: nothing has started that could be interrupted instead.
"""

from __future__ import annotations

import os
import signal
import sys

#: What a dashboard kernel runs (``python -m``): how its process is told from others.
MODULE = "qiwidgets.dashboards.kernel"
#: The exit status of a kernel stopped before it was up: 128 + SIGINT, as a shell reports it.
STOPPED_WHILE_STARTING = 128 + signal.SIGINT


def _stop_quietly(_signum: int, _frame: object) -> None:
    os._exit(STOPPED_WHILE_STARTING)


def main() -> None:
    signal.signal(signal.SIGINT, _stop_quietly)
    # as ipykernel_launcher does: the working folder (the served dashboards) is not a place
    # to import modules from
    if sys.path and sys.path[0] in ("", "."):
        del sys.path[0]
    from ipykernel import kernelapp

    kernelapp.launch_new_instance()


if __name__ == "__main__":
    main()
