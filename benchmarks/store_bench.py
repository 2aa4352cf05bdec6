"""Benchmark of the learning-system store (run by hand, not a test).

    .venv/bin/python benchmarks/store_bench.py [--rows 1000000] [--keep DIR]

1. writes an observations file of ``--rows`` rows (200 teams x 50 measures x 100 months for the
   default million) plus the teams and measures it refers to;
2. imports it into a fresh SQLite file (``qiwidgets import observations``'s code path) and times
   it -- target <= 10 s for a million rows;
3. imports the same file again (nothing changes) and times it;
4. times reading one team's full data (every measure, every month) with
   :func:`qiwidgets.store.repo.observations` -- target <= 50 ms (median of 7 reads).

Prints a table of the figures against the targets. Timings depend on the machine and on what
else it is running; the script prints the CPU count and load average next to them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

IMPORT_TARGET_S = 10.0
READ_TARGET_S = 0.050


def write_files(folder: Path, rows: int, seed: int = 1) -> tuple[Path, Path, Path, str]:
    """Teams, measures and observations files for ``rows`` observations."""
    n_teams, n_measures = 200, 50
    n_months = max(1, -(-rows // (n_teams * n_measures)))
    teams = [f"T{i:03d}" for i in range(n_teams)]
    measures = [f"M{i:02d}" for i in range(n_measures)]
    (folder / "teams.csv").write_text(
        "programme,programme_name,code,name\n"
        + "".join(f"BENCH,Benchmark,{t},Team {t}\n" for t in teams),
        encoding="utf-8",
    )
    (folder / "measures.csv").write_text(
        "programme,code,name,measure_type,numerator_definition,denominator_definition,"
        "chart_type,frequency\n"
        + "".join(f"BENCH,{m},Measure {m},process,done,audited,p,monthly\n" for m in measures),
        encoding="utf-8",
    )
    rng = np.random.default_rng(seed)
    periods = pd.period_range("2010-01", periods=n_months, freq="M").strftime("%Y-%m")
    t = np.repeat(np.arange(n_teams), n_measures * n_months)[:rows]
    m = np.tile(np.repeat(np.arange(n_measures), n_months), n_teams)[:rows]
    p = np.tile(np.arange(n_months), n_teams * n_measures)[:rows]
    denominator = rng.integers(20, 400, rows)
    numerator = rng.binomial(denominator, 0.7)
    frame = pd.DataFrame(
        {
            "team": np.array(teams)[t],
            "measure": np.array(measures)[m],
            "period": np.asarray(periods)[p],
            "numerator": numerator,
            "denominator": denominator,
            "data_quality": "ok",
        }
    )
    path = folder / "observations.csv"
    frame.to_csv(path, index=False)
    return folder / "teams.csv", folder / "measures.csv", path, teams[n_teams // 2]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="observation rows")
    parser.add_argument("--keep", type=Path, help="keep the files and database in this folder")
    args = parser.parse_args(argv)

    from qiwidgets.store import repo
    from qiwidgets.store.db import dispose_engines, init_db
    from qiwidgets.store.imports import import_file

    folder = args.keep or Path(tempfile.mkdtemp(prefix="qiwidgets-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    db_path = folder / "bench.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    url = f"sqlite:///{db_path}"

    t0 = time.perf_counter()
    teams_csv, measures_csv, obs_csv, team = write_files(folder, args.rows)
    write_s = time.perf_counter() - t0
    init_db(url)
    import_file("teams", teams_csv, url)
    import_file("measures", measures_csv, url)

    t0 = time.perf_counter()
    first = import_file("observations", obs_csv, url)
    import_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    second = import_file("observations", obs_csv, url)
    reimport_s = time.perf_counter() - t0

    dispose_engines()
    repo.observations(url, team=team)  # warm the connection and the page cache once
    reads = []
    for _ in range(7):
        t0 = time.perf_counter()
        frame = repo.observations(url, team=team)
        reads.append(time.perf_counter() - t0)
    read_s = statistics.median(reads)

    size_mb = obs_csv.stat().st_size / 1e6
    db_mb = db_path.stat().st_size / 1e6
    load = os.getloadavg()
    print(f"qiwidgets store benchmark: {os.cpu_count()} CPUs, load average "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")  # fmt: skip
    print(f"files and database in {folder}  ({size_mb:.1f} MB CSV, {db_mb:.1f} MB database; "
          f"writing the CSV took {write_s:.1f} s)")  # fmt: skip
    print()
    rows = [
        ("import observations (fresh SQLite)", f"{first.rows:,} rows", import_s, IMPORT_TARGET_S),
        ("import the same file again", f"{second.unchanged:,} unchanged", reimport_s, None),
        ("read one team's full data (median of 7)", f"{len(frame):,} rows", read_s, READ_TARGET_S),
    ]
    print(f"{'what':<42} {'size':>18} {'time':>10} {'target':>10}  verdict")
    for what, size, seconds, target in rows:
        shown = f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"
        if target is None:
            aim, verdict = "-", ""
        else:
            aim = f"{target * 1000:.0f} ms" if target < 1 else f"{target:.0f} s"
            verdict = "met" if seconds <= target else "MISSED"
        print(f"{what:<42} {size:>18} {shown:>10} {aim:>10}  {verdict}")
    assert first.inserted == args.rows and second.unchanged == args.rows
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
