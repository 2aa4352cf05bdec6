"""The ``qiwidgets spc`` command, run as a user runs it: the installed console script."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

SCRIPT = shutil.which("qiwidgets", path=str(Path(sys.executable).parent))


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    assert SCRIPT, "the qiwidgets console script is not installed in this environment"
    return subprocess.run(
        [SCRIPT, *args], capture_output=True, text=True, cwd=cwd, timeout=120, check=False
    )


@pytest.fixture
def falls_csv(tmp_path: Path) -> Path:
    months = pd.date_range("2024-01-01", periods=24, freq="MS").strftime("%Y-%m-%d")
    falls = [6, 7, 5, 8, 6, 7, 6, 5, 7, 6, 8, 6, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2]
    d = pd.DataFrame({"month": months, "falls": falls, "bed_days": [1000] * 24, "ward": "W7"})
    path = tmp_path / "falls.csv"
    # a file as people make it: semicolons, a byte-order mark
    path.write_text(d.to_csv(index=False, sep=";"), encoding="utf-8-sig")
    return path


def test_spc_prints_summary_and_reading_and_writes_points(falls_csv: Path, tmp_path: Path):
    out = tmp_path / "out" / "points.csv"
    res = run(
        "spc", str(falls_csv), "--chart", "u", "--x", "month", "--y", "falls", "--n", "bed_days",
        "--multiply", "1000", "--label", "Falls per 1,000 bed days", "--improvement", "decrease",
        "--out", str(out),
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "rule set: Anhøj" in res.stdout
    assert "Falls per 1,000 bed days: special cause improvement" in res.stdout
    points = pd.read_csv(out)
    assert len(points) == 24
    assert points["cl"].iloc[0] == pytest.approx(4.458333, rel=1e-5)


def test_spc_json_output_and_mdc_profile(falls_csv: Path, tmp_path: Path):
    out = tmp_path / "points.json"
    res = run(
        "spc", str(falls_csv), "--profile", "mdc", "--x", "month", "--y", "falls",
        "--improvement", "decrease", "--target", "4", "--out", str(out),
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "Making Data Count" in res.stdout
    rows = json.loads(out.read_text())
    assert len(rows) == 24 and "point_type" in rows[0]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--chart", "zz"], "`chart` must be one of"),
        (["--chart", "p"], "`n` (the denominator column) is required"),
        (["--y", "nope"], "`y` names column 'nope'"),
        (["--where", "ward=W9"], "no rows to chart"),
    ],
)
def test_spc_user_errors_are_one_line_without_traceback(falls_csv: Path, args, message):
    base = {"--x": "month", "--y": "falls"}
    for i in range(0, len(args), 2):
        base[args[i]] = args[i + 1]
    flat = [item for kv in base.items() for item in kv]
    res = run("spc", str(falls_csv), *flat)
    assert res.returncode == 2
    assert message in res.stderr
    assert "Traceback" not in res.stderr + res.stdout


def test_spc_missing_file(tmp_path: Path):
    res = run("spc", str(tmp_path / "nope.csv"), "--x", "a", "--y", "b")
    assert res.returncode == 2 and "no such file" in res.stderr
    assert "Traceback" not in res.stderr


def test_help_texts():
    res = run("--help")
    assert res.returncode == 0 and "spc" in res.stdout
    res = run("spc", "--help")
    assert res.returncode == 0 and "--multiply" in res.stdout and "examples:" in res.stdout


def test_spc_csv_output_makes_formula_text_harmless(tmp_path: Path):
    """A facet named like a spreadsheet formula is written with a backslash in front (CSV
    injection); numbers, negative ones too, are written as numbers."""
    months = pd.date_range("2024-01-01", periods=12, freq="MS").strftime("%Y-%m-%d")
    d = pd.DataFrame({"month": list(months) * 2, "value": [-1.5, 2.0, 3.5] * 8,
                      "ward": ['=HYPERLINK("http://x.example","W7")'] * 12 + ["@W9"] * 12})  # fmt: skip
    src = tmp_path / "vals.csv"
    d.to_csv(src, index=False)
    out = tmp_path / "points.csv"
    res = run("spc", str(src), "--chart", "i", "--x", "month", "--y", "value",
              "--facets", "ward", "--out", str(out))  # fmt: skip
    assert res.returncode == 0, res.stderr
    text = out.read_text(encoding="utf-8")
    assert '\n=HYPERLINK' not in text and ',=HYPERLINK' not in text and ',@W9' not in text
    points = pd.read_csv(out)
    assert set(points["ward"]) == {'\\=HYPERLINK("http://x.example","W7")', "\\@W9"}
    assert points["y"].min() == -1.5
