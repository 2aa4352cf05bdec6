"""Several kernels writing at once: every write present, stale edits refused, never lost.

8 processes x 200 observation writes (``record_observation``, through the store's one
observation write path, ``observation_writes.write_observations``), plus read-modify-write edits
of one shared reflection, all at once, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import traceback

from qiwidgets.errors import StaleEditError
from qiwidgets.store import repo
from qiwidgets.store.db import dispose_engines

WORKERS = 8
WRITES_PER_WORKER = 200
EDITS_PER_WORKER = 15
FIRST_PERIOD = dt.date(1990, 1, 1)


def _period(worker: int, i: int) -> dt.date:
    return FIRST_PERIOD + dt.timedelta(days=worker * 1000 + i)


def _worker(url, worker, ids, barrier, results) -> None:
    try:
        barrier.wait()
        for i in range(WRITES_PER_WORKER):
            repo.record_observation(url, {"team_id": ids["team"], "measure_id": ids["measure"],
                                          "period": _period(worker, i), "numerator": i,
                                          "denominator": 1000 + worker})  # fmt: skip
        refused = 0
        for k in range(EDITS_PER_WORKER):
            while True:  # what a user does: reload, apply the change again
                current = repo.get_reflection(url, ids["reflection"])
                story = (current.story or "") + f"[w{worker}-{k}]"
                try:
                    repo.save_reflection(url, {"story": story}, id=current.id,
                                         version=current.version)  # fmt: skip
                    break
                except StaleEditError:
                    refused += 1
        results.put((worker, "ok", refused))
    except BaseException:  # noqa: BLE001 - reported to the parent, which fails the test
        results.put((worker, "error", traceback.format_exc()))
    finally:
        dispose_engines()


def test_many_processes_writing_at_once(store_url):
    p = repo.save_programme(store_url, {"code": "FALLS", "name": "Falls"})
    team = repo.save_team(store_url, {"programme_id": p.id, "code": "W7", "name": "Ward 7"})
    measure = repo.save_measure(store_url, {"programme_id": p.id, "code": "F", "name": "Falls",
                                            "measure_type": "outcome",
                                            "numerator_definition": "falls",
                                            "denominator_definition": "bed days"})  # fmt: skip
    reflection = repo.save_reflection(store_url, {"team_id": team.id, "date": "2026-10-03"})
    ids = {"team": team.id, "measure": measure.id, "reflection": reflection.id}
    dispose_engines()  # no connection may cross the fork

    ctx = multiprocessing.get_context("fork")
    barrier, results = ctx.Barrier(WORKERS), ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(store_url, w, ids, barrier, results))
             for w in range(WORKERS)]  # fmt: skip
    for proc in procs:
        proc.start()
    outcomes = [results.get(timeout=300) for _ in procs]
    for proc in procs:
        proc.join(timeout=60)
    errors = [o[2] for o in outcomes if o[1] != "ok"]
    assert not errors, "\n".join(errors)

    # every write is present, with its own value
    data = repo.observations(store_url, "W7")
    assert len(data) == WORKERS * WRITES_PER_WORKER
    expected = {(_period(w, i), float(i), float(1000 + w))
                for w in range(WORKERS) for i in range(WRITES_PER_WORKER)}  # fmt: skip
    got = set(zip(data["period"].dt.date, data["numerator"], data["denominator"], strict=True))
    assert got == expected
    assert set(data["version"]) == {1}

    # no edit was lost: each worker's every change is in the text exactly once, and the
    # version counts every successful save
    final = repo.get_reflection(store_url, reflection.id)
    for w in range(WORKERS):
        for k in range(EDITS_PER_WORKER):
            assert final.story.count(f"[w{w}-{k}]") == 1, (w, k)
    assert final.version == 1 + WORKERS * EDITS_PER_WORKER
    # refused edits were refused, not applied: the text holds exactly the successful saves
    assert len(final.story) == sum(len(f"[w{w}-{k}]") for w in range(WORKERS)
                                   for k in range(EDITS_PER_WORKER))  # fmt: skip


def test_two_users_editing_the_same_record_one_is_refused(store_url):
    """The deterministic case: both read version 1; the first save wins, the second is refused."""
    p = repo.save_programme(store_url, {"code": "FALLS", "name": "Falls"})
    team = repo.save_team(store_url, {"programme_id": p.id, "code": "W7", "name": "Ward 7"})
    score = repo.save_progress_score(store_url, {"team_id": team.id, "month": "2026-10",
                                                 "team_score": 2.0})  # fmt: skip
    alice = repo.list_progress_scores(store_url, "W7")[0]
    bob = repo.list_progress_scores(store_url, "W7")[0]
    repo.save_progress_score(store_url, {"lead_score": 2.5}, id=alice.id, version=alice.version)
    try:
        repo.save_progress_score(store_url, {"lead_score": 4.0}, id=bob.id, version=bob.version)
    except StaleEditError as exc:
        assert "progress score (Ward 7, 2026-10)" in str(exc)
    else:
        raise AssertionError("the second edit was not refused")
    assert repo.list_progress_scores(store_url, "W7")[0].lead_score == 2.5
    assert score.id == alice.id
