"""Export a whole programme to a folder and import it back: identical data."""

from __future__ import annotations

import datetime as dt
import filecmp
import json

import pytest
from test_store_model import build_programme

from qiwidgets.errors import StoreError
from qiwidgets.store import export, repo
from qiwidgets.store.db import dispose_engines, run_in_transaction


def _enrich(url: str, rec: dict) -> None:
    """Values that are easy to get wrong in a round trip: edits, empty text, odd floats."""
    # floats no count would hold (the record rules refuse them), written past the rules by
    # the store's low-level write path, as a database may hold them from an older version
    row = {"team_id": rec["w7"].id, "measure_id": rec["outcome"].id,
           "period": dt.date(2026, 1, 1), "numerator": 0.1 + 0.2, "denominator": 1e-300}
    run_in_transaction(lambda s: repo.upsert_observations(s, [row], source="fix; \"quoted\", comma"),
                       url)  # fmt: skip
    repo.save_reflection(url, {"team_id": rec["w9"].id, "date": "2026-11-01",
                               "what_happened": "Line one\nline two, with \"quotes\" é ✓",
                               "story": "\\N is not null", "authors": "\\leading backslash"})  # fmt: skip
    repo.save_reflection(url, {"story": "edited"}, id=rec["reflection"].id, version=1)
    # A child created before its parent is re-parented: parents no longer come first by id.
    secondary = repo.save_driver_node(url, {"team_id": rec["w7"].id, "kind": "primary",
                                            "text": "Environment"})  # fmt: skip
    repo.save_driver_node(url, {"kind": "secondary", "parent_id": secondary.id},
                          id=rec["primary"].id, version=1)  # fmt: skip
    repo.save_driver_node(url, {"parent_id": rec["primary"].id}, id=rec["idea"].id, version=1)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_round_trip_gives_identical_data(store_url, db_url, tmp_path, fmt, request):
    rec = build_programme(store_url)
    _enrich(store_url, rec)
    folder = tmp_path / "export"
    summary = export.export_programme(store_url, folder, "FALLS", format=fmt)
    assert summary.rows["observations"] == 7 and summary.rows["observation_edits"] == 2
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["programme"] == "FALLS" and manifest["format"] == fmt

    # a fresh database of the same kind, and the other kind too: SQLite <-> PostgreSQL
    target = f"sqlite:///{tmp_path / 'fresh.db'}"
    imported = export.import_programme(target, folder)
    assert imported.rows == summary.rows
    original = export.dump_tables(store_url)
    assert export.dump_tables(target) == original
    assert sum(len(v) for v in original.values()) == summary.total_rows

    # exporting the copy gives the same files
    folder2 = tmp_path / "export2"
    export.export_programme(target, folder2, format=fmt)
    for name in manifest["tables"]:
        file = manifest["tables"][name]["file"]
        assert filecmp.cmp(folder / file, folder2 / file, shallow=False), file

    # after the import, new records get fresh ids and saving still works
    again = repo.save_reflection(target, {"team_id": rec["w7"].id, "date": "2027-01-01"})
    assert again.id > max(r[0] for r in original["reflections"])
    dispose_engines()


def test_round_trip_into_postgres_and_back(store_url, pg_server, tmp_path):
    rec = build_programme(store_url)
    _enrich(store_url, rec)
    export.export_programme(store_url, tmp_path / "a")
    pg_url = pg_server.create_database()
    try:
        export.import_programme(pg_url, tmp_path / "a")
        assert export.dump_tables(pg_url) == export.dump_tables(store_url)
        created = repo.save_team(pg_url, {"programme_id": rec["p"].id, "code": "NEW", "name": "N"})
        assert created.id == 3  # the id sequence moved past the imported ids
    finally:
        dispose_engines()
        pg_server.drop_database(pg_url)


def test_import_next_to_another_programme_shifts_ids(store_url, tmp_path):
    rec = build_programme(store_url)
    export.export_programme(store_url, tmp_path / "a")
    other = tmp_path / "other.db"
    from qiwidgets.store.db import init_db

    init_db(str(other))
    p = repo.save_programme(str(other), {"code": "SEPSIS", "name": "Sepsis"})
    repo.save_team(str(other), {"programme_id": p.id, "code": "ED", "name": "Emergency"})
    export.import_programme(str(other), tmp_path / "a")
    falls = repo.get_programme(str(other), "FALLS")
    assert falls.id != p.id
    assert [t.code for t in repo.list_teams(str(other), "FALLS")] == ["W7", "W9"]
    assert repo.get_aim(str(other), "W7", "FALLS").outcome_measures[0].code == "FALLS_HARM"
    (cycle,) = repo.list_pdsa_cycles(str(other), "W7", "FALLS")
    assert cycle.change_idea.text == "Safety huddle"
    assert len(repo.observations(str(other), "W7", programme="FALLS")) == 4
    assert rec["p"].code == "FALLS"
    with pytest.raises(StoreError, match="already holds a programme 'FALLS'"):
        export.import_programme(str(other), tmp_path / "a")
    dispose_engines()


def test_damaged_exports_are_refused_and_nothing_is_written(store_url, tmp_path):
    build_programme(store_url)
    folder = tmp_path / "a"
    export.export_programme(store_url, folder)
    target = f"sqlite:///{tmp_path / 't.db'}"
    obs = folder / "observations.csv"
    lines = obs.read_text().splitlines()
    obs.write_text("\n".join(lines[:-1] + [lines[-1].replace("2026-", "20x6-")]) + "\n")
    with pytest.raises(StoreError, match=r"observations.csv, row 8, column period"):
        export.import_programme(target, folder)
    obs.write_text("\n".join(lines[:-1]) + "\n")
    with pytest.raises(StoreError, match="holds 6 rows but the manifest says 7"):
        export.import_programme(target, folder)
    (folder / "manifest.json").unlink()
    with pytest.raises(StoreError, match="is not a qiwidgets export"):
        export.import_programme(target, folder)
    with pytest.raises(StoreError, match="`format` must be one of 'csv', 'parquet', got 'xls'"):
        export.export_programme(store_url, folder, format="xls")
    dispose_engines()


def test_texts_a_spreadsheet_would_run_as_formulas_are_exported_inert(store_url, tmp_path):
    """A reflection reading ``=HYPERLINK(...)`` was written raw: Excel ran it when the export was
    opened (CSV injection). Such a text gets a backslash in front and comes back unchanged."""
    import csv

    rec = build_programme(store_url)
    texts = ['=HYPERLINK("http://example.org","click")', "+1 fall", "-2 since May",
             "@SUM(A1:A9)", "\\N is not null", "plain text"]  # fmt: skip
    for i, text in enumerate(texts):
        repo.save_reflection(store_url, {"team_id": rec["w7"].id, "date": f"2026-0{i + 1}-15",
                                         "what_happened": text})  # fmt: skip
    folder = tmp_path / "export"
    export.export_programme(store_url, folder, "FALLS")
    with open(folder / "reflections.csv", encoding="utf-8", newline="") as fh:
        cells = [cell for row in csv.reader(fh) for cell in row]
    assert not [c for c in cells if c.startswith(("=", "+", "-", "@", "\t", "\r"))]
    assert {'\\=HYPERLINK("http://example.org","click")', "\\+1 fall", "\\-2 since May",
            "\\@SUM(A1:A9)", "\\\\N is not null", "plain text"} <= set(cells)  # fmt: skip
    target = f"sqlite:///{tmp_path / 'copy.db'}"
    export.import_programme(target, folder)
    assert export.dump_tables(target) == export.dump_tables(store_url)
    dispose_engines()
