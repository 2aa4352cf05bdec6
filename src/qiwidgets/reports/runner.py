"""The batch runner behind ``qiwidgets reports``: validate, plan, run in parallel, index.

1. :func:`plan` checks every parameter before any kernel starts (month, database, programme,
   teams, data, notebooks, output folder, Chromium for ``--pdf``, python-pptx for ``--pptx``)
   and raises
   :class:`~qiwidgets.errors.ParameterError` with a plain message.
2. Each team's report is a :class:`~qiwidgets.reports.execute.Job`; a job whose inputs (the
   fingerprint of the team's month in the store, the notebook's hash, the package version) match
   the files already built is skipped unless ``force``.
3. Jobs run in spawned worker processes (``ProcessPoolExecutor``, never fork) or on a Dask
   cluster; one failing team never stops the others.
4. The programme report is built from the team summaries, then ``index.html`` lists every
   report by month and team.

Output layout::

    OUT/index.html
    OUT/2026-10/programme.{html,ipynb,json[,pdf][,pptx]}
    OUT/2026-10/teams/<team>.{html,ipynb,json[,pdf][,pptx]}
    OUT/2026-10/failed/<team>.ipynb      (kept for diagnosis)
    OUT/2026-10/failures.json            (only when something failed)
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qiwidgets import __version__, config
from qiwidgets.errors import ParameterError, QIError
from qiwidgets.reports.execute import Job, JobResult, run_job
from qiwidgets.reports.html import esc, page
from qiwidgets.reports.params import Month, parse_month, slugify

__all__ = ["BatchResult", "Plan", "default_notebook", "plan", "run_plan", "run_reports"]

EXECUTORS = ("local", "dask")
#: Environment variable naming the folder holding the report notebooks.
NOTEBOOKS_ENV = config.env_name("pipelines")
TEAM_NOTEBOOK = "team_report.ipynb"
PROGRAMME_NOTEBOOK = "programme_report.ipynb"
#: ``--month last``: the programme's latest month with data.
LAST_MONTH = "last"
#: Default time allowed for one report, in seconds.
DEFAULT_TIMEOUT = 300.0


def default_notebook(name: str) -> Path:
    """Where a report notebook lives: ``$QI_PIPELINES``, else the ones shipped with qiwidgets
    (:mod:`qiwidgets.resources`)."""
    env = config.get("pipelines")
    if env:
        return Path(env) / name
    from qiwidgets import resources

    return resources.locate("pipelines") / name


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@dataclass
class Plan:
    """A validated batch: the jobs to run and those already up to date."""

    month: Month
    database_url: str
    out: Path
    programme: Any
    teams: list  # store Team objects, in order
    jobs: list[Job]
    skipped: list[str]  # team codes whose reports are up to date
    not_reported: list[str]  # teams with no data up to the month (their report says so)
    workers: int
    executor: str
    scheduler: str | None
    options: dict = field(default_factory=dict)

    @property
    def month_dir(self) -> Path:
        return self.out / str(self.month)


@dataclass
class BatchResult:
    month: Month
    out: Path
    built: list[JobResult] = field(default_factory=list)
    failed: list[JobResult] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    programme: JobResult | None = None
    programme_skipped: bool = False
    index: Path | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed and (self.programme is None or self.programme.ok)


def _up_to_date(final_dir: Path, slug: str, build: dict, pdf: bool, pptx: bool = False) -> bool:
    summary = final_dir / f"{slug}.json"
    try:
        data = json.loads(summary.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    have = data.get("build", {})
    if any(have.get(k) != v for k, v in build.items()):
        return False
    needed = ["html", "ipynb"] + (["pdf"] if pdf else []) + (["pptx"] if pptx else [])
    return all((final_dir / f"{slug}.{ext}").is_file() for ext in needed)


def plan(
    month: str,
    db: str | None = None,
    out: str | os.PathLike = "reports",
    teams: Sequence[str] | None = None,
    *,
    programme: str | None = None,
    workers: int = 2,
    pdf: bool = False,
    pptx: bool = False,
    force: bool = False,
    executor: str = "local",
    scheduler: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    retries: int = 1,
    team_notebook: str | os.PathLike | None = None,
    programme_notebook: str | os.PathLike | None = None,
    fast_imports: bool = True,
    reuse_kernels: bool = True,
) -> Plan:
    """Check every parameter and work out the jobs; no kernel is started.

    With ``reuse_kernels`` (the default) each worker keeps one kernel from report to report and
    clears its namespace in between (``%reset -f``), so the report modules are imported once per
    worker rather than once per team; ``False`` starts a fresh kernel for every report.

    With ``pptx`` each report is also written as a PowerPoint deck beside its HTML
    (``<team>.pptx``, ``programme.pptx``: :mod:`qiwidgets.reports.slides`); it needs python-pptx
    (``pip install 'qiwidgets[pptx]'``), checked first.
    """
    if pptx:  # before anything else: a batch that cannot write its decks builds nothing
        from qiwidgets.reports.slides import require_pptx

        require_pptx()
    latest = isinstance(month, str) and month.strip().lower() == LAST_MONTH
    m = None if latest else parse_month(month)
    if isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= 256:
        raise ParameterError(f"`workers` must be a whole number from 1 to 256, got {workers!r}.")
    if executor not in EXECUTORS:
        raise ParameterError(f"`executor` must be one of 'local', 'dask', got {executor!r}.")
    if scheduler is not None and executor != "dask":
        raise ParameterError("`scheduler` is only used with `executor='dask'` (--executor dask).")
    if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or timeout <= 0:
        raise ParameterError(f"`timeout` must be a positive number of seconds, got {timeout!r}.")
    nb_team = Path(team_notebook) if team_notebook else default_notebook(TEAM_NOTEBOOK)
    nb_prog = Path(programme_notebook) if programme_notebook else default_notebook(PROGRAMME_NOTEBOOK)
    for nb in (nb_team, nb_prog):
        if not nb.is_file():
            raise ParameterError(
                f"The report notebook {str(nb)!r} does not exist (set {NOTEBOOKS_ENV} to the "
                "folder holding team_report.ipynb and programme_report.ipynb)."
            )
    out_path = Path(out).resolve()
    if out_path.exists() and not out_path.is_dir():
        raise ParameterError(f"`--out` must be a folder, got the file {str(out_path)!r}.")
    if pdf:
        from qiwidgets.reports.export import find_chromium

        if find_chromium() is None:
            raise ParameterError(
                "`--pdf` needs Chromium: install the Debian package `chromium` (or set "
                f"{config.env_name('chromium')} to the browser's path)."
            )
    _check_kernel("python3")

    from qiwidgets.reports.data import fingerprints
    from qiwidgets.store import repo
    from qiwidgets.store.db import resolve_url

    url = resolve_url(db)
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        path = Path(url.removeprefix("sqlite:///"))
        if not path.is_file():
            raise ParameterError(f"The database {str(path)!r} does not exist.")
    prog = repo.get_programme(url, programme)
    all_teams = repo.list_teams(url, prog.id)
    if latest:  # the programme's latest month with data: every report of the batch is for it
        m = _latest_month(url, [t.id for t in all_teams], prog.name)
    by_code = {t.code: t for t in all_teams}
    if teams:
        unknown = [t for t in teams if t not in by_code]
        if unknown:
            shown = ", ".join(repr(t) for t in unknown[:5])
            known = ", ".join(sorted(by_code)[:12]) + (", ..." if len(by_code) > 12 else "")
            raise ParameterError(
                f"Unknown team{'s' if len(unknown) > 1 else ''} {shown} in {prog.name}; "
                f"teams are: {known}."
            )
        chosen = [by_code[t] for t in dict.fromkeys(teams)]
    else:
        chosen = list(all_teams)
    if not chosen:
        raise ParameterError(f"{prog.name} has no teams yet: there is nothing to report.")
    # a team without data yet gets its report too: it says what to enter (a new team is a
    # normal team); the count is only told to whoever runs the batch
    counts = _observation_counts(url, [t.id for t in chosen], m)
    empty = [t for t in chosen if counts.get(t.id, 0) == 0]

    prints = fingerprints(url, [t.id for t in chosen], m)
    nb_hash = file_sha256(nb_team)
    month_dir = out_path / str(m)
    teams_dir, failed_dir = month_dir / "teams", month_dir / "failed"
    staging = out_path / ".staging"
    jobs, skipped = [], []
    slugs: set[str] = set()
    for t in chosen:
        slug = slugify(t.code)
        while slug in slugs:  # two codes that differ only in dropped characters
            slug = slugify(f"{t.code}-{t.id}")
        slugs.add(slug)
        build = {
            "fingerprint": prints[t.id],
            "notebook_sha256": nb_hash,
            "qiwidgets": __version__,
            "pdf": bool(pdf),
        }
        if not force and _up_to_date(teams_dir, slug, build, pdf, pptx):
            skipped.append(t.code)
            continue
        jobs.append(
            Job(
                kind="team", key=t.code, slug=slug,
                title=f"{t.name}: learning report {m.label()}", notebook=str(nb_team),
                parameters={"team": t.code, "month": str(m), "database_url": _shown(url)},
                environment=_secret_environment(url),
                final_dir=str(teams_dir), failed_dir=str(failed_dir), staging_root=str(staging),
                build=build, timeout=float(timeout), retries=int(retries), pdf=bool(pdf),
                pptx=bool(pptx), fast_imports=fast_imports, reuse_kernel=bool(reuse_kernels),
            )
        )  # fmt: skip
    return Plan(
        month=m, database_url=url, out=out_path, programme=prog, teams=chosen, jobs=jobs,
        skipped=skipped, not_reported=[t.code for t in empty], workers=workers,
        executor=executor, scheduler=scheduler,
        options={"pdf": bool(pdf), "pptx": bool(pptx), "force": bool(force), "timeout": float(timeout),
                 "retries": int(retries), "programme_notebook": str(nb_prog),
                 "fast_imports": fast_imports, "reuse_kernels": bool(reuse_kernels)},
    )  # fmt: skip


def _check_kernel(name: str) -> None:
    """The kernel the reports run on must exist (papermill would fail in every worker)."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec(name)
    except NoSuchKernel:
        raise ParameterError(
            f"No Jupyter kernel named {name!r}: run `{sys.executable} -m ipykernel install "
            "--sys-prefix`."
        ) from None


def _latest_month(url: str, team_ids: list[int], programme: str) -> Month:
    """The latest month any of the teams has an observation for (``--month last``)."""
    from sqlalchemy import func, select

    from qiwidgets.store import models as mm
    from qiwidgets.store.db import session_scope

    with session_scope(url, write=False) as session:
        latest = session.scalar(
            select(func.max(mm.Observation.period)).where(mm.Observation.team_id.in_(team_ids))
        )
    if latest is None:
        raise ParameterError(
            f"`--month last` is the latest month with data, but {programme} has no data yet: "
            "give the month as YYYY-MM."
        )
    return parse_month(latest)


def _observation_counts(url: str, team_ids: list[int], m: Month) -> dict[int, int]:
    from sqlalchemy import func, select

    from qiwidgets.store import models as mm
    from qiwidgets.store.db import session_scope

    with session_scope(url, write=False) as session:
        rows = session.execute(
            select(mm.Observation.team_id, func.count())
            .where(mm.Observation.team_id.in_(team_ids), mm.Observation.period <= m.last_day)
            .group_by(mm.Observation.team_id)
        ).all()
    return dict(rows)


# --- running ------------------------------------------------------------------------------------


class _Progress:
    """A rich progress bar: reports done, failed, time left (quiet when disabled)."""

    def __init__(self, total: int, enabled: bool, label: str):
        self.enabled = enabled and total > 0
        self.failed = 0
        if self.enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self.bar = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("done · failed {task.fields[failed]}"), TextColumn("· left"),
                TimeRemainingColumn(), TextColumn("· elapsed"), TimeElapsedColumn(),
                console=Console(stderr=True),
            )  # fmt: skip
            self.bar.start()
            self.task = self.bar.add_task(label, total=total, failed=0)

    def advance(self, ok: bool) -> None:
        if not ok:
            self.failed += 1
        if self.enabled:
            self.bar.update(self.task, advance=1, failed=self.failed)

    def close(self) -> None:
        if self.enabled:
            self.bar.stop()
            self.enabled = False


class _LocalPool:
    """Spawned worker processes (never fork: docs/jupyter-traps.md)."""

    def __init__(self, workers: int):
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        self.pool = ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"))

    def run(self, jobs: list[Job], on_done: Callable[[JobResult], None]) -> None:
        from concurrent.futures import as_completed

        futures = {self.pool.submit(run_job, job): job for job in jobs}
        for fut in as_completed(futures):
            job = futures[fut]
            try:
                res = fut.result()
            except Exception as exc:  # noqa: BLE001 - a worker process died (BrokenProcessPool)
                res = _lost(job, exc, "the worker process building this report stopped")
            on_done(res)

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


class _DaskPool:
    """A Dask cluster: the scheduler at ``scheduler``, else a LocalCluster of processes."""

    def __init__(self, workers: int, scheduler: str | None):
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise ParameterError(
                "`--executor dask` needs dask.distributed: pip install 'qiwidgets[dask]'."
            ) from None
        self.cluster = None
        if scheduler:
            self.client = Client(scheduler, timeout="30s")
        else:
            self.cluster = LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                silence_logs=40,
            )  # fmt: skip
            self.client = Client(self.cluster)

    def run(self, jobs: list[Job], on_done: Callable[[JobResult], None]) -> None:
        from distributed import as_completed

        keys = [f"qiwidgets-report-{j.kind}-{j.slug}-{os.urandom(4).hex()}" for j in jobs]
        futures = self.client.map(run_job, jobs, pure=False, key=keys)
        index = {f.key: j for f, j in zip(futures, jobs, strict=True)}
        for fut in as_completed(futures):
            job = index[fut.key]
            try:
                res = fut.result()
            except Exception as exc:  # noqa: BLE001 - a worker died or the task was lost
                res = _lost(job, exc, "the Dask worker building this report failed")
            on_done(res)

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def _lost(job: Job, exc: BaseException, message: str) -> JobResult:
    return JobResult(kind=job.kind, key=job.key, slug=job.slug, ok=False, seconds=0.0,
                     ename=type(exc).__name__, evalue=str(exc), message=message)  # fmt: skip


def _pool(p: Plan):
    n = max(1, min(p.workers, len(p.jobs) or 1))
    if p.executor == "dask":
        return _DaskPool(n, p.scheduler)
    return _LocalPool(n)


def _programme_job(p: Plan) -> Job | None:
    """The programme report's job (None when no team summary exists or it is up to date)."""
    from qiwidgets.reports.data import fingerprints, programme_fingerprint
    from qiwidgets.store import repo

    teams_dir = p.month_dir / "teams"
    summaries = sorted(teams_dir.glob("*.json")) if teams_dir.is_dir() else []
    if not summaries:
        return None
    h = hashlib.sha256()
    for path in summaries:
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    every_team = repo.list_teams(p.database_url, p.programme.id)
    for tid, fp in sorted(fingerprints(p.database_url, [t.id for t in every_team], p.month).items()):
        h.update(f"{tid}:{fp}".encode())
    h.update(programme_fingerprint(p.database_url, p.programme.id, p.month).encode())
    nb = Path(p.options["programme_notebook"])
    build = {"fingerprint": h.hexdigest(), "notebook_sha256": file_sha256(nb),
             "qiwidgets": __version__, "pdf": p.options["pdf"]}  # fmt: skip
    pptx = p.options.get("pptx", False)
    if not p.options["force"] and _up_to_date(p.month_dir, "programme", build, p.options["pdf"],
                                              pptx):
        return None
    return Job(
        kind="programme", key=p.programme.code, slug="programme",
        title=f"{p.programme.name}: programme learning report {p.month.label()}",
        notebook=str(nb),
        parameters={"programme": p.programme.code, "month": str(p.month),
                    "batch_teams": [t.code for t in p.teams],
                    "database_url": _shown(p.database_url), "summaries_dir": str(teams_dir)},
        environment=_secret_environment(p.database_url),
        final_dir=str(p.month_dir), failed_dir=str(p.month_dir / "failed"),
        staging_root=str(p.out / ".staging"), build=build, timeout=p.options["timeout"],
        retries=p.options["retries"], pdf=p.options["pdf"], pptx=pptx,
        fast_imports=p.options["fast_imports"], reuse_kernel=p.options["reuse_kernels"],
    )  # fmt: skip


def _shown(url: str) -> str:
    """The database URL as a report notebook's parameters show it: its password hidden."""
    from qiwidgets.store.db import redact

    return redact(url)


def _secret_environment(url: str) -> dict[str, str]:
    """What the report kernel needs beyond its parameters: a URL whose password the notebook
    shows hidden goes to the kernel whole, through the environment (never into the notebook)."""
    from qiwidgets.store.db import ENV_VAR

    return {ENV_VAR: url} if _shown(url) != url else {}


def run_plan(p: Plan, *, progress: bool = True) -> BatchResult:
    """Run a validated plan: team reports in parallel, then the programme report, the index."""
    from qiwidgets.reports.team import write_json_atomic

    t0 = time.monotonic()
    result = BatchResult(month=p.month, out=p.out, skipped=list(p.skipped))
    bar = _Progress(len(p.jobs), progress, f"Team reports {p.month}")

    def done(res: JobResult) -> None:
        (result.built if res.ok else result.failed).append(res)
        bar.advance(res.ok)

    pool = None
    try:
        if p.jobs:
            pool = _pool(p)
            pool.run(p.jobs, done)
        bar.close()
        job = _programme_job(p)
        if job is None:
            result.programme_skipped = True
        else:
            pool = pool or _pool(p)
            holder: list[JobResult] = []
            pool.run([job], holder.append)
            result.programme = holder[0]
    finally:
        bar.close()
        if pool is not None:
            pool.close()
    failures = p.month_dir / "failures.json"
    failed = result.failed + ([result.programme] if result.programme and not result.programme.ok
                              else [])  # fmt: skip
    if failed:
        write_json_atomic(failures, [r.to_dict() for r in failed])
    else:
        failures.unlink(missing_ok=True)
    result.index = write_index(p.out)
    result.seconds = time.monotonic() - t0
    return result


def run_reports(month: str, db: str | None = None, out: str | os.PathLike = "reports",
                teams: Sequence[str] | None = None, *, progress: bool = False,
                **options: Any) -> BatchResult:  # fmt: skip
    """Validate, then build the month's reports (see :func:`plan` for the options)."""
    return run_plan(plan(month, db, out, teams, **options), progress=progress)


# --- index --------------------------------------------------------------------------------------


def write_index(out: Path) -> Path:
    """``out/index.html``: every report in ``out``, by month (newest first) and team."""
    from qiwidgets.reports.team import write_json_atomic  # noqa: F401 - same atomic pattern

    months = sorted(
        (d for d in Path(out).iterdir() if d.is_dir() and _is_month(d.name)),
        key=lambda d: d.name, reverse=True,
    )  # fmt: skip
    parts = ["<h1>Learning reports</h1>"]
    if not months:
        parts.append("<p>No reports yet.</p>")
    for d in months:
        parts.append(f"<h2>{esc(parse_month(d.name).label())}</h2>")
        prog = d / "programme.json"
        if prog.is_file() and (d / "programme.html").is_file():
            data = _read_json(prog)
            name = data.get("programme", {}).get("name", "Programme")
            extra = "".join(
                f' · <a href="{esc(d.name)}/programme.{ext}">{label}</a>'
                for ext, label in (("pdf", "PDF"), ("pptx", "slides (PowerPoint)"))
                if (d / f"programme.{ext}").is_file()
            )
            parts.append(
                f'<p><a href="{esc(d.name)}/programme.html">{esc(name)}: programme report</a>'
                f"{extra}</p>"
            )
        rows = []
        for s in sorted((d / "teams").glob("*.json")) if (d / "teams").is_dir() else []:
            data = _read_json(s)
            if not data or not (s.with_suffix(".html")).is_file():
                continue
            team = data.get("team", {})
            links = f'<a href="{esc(d.name)}/teams/{esc(s.stem)}.html">report</a>'
            if s.with_suffix(".pdf").is_file():
                links += f' · <a href="{esc(d.name)}/teams/{esc(s.stem)}.pdf">PDF</a>'
            if s.with_suffix(".pptx").is_file():
                links += f' · <a href="{esc(d.name)}/teams/{esc(s.stem)}.pptx">slides</a>'
            rows.append((team.get("name", s.stem), team.get("code", ""), links))
        rows.sort(key=lambda r: (str(r[0]).casefold(), r[1]))
        if rows:
            body = "".join(
                f"<tr><td>{esc(n)}</td><td>{esc(c)}</td><td>{links}</td></tr>"
                for n, c, links in rows
            )
            parts.append(
                '<table class="qiw"><thead><tr><th>Team</th><th>Code</th><th>Files</th></tr>'
                f"</thead><tbody>{body}</tbody></table>"
            )
        failures = d / "failures.json"
        if failures.is_file():
            items = _read_json(failures) or []
            if items:
                li = "".join(f"<li>{esc(JobResult(**r).describe())}</li>" for r in items)
                parts.append(f"<p>Reports that could not be built:</p><ul>{li}</ul>")
    text = page("Learning reports", "\n".join(parts))
    path = Path(out) / "index.html"
    tmp = path.with_name(f".index-{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path


def _is_month(name: str) -> bool:
    try:
        parse_month(name)
    except QIError:
        return False
    return True


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
