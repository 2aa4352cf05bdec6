"""Executed notebook -> an HTML report without code that opens offline; HTML -> PDF.

The HTML comes from nbconvert's ``basic`` template (the notebook's outputs only: no code, no
prompts, no markdown guidance), wrapped in our own page with the CSS inline. nbconvert's ``lab``
and ``classic`` page templates link require.js, MathJax and the widget manager from CDNs; the
``basic`` template writes none of them, and :func:`~qiwidgets.reports.html.assert_offline`
refuses any page that would still ask the network for something.

PDF is printed by headless Chromium (Debian's ``/usr/bin/chromium``; never downloaded).
"""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from qiwidgets import config
from qiwidgets.errors import ReportError
from qiwidgets.reports.html import assert_offline, page

__all__ = ["CHROMIUM_ARGS", "find_chromium", "html_to_pdf", "notebook_to_html"]

#: Flags for headless Chromium in containers and CI (see docs/jupyter-traps.md).
CHROMIUM_ARGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage")
#: Where Chromium is looked for, in order (``QI_CHROMIUM`` first).
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")

_exporter = None  # built once per process: nbconvert's templates take a while to load


def _html_exporter():
    global _exporter
    if _exporter is None:
        from nbconvert import HTMLExporter

        _exporter = HTMLExporter(
            template_name="basic",
            exclude_input=True,
            exclude_input_prompt=True,
            exclude_output_prompt=True,
            exclude_markdown=True,
            exclude_raw=True,
            exclude_unknown=True,
        )
    return _exporter


def notebook_to_html(nb, title: str) -> str:
    """The report page for the executed notebook ``nb`` (a NotebookNode).

    Only rich outputs are kept: printed text and warnings on stderr are dropped, so what a
    reader sees is what the report cells displayed.
    """
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cell.get("cell_type") == "code":
            cell["outputs"] = [o for o in cell.get("outputs", []) if o.get("output_type") != "stream"]
    body, _ = _html_exporter().from_notebook_node(nb)
    return assert_offline(page(title, body))


def find_chromium() -> str | None:
    """The Chromium executable to print with, or None."""
    env = config.get("chromium")
    for candidate in ([env] if env else []) + list(CHROMIUM_CANDIDATES):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("chromium")


def html_to_pdf(html_path: Path, pdf_path: Path, timeout: float = 120) -> Path:
    """Print ``html_path`` to ``pdf_path`` with headless Chromium (profile in a temp folder)."""
    exe = find_chromium()
    if exe is None:
        raise ReportError(
            "`--pdf` needs Chromium: install the Debian package `chromium` (or set "
            f"{config.env_name('chromium')} to the browser's path)."
        )
    with tempfile.TemporaryDirectory(prefix="qiw-chromium-") as profile:
        cmd = [
            exe, *CHROMIUM_ARGS, f"--user-data-dir={profile}", "--no-pdf-header-footer",
            f"--print-to-pdf={pdf_path}", Path(html_path).resolve().as_uri(),
        ]  # fmt: skip
        env = {**os.environ, "HOME": profile}
        try:
            proc = subprocess.run(cmd, capture_output=True, timeout=timeout, env=env, check=False)
        except subprocess.TimeoutExpired:
            raise ReportError(f"Chromium did not print the PDF within {timeout:g} s.") from None
    if proc.returncode != 0 or not Path(pdf_path).is_file():
        tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
        raise ReportError("Chromium could not print the PDF: " + " / ".join(tail))
    return Path(pdf_path)
