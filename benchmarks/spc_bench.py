"""SPC engine benchmark: run by hand (``make bench``), prints figures against the targets.

Targets on a 2-core machine (issue A): <= 1 s for 20,000 series x 60 points (i, p, u and the
Making Data Count XmR with all rules), <= 1 ms per single series.

    .venv/bin/python benchmarks/spc_bench.py [--series 20000] [--points 60] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np
import pandas as pd

from qiwidgets import spc

BATCH_TARGET_S = 1.0
SINGLE_TARGET_MS = 1.0


def make_batch(series: int, points: int, seed: int = 1) -> pd.DataFrame:
    """``series`` series (team x measure) of ``points`` months each."""
    rng = np.random.default_rng(seed)
    measures = 10
    teams = max(series // measures, 1)
    team = np.repeat(np.array([f"T{i:05d}" for i in range(teams)]), measures * points)
    measure = np.tile(np.repeat(np.array([f"M{j}" for j in range(measures)]), points), teams)
    month = np.tile(pd.date_range("2021-01-01", periods=points, freq="MS").to_numpy(), teams * measures)
    n = rng.integers(50, 500, size=team.size).astype(float)
    level = rng.uniform(0.05, 0.4, size=teams * measures).repeat(points)
    y = rng.binomial(n.astype(int), level).astype(float)
    return pd.DataFrame({"team": team, "measure": measure, "month": month, "y": y, "n": n})


def timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--series", type=int, default=20_000)
    ap.add_argument("--points", type=int, default=60)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    warnings.simplefilter("ignore")

    batch = make_batch(args.series, args.points)
    single = batch[(batch["team"] == batch["team"].iloc[0]) & (batch["measure"] == "M0")].copy()
    facets = ["team", "measure"]
    cases = {
        "i chart": lambda d, f: spc.control_chart(d, x="month", y="y", chart="i", facets=f),
        "p chart": lambda d, f: spc.control_chart(d, x="month", y="y", n="n", chart="p", facets=f),
        "u chart": lambda d, f: spc.control_chart(d, x="month", y="y", n="n", chart="u", facets=f),
    }
    cases["MDC XmR (all rules)"] = lambda d, f: spc.mdc_chart(
        d, x="month", y="y", improvement="increase", facets=f
    )

    def with_tables(fn, d, f):
        r = fn(d, f)
        return r.points, r.summary, (r.reading if f is None else None)

    rows = []
    for name, fn in cases.items():
        tb = timed(lambda fn=fn: fn(batch, facets), args.repeat)
        tbt = timed(lambda fn=fn: with_tables(fn, batch, facets)[:2], args.repeat)
        fn(single, None)  # warm
        runs = max(args.repeat * 20, 50)
        ts = timed(lambda fn=fn: fn(single, None), runs)
        tt = timed(lambda fn=fn: with_tables(fn, single, None), runs)
        rows.append((name, min(tb), min(tbt), statistics.median(ts) * 1000,
                     statistics.median(tt) * 1000))  # fmt: skip

    print(f"\nSPC engine: {args.series:,} series x {args.points} points ({len(batch):,} rows)")
    print(f"{'chart':<22}{'batch s':>9}{'target':>8}{'ok':>5}{'+ tables s':>12}"
          f"{'single ms':>11}{'target':>8}{'ok':>5}{'+ tables ms':>13}")  # fmt: skip
    for name, b, bt, s, t in rows:
        print(
            f"{name:<22}{b:>9.3f}{BATCH_TARGET_S:>8.1f}{'yes' if b <= BATCH_TARGET_S else 'NO':>5}"
            f"{bt:>12.3f}{s:>11.3f}{SINGLE_TARGET_MS:>8.1f}"
            f"{'yes' if s <= SINGLE_TARGET_MS else 'NO':>5}{t:>13.3f}"
        )
    print("(batch: best of --repeat runs; single: median over repeated calls on one series. A "
          "result's .points\n and .summary tables are built when first read: '+ tables' is the "
          "call plus reading them\n (and, for the single series, its .reading).)")  # fmt: skip


if __name__ == "__main__":
    main()
