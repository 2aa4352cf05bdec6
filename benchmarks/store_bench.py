"""Benchmark of the learning-system store (run by hand, not a test).

    .venv/bin/python benchmarks/store_bench.py [--rows 1000000] [--keep DIR]

1. writes an observations file of ``--rows`` rows (200 teams x 50 measures x 100 months for the
   default million) plus the teams and measures it refers to;
2. imports it into a fresh SQLite file (``qiwidgets import observations``'s code path) and times
   it -- target <= 10 s for a million rows -- and measures the import's peak memory: the peak
   resident set size above the process's own before the import, target <= 4x the file's size;
3. imports the same file again (nothing changes), timed and measured the same way;
4. imports the same rows written with every cell quoted, as some spreadsheets and R's
   ``write.csv`` write them (read by the csv module rather than pyarrow), into a fresh file;
5. times reading one team's full data (every measure, every month) with
   :func:`qiwidgets.store.repo.observations` -- target <= 50 ms (median of 7 reads).

Each import runs in a child process of its own, which first imports a two-row file (so that the
code it loads is part of its starting memory, not of the import's) and then resets the kernel's
peak-memory counter (Linux: /proc/self/clear_refs); elsewhere the peak is the process's and the
starting memory is not taken off. Prints a table of the figures against the targets. Timings
depend on the machine and on what else it runs; the script prints the CPU count and load average
next to them. The files and database are removed afterwards unless ``--keep`` is given.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

IMPORT_TARGET_S = 10.0
READ_TARGET_S = 0.050
#: An import's peak memory above the process's own, at most this many times the file's size
#: (issue K: a 52.6 MB file peaked at 1.33 GB, 25 times its size).
MEMORY_TARGET_FACTOR = 4.0


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
    frame.to_csv(folder / "observations-quoted.csv", index=False, quoting=csv.QUOTE_ALL)
    return folder / "teams.csv", folder / "measures.csv", path, teams[n_teams // 2]


# --- one import in a child process, with its peak memory -----------------------------------------


def _status_mb(field: str) -> float | None:
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024 / 1e6  # kB (KiB) -> MB
    except OSError:
        pass
    return None


def child(url: str, path: str, warm_folder: str) -> None:
    """Import ``path`` into ``url`` and print time and memory as one JSON line."""
    import resource

    from qiwidgets.store.db import dispose_engines, init_db
    from qiwidgets.store.imports import import_file

    warm = Path(warm_folder)
    warm_url = f"sqlite:///{warm / 'warm.db'}"
    init_db(warm_url)
    import_file("teams", warm / "teams.csv", warm_url)
    import_file("measures", warm / "measures.csv", warm_url)
    for name in ("warm.csv", "warm-quoted.csv"):
        import_file("observations", warm / name, warm_url)
    dispose_engines()
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")  # the peak (VmHWM) starts again from the current size
        before = _status_mb("VmRSS")
    except OSError:
        before = None
    t0 = time.perf_counter()
    result = import_file("observations", path, url)
    seconds = time.perf_counter() - t0
    peak = _status_mb("VmHWM")
    if peak is None:  # not Linux: the process's peak, starting memory included
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6
        peak /= 1024 if sys.platform == "darwin" else 1  # macOS counts bytes, Linux KiB
        before = None
    print(json.dumps({"seconds": seconds, "rows": result.rows, "inserted": result.inserted,
                      "unchanged": result.unchanged, "before_mb": before, "peak_mb": peak}))  # fmt: skip


def measured_import(url: str, path: Path, warm: Path) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", url, str(path), str(warm)],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"the import of {path} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _warm_files(folder: Path, teams_csv: Path, measures_csv: Path) -> Path:
    warm = folder / "warm"
    warm.mkdir(exist_ok=True)
    shutil.copy(teams_csv, warm / "teams.csv")
    shutil.copy(measures_csv, warm / "measures.csv")
    rows = "team,measure,period,numerator,denominator,data_quality\n"
    (warm / "warm.csv").write_text(rows + "T000,M00,2010-01,1,2,ok\n", encoding="utf-8")
    (warm / "warm-quoted.csv").write_text(rows + '"T000","M00","2010-02","1","2","ok"\n', "utf-8")
    return warm


def _fresh(url_path: Path) -> str:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{url_path}{suffix}").unlink(missing_ok=True)
    return f"sqlite:///{url_path}"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        child(*argv[1:4])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="observation rows")
    parser.add_argument("--keep", type=Path, help="keep the files and database in this folder")
    args = parser.parse_args(argv)

    from qiwidgets.store import repo
    from qiwidgets.store.db import dispose_engines, init_db
    from qiwidgets.store.imports import import_file

    folder = args.keep or Path(tempfile.mkdtemp(prefix="qiwidgets-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        t0 = time.perf_counter()
        teams_csv, measures_csv, obs_csv, team = write_files(folder, args.rows)
        write_s = time.perf_counter() - t0
        warm = _warm_files(folder, teams_csv, measures_csv)
        urls = {}
        for name in ("bench.db", "quoted.db"):
            urls[name] = _fresh(folder / name)
            init_db(urls[name])
            import_file("teams", teams_csv, urls[name])
            import_file("measures", measures_csv, urls[name])
        dispose_engines()
        url = urls["bench.db"]
        first = measured_import(url, obs_csv, warm)
        second = measured_import(url, obs_csv, warm)
        quoted = measured_import(urls["quoted.db"], folder / "observations-quoted.csv", warm)

        repo.observations(url, team=team)  # warm the connection and the page cache once
        reads = []
        for _ in range(7):
            t0 = time.perf_counter()
            frame = repo.observations(url, team=team)
            reads.append(time.perf_counter() - t0)
        read_s = statistics.median(reads)
        dispose_engines()

        size = obs_csv.stat().st_size
        quoted_size = (folder / "observations-quoted.csv").stat().st_size
        db_mb = (folder / "bench.db").stat().st_size / 1e6
        load = os.getloadavg()
        print(f"qiwidgets store benchmark: {os.cpu_count()} CPUs, load average "
              f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")  # fmt: skip
        where = folder if args.keep else "a temporary folder (removed afterwards)"
        print(f"files and database in {where}  ({size / 1e6:.1f} MB CSV, {db_mb:.1f} MB database; "
              f"writing the CSV took {write_s:.1f} s)")  # fmt: skip
        print("memory: the peak resident set size of the import above the process's own before it")
        print()
        rows = [
            ("import observations (fresh SQLite)", f"{first['rows']:,} rows", first, size,
             IMPORT_TARGET_S),
            ("import the same file again", f"{second['unchanged']:,} unchanged", second, size,
             None),
            ("import, every cell quoted (csv module)", f"{quoted['rows']:,} rows", quoted,
             quoted_size, IMPORT_TARGET_S),
        ]  # fmt: skip
        header = (f"{'what':<42} {'size':>18} {'time':>9} {'target':>7}  {'memory':>16} "
                  f"{'target':>8}  verdict")  # fmt: skip
        print(header)
        for what, label, result, file_size, target in rows:
            memory, memory_target = _memory(result, file_size)
            verdicts = []
            if target is not None:
                verdicts.append("time met" if result["seconds"] <= target else "time MISSED")
            if memory_target is not None:
                met = result["peak_mb"] - result["before_mb"] <= memory_target
                verdicts.append("memory met" if met else "memory MISSED")
            aim = "-" if target is None else f"{target:.0f} s"
            print(f"{what:<42} {label:>18} {result['seconds']:>7.2f} s {aim:>7}  {memory:>16} "
                  f"{memory_target or 0:>5.0f} MB  {', '.join(verdicts)}")  # fmt: skip
        shown = f"{read_s * 1000:.1f} ms"
        verdict = "time met" if read_s <= READ_TARGET_S else "time MISSED"
        what = "read one team's full data (median of 7)"
        print(f"{what:<42} {f'{len(frame):,} rows':>18} "
              f"{shown:>9} {READ_TARGET_S * 1000:>4.0f} ms  {'':>16} {'':>8}  {verdict}")  # fmt: skip
        assert first["inserted"] == args.rows and second["unchanged"] == args.rows
        assert quoted["inserted"] == args.rows
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


def _memory(result: dict, file_size: int) -> tuple[str, float | None]:
    """The import's memory as shown, and its target in MB (None when it cannot be measured)."""
    if result["before_mb"] is None:
        return f"{result['peak_mb']:.0f} MB peak", None
    grown = result["peak_mb"] - result["before_mb"]
    return f"+{grown:.0f} MB ({grown / (file_size / 1e6):.1f}x)", (
        MEMORY_TARGET_FACTOR * file_size / 1e6
    )


if __name__ == "__main__":
    raise SystemExit(main())
