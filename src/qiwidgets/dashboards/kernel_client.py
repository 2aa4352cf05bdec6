"""The kernel client of ``qiwidgets serve``: a new kernel runs its first cell as soon as it is ready.

Before the first cell in a new kernel, nbclient (and so Voilà) waits for the kernel with
jupyter_client's ``wait_for_ready``. That returns only once IOPub has been quiet for 0.2 s: on
our machines a kernel answers after 0.3–0.45 s and then waits 0.2 s more, every time (4 of 4
starts measured), on the way of every page that finds no warm kernel.

:class:`DashboardKernelClient` waits for the same two things (the kernel's ``kernel_info``
reply, and a message on IOPub showing that channel connected), then drops the IOPub messages
already received and returns without waiting for silence. Messages that come later are replies
to ``kernel_info`` requests; nbclient reads only the messages whose parent is the cell it runs.
"""

from __future__ import annotations

import time
from queue import Empty

from jupyter_client.asynchronous import AsyncKernelClient

#: Seconds to wait for the kernel's reply before asking again (jupyter_client waits as long).
REPLY_WAIT = 1.0
#: Seconds to wait, after the reply, for a first IOPub message (jupyter_client's value).
IOPUB_WAIT = 0.2


class DashboardKernelClient(AsyncKernelClient):
    """``AsyncKernelClient`` whose :meth:`wait_for_ready` does not wait for IOPub to go quiet."""

    async def wait_for_ready(self, timeout: float | None = None) -> None:
        """Ask the kernel for its ``kernel_info`` until it answers with IOPub connected.

        Raises ``RuntimeError`` when the kernel dies first, or after ``timeout`` seconds.
        """
        deadline = time.monotonic() + (float("inf") if timeout is None else timeout)
        while not await self._answers_with_iopub():
            if not await self.is_alive():
                raise RuntimeError("The kernel stopped before it was ready.")
            if time.monotonic() > deadline:
                raise RuntimeError(f"The kernel was not ready after {timeout:g} seconds.")
        while True:  # what IOPub holds now is about the kernel_info requests: drop it
            try:
                await self.iopub_channel.get_msg(timeout=0)
            except Empty:
                return

    async def _answers_with_iopub(self) -> bool:
        self.kernel_info()
        try:
            reply = await self.shell_channel.get_msg(timeout=REPLY_WAIT)
        except Empty:
            return False
        if reply["msg_type"] != "kernel_info_reply":
            return False
        try:
            await self.iopub_channel.get_msg(timeout=IOPUB_WAIT)
        except Empty:  # IOPub not connected yet: ask again
            return False
        self._handle_kernel_info_reply(reply)  # adapts to the kernel's protocol version
        return True


__all__ = ["DashboardKernelClient"]
