"""A process killed with SIGKILL in the middle of a bulk write, many times.

Each batch is one transaction of new observations plus a correction of a shared "counter"
observation (with its edit history), written by the store's one observation write path
(``repo.upsert_observations`` -> ``observation_writes.write_observations``, as imports, the data
entry grid and ``record_observation`` write). After every kill the SQLite file passes
``PRAGMA integrity_check``, every batch is entirely present or entirely absent, every batch the
writer saw committed is there, and the counter's value and history match the batches present.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import random
import signal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from qiwidgets.store import models as m
from qiwidgets.store import repo
from qiwidgets.store.db import dispose_engines, get_engine, init_db

KILLS = 20
BATCH_ROWS = 200
COUNTER_PERIOD = dt.date(1900, 1, 1)
#: A writer never gets this far before it is killed; the bound keeps the dates in range.
MAX_BATCHES = 40


def _batch_rows(ids: dict, run: int, k: int) -> list[dict]:
    start = dt.date(2000, 1, 1) + dt.timedelta(days=(run * MAX_BATCHES + k) * BATCH_ROWS)
    rows = [{"team_id": ids["team"], "measure_id": ids["measure"],
             "period": start + dt.timedelta(days=i), "numerator": float(i),
             "denominator": 100.0} for i in range(BATCH_ROWS)]  # fmt: skip
    rows.append({"team_id": ids["team"], "measure_id": ids["measure"], "period": COUNTER_PERIOD,
                 "numerator": float(run * 1000 + k), "denominator": 1.0})  # fmt: skip
    return rows


def _writer(url: str, ids: dict, run: int, pipe) -> None:
    engine = get_engine(url)
    k = 0
    while k < MAX_BATCHES:
        session = Session(bind=engine.execution_options(qi_write=True))
        repo.upsert_observations(session, _batch_rows(ids, run, k), source=f"r{run}-b{k}")
        session.flush()
        pipe.send(("written", k))  # in the database file's WAL, not yet committed
        session.commit()
        pipe.send(("committed", k))
        session.close()
        k += 1
    pipe.send(("error", f"the writer reached {MAX_BATCHES} batches without being killed"))


def test_sigkill_during_bulk_writes_never_leaves_half_a_batch(tmp_path):
    url = f"sqlite:///{tmp_path / 'crash.db'}"
    init_db(url)
    p = repo.save_programme(url, {"code": "FALLS", "name": "Falls"})
    team = repo.save_team(url, {"programme_id": p.id, "code": "W7", "name": "Ward 7"})
    measure = repo.save_measure(url, {"programme_id": p.id, "code": "F", "name": "Falls",
                                      "measure_type": "outcome",
                                      "numerator_definition": "falls"})  # fmt: skip
    ids = {"team": team.id, "measure": measure.id}
    dispose_engines()
    ctx = multiprocessing.get_context("fork")
    rng = random.Random(20261122)
    committed: set[str] = set()
    mid_transaction_kills = 0
    for run in range(KILLS):
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_writer, args=(url, ids, run, child))
        proc.start()
        child.close()  # so that recv() fails instead of hanging if the writer dies
        if run % 2 == 0:
            # kill while a batch is written but its transaction is still open
            target = rng.randint(0, 3)
            while True:
                event, k = parent.recv()
                assert event != "error", k
                if event == "committed":
                    committed.add(f"r{run}-b{k}")
                if event == "written" and k == target:
                    break
            os.kill(proc.pid, signal.SIGKILL)
            mid_transaction_kills += 1
        else:
            # kill at an arbitrary moment while batches keep coming
            for _ in range(rng.randint(1, 6)):
                event, k = parent.recv()
                if event == "committed":
                    committed.add(f"r{run}-b{k}")
            os.kill(proc.pid, signal.SIGKILL)
        proc.join()
        assert proc.exitcode == -signal.SIGKILL
        while parent.poll():  # messages sent before the kill; then end of file
            try:
                event, k = parent.recv()
            except EOFError:
                break
            if event == "committed":
                committed.add(f"r{run}-b{k}")
        _check(url, committed)
    assert mid_transaction_kills == KILLS // 2


def _check(url: str, committed: set[str]) -> None:
    engine = get_engine(url)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
        assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
    with Session(engine) as session:
        counts = dict(
            session.execute(
                select(m.Observation.source, func.count())
                .where(m.Observation.period != COUNTER_PERIOD)
                .group_by(m.Observation.source)
            ).all()
        )
        # every batch is whole, and every batch the writer saw committed is there
        assert all(n == BATCH_ROWS for n in counts.values()), counts
        assert committed <= set(counts)
        # the counter holds the last batch present, and one history entry per later batch
        counter = session.scalar(
            select(m.Observation).where(m.Observation.period == COUNTER_PERIOD)
        )
        batches = sorted(counts, key=lambda s: tuple(int(x[1:]) for x in s.split("-")))
        last_run, last_k = (int(x[1:]) for x in batches[-1].split("-"))
        assert counter.numerator == float(last_run * 1000 + last_k)
        edits = session.scalar(
            select(func.count()).where(m.ObservationEdit.observation_id == counter.id)
        )
        changes = len(batches) - 1  # the first batch inserted the counter
        assert edits == changes and counter.version == 1 + changes
    dispose_engines()
