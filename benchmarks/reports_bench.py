"""Benchmark the monthly reports: the floor, seconds per team report, a programme of 200 teams.

    .venv/bin/python benchmarks/reports_bench.py [--teams 200] [--workers 2] [--floor-runs 5]
                                                 [--cli-runs 2]

Prints one table:

* floor: papermill (API) executing an almost empty notebook and exporting it to HTML, per run;
* kernel imports: ``import qiwidgets.reports.team, qiwidgets.charts`` in a fresh interpreter,
  with and without the report kernels' prelude that skips jsonschema's ``rfc3987_syntax``;
* ``--teams`` team reports and the programme report (``--force``), with each ``--workers``
  count: total, seconds per report, and the total against the target
  ``1.3 x (teams x floor / workers)`` (issue D). The programme is the sample's 12 wards copied
  under new team codes (W01-02, W01-03, ...) until it has enough teams;
* the papermill CLI once per team (what the runner replaces), seconds per report, and how many
  times faster the batch is per report (target: at least 2x).

Jupyter's state folders go to a temporary folder. The figures depend on the machine's load:
run it on a quiet machine and read them against ``docs/jupyter-traps.md``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from qiwidgets._imports import PRELUDE

ROOT = Path(__file__).resolve().parents[1]


def _env(tmp: Path) -> None:
    for var in ("JUPYTER_DATA_DIR", "JUPYTER_CONFIG_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR"):
        d = tmp / var.lower()
        d.mkdir(exist_ok=True)
        os.environ[var] = str(d)
    os.environ["JUPYTER_PATH"] = str(Path(sys.prefix) / "share" / "jupyter")


def floor(tmp: Path, runs: int) -> float:
    """Median seconds of papermill running a one-cell notebook plus the HTML export."""
    import nbformat
    import papermill as pm

    from qiwidgets.reports.export import notebook_to_html

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    params = nbformat.v4.new_code_cell('x = 1')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell("from IPython.display import HTML, display\n"
                                                  "display(HTML('<p>empty</p>'))")]
    src = tmp / "empty.ipynb"
    nbformat.write(nb, src)
    times = []
    for i in range(runs + 1):  # the first run warms up this process (imports, templates)
        t = time.perf_counter()
        out = tmp / f"empty-{i}.ipynb"
        pm.execute_notebook(str(src), str(out), parameters={"x": i}, kernel_name="python3",
                            progress_bar=False, request_save_on_cell_execute=False,
                            extra_arguments=["--IPKernelApp.log_level=CRITICAL"])  # fmt: skip
        notebook_to_html(nbformat.read(out, as_version=4), "empty")
        if i:
            times.append(time.perf_counter() - t)
    return statistics.median(times)


def import_cost(prelude: bool, runs: int = 3) -> float:
    code = (PRELUDE + "; " if prelude else "") + (
        "import qiwidgets.reports.team, qiwidgets.charts"
    )
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


#: Issue D's target: the whole batch within 1.3 x (teams x floor / workers).
TARGET_FACTOR = 1.3
#: ... and at least this many times faster per report than the papermill CLI once per team.
CLI_SPEEDUP = 2.0
SAMPLE_TEAMS = 12


def scaled_sample(folder: Path, teams: int) -> Path:
    """The sample programme's files with its wards copied under new codes up to ``teams``."""
    import csv

    from qiwidgets.store.sample import DEFAULT_DIR

    def read(path: Path) -> tuple[list[str], list[dict]]:
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            return list(reader.fieldnames or []), list(reader)

    def code(original: str, copy: int) -> str:
        return original if copy == 0 else f"{original}-{copy + 1:02d}"

    src = Path(DEFAULT_DIR)
    copies = -(-teams // SAMPLE_TEAMS)
    _, sample_teams = read(src / "teams.csv")
    kept = [(k, t) for k in range(copies) for t in sample_teams][:teams]
    folder.mkdir(parents=True, exist_ok=True)
    for path in sorted(src.glob("*.csv")):
        header, rows = read(path)
        if path.name == "teams.csv":
            out = [dict(t, code=code(t["code"], k), name=t["name"] + (f" ({k + 1})" if k else ""))
                   for k, t in kept]  # fmt: skip
        elif "team" in header:
            wanted = {(k, t["code"]) for k, t in kept}
            out = [r for r in rows if not r["team"]]  # programme-wide rows, once
            out += [dict(r, team=code(r["team"], k)) for k in range(copies) for r in rows
                    if r["team"] and (k, r["team"]) in wanted]  # fmt: skip
        else:
            out = rows
        with (folder / path.name).open("w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=header)
            w.writeheader()
            w.writerows(out)
    return folder


def batch(db: str, out: Path, workers: int) -> tuple[float, int, int]:
    from qiwidgets.reports import runner

    t = time.perf_counter()
    res = runner.run_reports("2026-10", db, out, workers=workers, force=True, timeout=600)
    built = len(res.built) + (1 if res.programme is not None and res.programme.ok else 0)
    return time.perf_counter() - t, built, len(res.failed)


def cli_per_team(db: str, tmp: Path, runs: int) -> float:
    nb = ROOT / "pipelines" / "team_report.ipynb"
    papermill = Path(sys.executable).with_name("papermill")
    times = []
    for i in range(runs):
        team = f"W{i + 1:02d}"
        t = time.perf_counter()
        subprocess.run(
            [str(papermill), str(nb), str(tmp / f"cli-{team}.ipynb"), "-p", "team", team,
             "-p", "month", "2026-10", "-p", "database_url", f"sqlite:///{db}",
             "-p", "output_dir", str(tmp), "-k", "python3", "--no-progress-bar"],
            check=True, capture_output=True,
        )  # fmt: skip
        subprocess.run(
            [sys.executable, "-c", ("import sys, nbformat; from qiwidgets.reports.export import "
             "notebook_to_html; notebook_to_html(nbformat.read(sys.argv[1], as_version=4), 't')"),
             str(tmp / f"cli-{team}.ipynb")],
            check=True,
        )  # fmt: skip
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--teams", type=int, default=200, help="teams in the programme (default 200)")
    ap.add_argument("--workers", default="2", help="worker counts to try, e.g. 1,2 (default 2)")
    ap.add_argument("--floor-runs", type=int, default=5)
    ap.add_argument("--cli-runs", type=int, default=2)
    args = ap.parse_args()
    from qiwidgets.store.db import dispose_engines, init_db
    from qiwidgets.store.sample import load_sample

    rows = []
    with tempfile.TemporaryDirectory(prefix="qiw-bench-") as d:
        tmp = Path(d)
        _env(tmp)
        db = str(tmp / "programme.db")
        init_db(db)
        load_sample(db, folder=scaled_sample(tmp / "sample", args.teams))
        dispose_engines()
        fl = floor(tmp, args.floor_runs)
        rows.append(("floor: papermill empty notebook + HTML (API)", f"{fl:.2f} s", ""))
        rows.append(("kernel imports, plain", f"{import_cost(False):.2f} s", ""))
        rows.append(("kernel imports, without rfc3987_syntax", f"{import_cost(True):.2f} s", ""))
        per_report = None
        for w in (int(x) for x in args.workers.split(",")):
            total, built, failed = batch(db, tmp / f"out-{w}", w)
            target = TARGET_FACTOR * args.teams * fl / w
            per_report = total / max(built, 1)
            rows.append((f"{args.teams} team reports + programme, {w} worker(s)", f"{total:.1f} s",
                         (f"target {target:.0f} s: {'met' if total <= target else 'MISSED'} "
                          f"(x{total / (args.teams * fl / w):.2f} of teams x floor / workers); "
                          f"{per_report:.2f} s per report; built {built}, failed {failed}")))  # fmt: skip
        if args.cli_runs:
            c = cli_per_team(db, tmp, args.cli_runs)
            note = ""
            if per_report is not None:
                speedup = c / per_report
                note = (f"batch is {speedup:.1f}x faster per report (target {CLI_SPEEDUP:g}x: "
                        f"{'met' if speedup >= CLI_SPEEDUP else 'MISSED'})")
            rows.append(("papermill CLI once per team (+ HTML)", f"{c:.2f} s/report", note))
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'time':>14}  notes")
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>14}  {note}")
    try:
        load = os.getloadavg()[0]
        print(f"(load average at the end: {load:.1f} on {os.cpu_count()} cores)")
    except OSError:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
