"""One report job, as a worker process runs it: papermill, HTML (and PDF), files put in place.

:func:`run_job` is a plain top-level function taking and returning plain dataclasses, so the same
job runs in a spawned ``ProcessPoolExecutor`` worker or on a Dask worker. It never raises for a
report that failed: it returns a :class:`JobResult` saying which cell failed and where the
failed notebook was kept.

A job writes into a private staging folder and moves each finished file into place with
``os.replace`` (atomic on one file system); the JSON summary, which carries the build
fingerprint, is moved last, so a report counts as built only when all its files are there.
"""

from __future__ import annotations

import atexit
import json
import logging
import math
import os
import shutil
import tempfile
import threading
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from qiwidgets._imports import PRELUDE

__all__ = ["KERNEL_PRELUDE", "Job", "JobResult", "run_job", "shutdown_kernels"]

log = logging.getLogger("qiwidgets.reports")

#: Run in each report kernel before the first cell (IPKernelApp.exec_lines): skips the import
#: of jsonschema's IRI grammar (:mod:`qiwidgets._imports`). Only report kernels started by the
#: runner are affected, never a user's session.
KERNEL_PRELUDE = PRELUDE


@dataclass(frozen=True)
class Job:
    """Everything a worker needs to build one report (plain data, picklable)."""

    kind: str  # "team" or "programme"
    key: str  # team code, or the programme code
    slug: str  # file-name-safe name of the report's files
    title: str  # page title (escaped when written)
    notebook: str  # the notebook to run
    parameters: dict  # papermill parameters (plain literals); output_dir is added by the job
    final_dir: str  # where the report's files go
    failed_dir: str  # where a failed notebook is kept
    staging_root: str  # where the job stages its files
    build: dict  # fingerprint, notebook hash, package version: written into the summary
    timeout: float = 300.0  # seconds for the whole report (kernel start excluded)
    start_timeout: float = 60.0
    retries: int = 1  # extra attempts when the kernel fails to start
    pdf: bool = False
    pptx: bool = False  # also write the report as a PowerPoint deck (reports.slides)
    kernel_name: str = "python3"
    fast_imports: bool = True
    reuse_kernel: bool = True  # run in the worker's kernel kept from its previous report
    #: Environment for the kernel that is kept out of the notebook (the database URL with its
    #: password, when the parameters show it hidden).
    environment: dict = field(default_factory=dict)


@dataclass
class JobResult:
    """What happened to one job."""

    kind: str
    key: str
    slug: str
    ok: bool
    seconds: float
    attempts: int = 1
    files: dict = field(default_factory=dict)
    cell: int | None = None  # index of the failing cell in the notebook
    execution_count: int | None = None
    ename: str | None = None
    evalue: str | None = None
    message: str | None = None
    failed_notebook: str | None = None

    def describe(self) -> str:
        """One line for the batch summary."""
        if self.ok:
            return f"{self.key}: built in {self.seconds:.1f} s"
        where = f" at cell {self.cell}" if self.cell is not None else ""
        if self.cell is not None and self.execution_count is not None:
            where += f" (In [{self.execution_count}])"
        what = f"{self.ename}: {self.evalue}" if self.ename else (self.message or "failed")
        kept = f" (notebook kept: {self.failed_notebook})" if self.failed_notebook else ""
        return f"{self.key}: failed{where}: {what}{kept}"

    def to_dict(self) -> dict:
        return asdict(self)


def _statuses(nb) -> list[str]:
    return [
        c.get("metadata", {}).get("papermill", {}).get("status", "pending")
        for c in nb.cells
        if c.get("cell_type") == "code"
    ]


def _failing_cell(nb) -> tuple[int | None, int | None]:
    """(index, execution count) of the cell that failed or was running when the run stopped."""
    for i, c in enumerate(nb.cells):
        status = c.get("metadata", {}).get("papermill", {}).get("status")
        if status in ("failed", "running"):
            return i, c.get("execution_count")
        if any(o.get("output_type") == "error" for o in c.get("outputs", [])):
            return i, c.get("execution_count")
    return None, None


def _kernel_arguments(job: Job) -> list[str]:
    # the kernel's own log (e.g. its TCP transport warning) would flood the batch's terminal
    extra = ["--IPKernelApp.log_level=CRITICAL"]
    if job.fast_imports:
        extra.append(f"--IPKernelApp.exec_lines={KERNEL_PRELUDE}")
    return extra


def _execute(job: Job, out_nb: Path, params: dict, deadline: float) -> None:
    import papermill as pm

    extra = _kernel_arguments(job)
    warm = _warm_kernel(job, extra, cwd=out_nb.parent) if job.reuse_kernel else None
    try:
        pm.execute_notebook(
            job.notebook,
            str(out_nb),
            parameters=params,
            kernel_name=job.kernel_name,
            progress_bar=False,
            request_save_on_cell_execute=False,
            # whole seconds: nbclient's startup_timeout is an Int trait, and traitlets 5.14
            # refuses a float (60.0) for it, failing every report (newer ones accept it)
            start_timeout=math.ceil(job.start_timeout),
            cwd=str(out_nb.parent),
            # one deadline for the whole report: each cell gets the time left (nbclient
            # timeout_func)
            timeout_func=lambda cell: max(1.0, deadline - time.monotonic()),
            extra_arguments=extra,
            **({"km": warm.km} if warm is not None else {}),
        )
    except Exception as exc:
        # a cell that raised leaves a working kernel (the next report starts from a clean
        # namespace); a timeout, a dead kernel or anything else does not: start afresh
        if warm is not None and type(exc).__name__ != "PapermillExecutionError":
            _discard_warm_kernel()
        raise


# ---------------------------------------------------------------------------------------------
# one kernel per worker, reused from report to report

#: Run in a reused kernel before each report: the notebook then starts as in a fresh kernel
#: (an empty namespace, no output history, the report's own working folder). Imported modules
#: stay loaded: that is the point, a report's imports cost ~2.5 s per kernel (benchmarks/).
#: The folder is changed first: the previous report's folder is gone by now.
#:
#: ``%reset -f`` runs two full garbage collections (IPython's DisplayHook.flush, then the end
#: of the magic: IPython/core/magics/namespace.py), so what is left afterwards is alive: mostly
#: the ~200,000 objects of the loaded modules. Freezing them (gc.freeze) keeps every later full
#: collection off them; each took ~0.1 s, and a reset ran three (the magic's two and one of its
#: own), ~0.33 s of the ~0.35 s it cost. The price: a frozen object that later ends up in a
#: garbage cycle is never reclaimed.
RESET_CODE = """\
import os as _qiw_os
_qiw_os.chdir({cwd!r})
get_ipython().run_line_magic("reset", "-f")
import gc as _qiw_gc
_qiw_gc.freeze()
del _qiw_gc
"""


class _WarmKernel:
    """A kernel kept by a worker between reports (one per thread: Dask workers may have more),
    and the one client every report talks to it through."""

    def __init__(self, kernel_name: str, extra: list[str], cwd: Path, start_timeout: float):
        from jupyter_client.asynchronous import AsyncKernelClient
        from jupyter_client.manager import AsyncKernelManager
        from jupyter_core.utils import run_sync

        class _Client(AsyncKernelClient):
            """Connected and checked once, when the kernel starts, then lent to each report. A
            client per report cost ~0.2 s before the first cell: nbclient waits for it to be
            ready, and jupyter_client's wait_for_ready returns only after 0.2 s without an IOPub
            message (client.py, _async_wait_for_ready)."""

            ready = False

            def start_channels(self, *args, **kwargs) -> None:
                if not self.channels_running:  # papermill starts them again for each report
                    super().start_channels(*args, **kwargs)

            async def wait_for_ready(self, timeout: float | None = None) -> None:
                # once: the channels stay connected, and just before each report the kernel
                # has answered the reset through them
                if not self.ready:
                    await super().wait_for_ready(timeout=timeout)
                    self.ready = True

        class _Manager(AsyncKernelManager):
            """Hands papermill, which asks for a client per report, the kernel's one client."""

            kept: _Client | None = None

            def client(self, **kwargs):
                if self.kept is None:
                    self.kept = super().client(**kwargs)
                return self.kept

        self.key = (kernel_name, tuple(extra))
        self.km = _Manager(kernel_name=kernel_name, client_factory=_Client)
        self._run_sync = run_sync
        run_sync(self.km.start_kernel)(extra_arguments=extra, cwd=str(cwd))
        self.kc = self.km.client()
        try:
            self.kc.start_channels()
            self._call(self.kc.wait_for_ready(timeout=start_timeout))
        except Exception:
            self.shutdown()
            raise

    def _call(self, coro):
        async def wrapper():
            return await coro

        return self._run_sync(wrapper)()

    def alive(self) -> bool:
        try:
            return bool(self._call(self.km.is_alive()))
        except Exception:  # noqa: BLE001 - a broken manager counts as dead
            return False

    def reset(self, cwd: Path, timeout: float) -> None:
        reply = self._call(
            self.kc.execute_interactive(
                RESET_CODE.format(cwd=str(cwd)), store_history=False, timeout=timeout,
                output_hook=lambda msg: None,
            )
        )  # fmt: skip
        content = reply["content"]
        if content.get("status") != "ok":
            raise RuntimeError(
                "the reused kernel could not be reset: "
                f"{content.get('ename')}: {content.get('evalue')}"
            )

    def shutdown(self) -> None:
        try:
            self.kc.stop_channels()
        except Exception:
            log.debug("closing the kept kernel's client failed", exc_info=True)
        try:
            self._call(self.km.shutdown_kernel(now=True))
        except Exception:
            log.debug("stopping a kept kernel failed", exc_info=True)


_local = threading.local()


def _warm_kernel(job: Job, extra: list[str], cwd: Path) -> _WarmKernel:
    """This thread's kernel, alive and reset for the next report (started when needed)."""
    warm: _WarmKernel | None = getattr(_local, "kernel", None)
    if warm is not None and (warm.key != (job.kernel_name, tuple(extra)) or not warm.alive()):
        _discard_warm_kernel()
        warm = None
    if warm is not None:
        try:
            warm.reset(cwd, timeout=job.start_timeout)
            return warm
        except Exception:  # noqa: BLE001 - a kernel that cannot be reset is replaced
            _discard_warm_kernel()
    warm = _WarmKernel(job.kernel_name, extra, cwd, job.start_timeout)
    _local.kernel = warm
    with _all_lock:
        _all_kernels.add(warm)
    return warm


def _discard_warm_kernel() -> None:
    warm = getattr(_local, "kernel", None)
    _local.kernel = None
    if warm is not None:
        with _all_lock:
            _all_kernels.discard(warm)
        warm.shutdown()


_all_kernels: set[_WarmKernel] = set()
_all_lock = threading.Lock()


def shutdown_kernels() -> None:
    """Stop this process's kept kernels (run at exit; kernels also stop when their worker dies,
    through ipykernel's parent poller)."""
    with _all_lock:
        kernels = list(_all_kernels)
        _all_kernels.clear()
    for warm in kernels:
        try:
            warm.shutdown()
        except Exception:
            log.debug("stopping a kept kernel at exit failed", exc_info=True)
    _local.kernel = None


atexit.register(shutdown_kernels)


def run_job(job: Job) -> JobResult:
    """Build one report; never raises for a failed report (see :class:`JobResult`)."""
    import nbformat

    t0 = time.monotonic()
    Path(job.staging_root).mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{job.slug}-", dir=job.staging_root))
    out_nb = staging / "report.ipynb"
    params = {**job.parameters, "output_dir": str(staging)}
    os.environ.update(job.environment)  # the kernel (started from this process) inherits it
    result = JobResult(kind=job.kind, key=job.key, slug=job.slug, ok=False, seconds=0.0)
    try:
        attempts = 0
        while True:
            attempts += 1
            result.attempts = attempts
            deadline = time.monotonic() + job.timeout
            try:
                _execute(job, out_nb, params, deadline)
                break
            except Exception as exc:  # noqa: BLE001 - every failure is reported, none raised
                nb = nbformat.read(out_nb, as_version=4) if out_nb.exists() else None
                started = nb is not None and any(s != "pending" for s in _statuses(nb))
                if not started and attempts <= job.retries:
                    continue  # the kernel did not start: try again with a fresh kernel
                return _failed(job, result, exc, nb, out_nb, t0)
        nb = nbformat.read(out_nb, as_version=4)
        summary_path = staging / "summary.json"
        if not summary_path.exists():
            result.message = "The notebook ran but wrote no summary.json (its last cell)."
            return _keep_failed(job, result, out_nb, t0)
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
        summary["build"] = {**summary.get("build", {}), **job.build}
        from qiwidgets.reports.export import html_to_pdf, notebook_to_html

        html_path = staging / "report.html"
        html_path.write_text(notebook_to_html(nb, job.title), encoding="utf-8")
        final = Path(job.final_dir)
        final.mkdir(parents=True, exist_ok=True)
        files = {
            "notebook": final / f"{job.slug}.ipynb",
            "html": final / f"{job.slug}.html",
        }
        if job.pdf:
            pdf_path = staging / "report.pdf"
            html_to_pdf(html_path, pdf_path)
            files["pdf"] = final / f"{job.slug}.pdf"
        if job.pptx:
            _write_deck(job, staging / "report.pptx")
            files["pptx"] = final / f"{job.slug}.pptx"
        summary["files"] = {k: v.name for k, v in files.items()}
        (staging / "summary.final.json").write_text(
            json.dumps(summary, indent=1, ensure_ascii=False, sort_keys=True), encoding="utf-8"
        )
        # a rebuild first invalidates the old summary, so a crash half-way leaves no stale
        # "built" marker next to new files
        json_path = final / f"{job.slug}.json"
        json_path.unlink(missing_ok=True)
        # a deck of an earlier build would disagree with the report rebuilt beside it
        (final / f"{job.slug}.pptx").unlink(missing_ok=True)
        os.replace(out_nb, files["notebook"])
        os.replace(html_path, files["html"])
        if job.pdf:
            os.replace(staging / "report.pdf", files["pdf"])
        if job.pptx:
            os.replace(staging / "report.pptx", files["pptx"])
        os.replace(staging / "summary.final.json", json_path)
        files["summary"] = json_path
        (Path(job.failed_dir) / f"{job.slug}.ipynb").unlink(missing_ok=True)
        result.ok = True
        result.files = {k: str(v) for k, v in files.items()}
        result.seconds = time.monotonic() - t0
        return result
    except Exception as exc:  # noqa: BLE001 - export or file errors: report them, keep going
        result.ename = type(exc).__name__
        result.evalue = str(exc)
        result.message = "".join(traceback.format_exception_only(exc)).strip()
        if out_nb.exists():
            return _keep_failed(job, result, out_nb, t0)
        return _done(result, t0, job)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _write_deck(job: Job, path: Path) -> None:
    """The report's PowerPoint deck (:mod:`qiwidgets.reports.slides`), drawn from the report
    built by the same function, from the same store, as the notebook just did: the verdicts on
    the slides are the core's, as in the HTML."""
    from qiwidgets.reports import slides

    p = job.parameters
    if job.kind == "team":
        from qiwidgets.reports import team

        slides.write_team_deck(team.build(p["database_url"], p["team"], p["month"]), path)
    else:
        from qiwidgets.reports import programme

        report = programme.build(p["database_url"], p["month"], p["summaries_dir"],
                                 p.get("programme") or None, p.get("batch_teams") or None)  # fmt: skip
        slides.write_programme_deck(report, path)


def _failed(job: Job, result: JobResult, exc: BaseException, nb: Any, out_nb: Path, t0: float):
    # papermill puts an error banner at the top of the saved notebook, so its cell_index is
    # one off there: the failing cell is looked up in the notebook that is kept
    cell, count = (None, None) if nb is None else _failing_cell(nb)
    result.cell = cell if cell is not None else getattr(exc, "cell_index", None)
    result.execution_count = count if count is not None else getattr(exc, "exec_count", None)
    result.ename = getattr(exc, "ename", None) or type(exc).__name__
    evalue = getattr(exc, "evalue", None)
    if evalue is None:
        evalue = str(exc).strip().splitlines()[-1] if str(exc).strip() else ""
    result.evalue = evalue
    if type(exc).__name__ == "CellTimeoutError":
        result.message = f"The report did not finish within {job.timeout:g} s."
    return _keep_failed(job, result, out_nb, t0) if out_nb.exists() else _done(result, t0, job)


def _keep_failed(job: Job, result: JobResult, out_nb: Path, t0: float) -> JobResult:
    failed = Path(job.failed_dir)
    failed.mkdir(parents=True, exist_ok=True)
    target = failed / f"{job.slug}.ipynb"
    os.replace(out_nb, target)
    result.failed_notebook = str(target)
    return _done(result, t0, job)


def _done(result: JobResult, t0: float, job: Job | None = None) -> JobResult:
    result.ok = False
    if job is not None:  # an older report of this team must not pass for this run's
        for ext in ("json", "html", "ipynb", "pdf", "pptx"):
            (Path(job.final_dir) / f"{job.slug}.{ext}").unlink(missing_ok=True)
    result.seconds = time.monotonic() - t0
    return result
