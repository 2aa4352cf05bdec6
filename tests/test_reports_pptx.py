"""PowerPoint board packs (issue 22, item 5): ``qiwidgets reports --pptx``.

A team deck holds one picture per measure, and each measure's slide says what the core's
:class:`~qiwidgets.workbook.status.MeasureStatus` says (the reading, the icons and the verdict
in words), which is what the HTML report shows; the programme deck has a slide per shared
measure with every team's verdict. Without python-pptx, ``--pptx`` names the extra to install
and builds nothing. The decks are drawn from the sample programme (the ``store`` fixture); the
test that runs the papermill batch is ``slow``, as in ``test_reports.py``.
"""

from __future__ import annotations

import html
import sys

import pytest
from test_reports import jupyter_env  # noqa: F401 - Jupyter's state in a temp folder (autouse)

from qiwidgets import glossary, views
from qiwidgets.charts.icons import icon_legend
from qiwidgets.cli import main as cli_main
from qiwidgets.extras import MissingDependencyError
from qiwidgets.reports import runner
from qiwidgets.reports.params import parse_month

TEAM = "W01"
MONTH = "2026-10"
SOURCE = f"qiwidgets, data to {parse_month(MONTH).label()}"


def _text(slide) -> str:
    """Every text on a slide: text boxes, placeholders, shapes and table cells."""
    out = []
    for shape in slide.shapes:
        if shape.has_text_frame:
            out.append(shape.text_frame.text)
        if getattr(shape, "has_table", False) and shape.has_table:
            out += [cell.text for row in shape.table.rows for cell in row.cells]
    return "\n".join(out)


def _pictures(slide) -> int:
    from pptx.enum.shapes import MSO_SHAPE_TYPE

    return sum(shape.shape_type == MSO_SHAPE_TYPE.PICTURE for shape in slide.shapes)


def _titled(prs) -> dict:
    return {s.shapes.title.text: s for s in prs.slides if s.shapes.title is not None}


def _table_rows(slide) -> list[list[str]]:
    table = next(shape.table for shape in slide.shapes if shape.has_table)
    return [[cell.text for cell in row.cells] for row in table.rows]


@pytest.fixture(scope="module")
def w01(store):
    """W01's report as the report notebook builds it: its measures are the core's statuses."""
    from qiwidgets.reports import team

    return team.build(store, TEAM, MONTH)


@pytest.fixture(scope="module")
def w01_deck(w01, tmp_path_factory):
    from pptx import Presentation

    from qiwidgets.reports import slides

    path = slides.write_team_deck(w01, tmp_path_factory.mktemp("deck") / f"{TEAM}.pptx")
    return Presentation(str(path))


def test_a_team_deck_has_a_slide_per_measure_with_the_core_s_verdict(w01, w01_deck):
    from pptx.util import Inches

    prs = w01_deck
    assert abs(prs.slide_width / prs.slide_height - 16 / 9) < 0.01
    assert prs.slide_width == Inches(13.333)
    measures = w01.measures  # the core's MeasureStatus per measure of W01's family
    assert len(measures) >= 3
    assert all(m.result is not None and len(m.result.points) >= 2 for m in measures)
    # one picture per measure: its chart, and no other picture in the deck
    assert sum(_pictures(s) for s in prs.slides) == len(measures)
    titled = _titled(prs)
    cards = w01.section("measures")  # the HTML report's measure cards
    for m in measures:
        slide = titled[m.measure_name]
        assert _pictures(slide) == 1, m.measure_code
        text = _text(slide)
        assert m.reading and m.reading in text  # the sentence the report shows
        assert html.escape(m.reading) in cards
        icons = [n for n in (m.variation_icon, m.assurance_icon) if isinstance(n, str)]
        assert icons and m.variation_icon in icons
        for name in icons:  # each icon's meaning, as the report's key says it
            assert icon_legend(name)[2] in text, (m.measure_code, name)
        for words in views.verdict_words(m):  # the verdict in words, as the card says it
            assert words in text
        assert m.rule_set_name in text
        assert SOURCE in text
    first = _text(prs.slides[0])
    assert w01.data.team.name in first and parse_month(MONTH).label() in first
    assert w01.data.aim is not None and w01.data.aim.what in first
    assert all(SOURCE in _text(s) for s in prs.slides)
    assert "Key to the icons (NHS Making Data Count)" in titled


def test_a_programme_deck_has_a_slide_per_shared_measure_with_each_team_s_verdict(store, tmp_path):
    from pptx import Presentation

    from qiwidgets.reports import programme, slides

    report = programme.build(store, MONTH, str(tmp_path / "no-summaries"))
    path = slides.write_programme_deck(report, tmp_path / "programme.pptx")
    prs = Presentation(str(path))
    titled = _titled(prs)
    assert report.shared and report.status.teams
    for m in report.shared:
        assert f"{glossary.label(m.measure_type)}, shared by the programme" in _text(
            titled[f"{m.name}: across teams"])  # fmt: skip
        rows = _table_rows(titled[f"{m.name}: across teams"])
        assert rows[0] == ["Team", "Variation", "Assurance", "Latest"]
        shown = {r[0]: r[1:3] for r in rows[1:]}
        assert list(shown) == [t.name for t in report.status.teams]  # by name, never ranked
        for t in report.status.teams:
            status = t.measure(m.code)
            if status is not None:
                assert shown[t.name][0] == views.VARIATION_WORDS[status.variation]
                assert shown[t.name][1] == views.ASSURANCE_WORDS.get(status.assurance,
                                                                     "no target assurance")
    parts = [_table_rows(s) for s in _parts(prs, "Shared measures: variation and assurance")]
    overview = [parts[0][0]] + [row for rows in parts for row in rows[1:]]
    assert len(overview) == len(report.status.teams) + 1
    for row, t in zip(overview[1:], report.status.teams, strict=True):
        assert row[0] == t.name
        for cell, m in zip(row[2:], report.shared, strict=True):
            v = t.measure(m.code)  # the verdict the HTML's table of teams shows
            if v is not None and v.variation != "none":
                assert cell == views.verdict_text(v)
    assert sum(_pictures(s) for s in prs.slides) == (report.outcome_funnel() is not None)
    assert all(SOURCE in _text(s) for s in prs.slides)


def _parts(prs, title: str) -> list:
    """The slides of a table titled ``title``, in order (one, or "… (1 of n)" onwards)."""
    titled = _titled(prs)
    if title in titled:
        return [titled[title]]
    n = sum(t.startswith(f"{title} (") for t in titled)
    return [titled[f"{title} ({i} of {n})"] for i in range(1, n + 1)]


def test_the_programme_deck_names_the_teams_that_may_need_support_and_why(store, tmp_path):
    from pptx import Presentation

    from qiwidgets.reports import programme, slides
    from qiwidgets.workbook.status import SUPPORT_RULE

    report = programme.build(store, MONTH, str(tmp_path / "no-summaries"))
    prs = Presentation(str(slides.write_programme_deck(report, tmp_path / "programme.pptx")))
    support = report.status.support()
    assert support  # the sample has teams with a reason, so the slide is not the empty one
    (slide,) = _parts(prs, "Teams that may need support")
    rows = _table_rows(slide)
    assert rows[0] == ["Team", "Why a conversation may help"]
    assert rows[1:] == [[t.name, "; ".join(r)] for t, r in support]  # the core's words
    assert SUPPORT_RULE in slide.notes_slide.notes_text_frame.text


def test_a_programme_of_many_teams_gets_its_tables_over_several_slides(store, tmp_path,
                                                                       monkeypatch):  # fmt: skip
    """Every team is on a slide, in name order, a table split into readable parts."""
    from pptx import Presentation

    from qiwidgets.reports import programme, slides

    for limit in ("TEAMS_PER_SLIDE", "VERDICTS_PER_SLIDE"):
        monkeypatch.setattr(slides, limit, 5)  # 12 sample teams: 4 + 4 + 4
    monkeypatch.setattr(slides, "SUPPORT_PER_SLIDE", 2)
    report = programme.build(store, MONTH, str(tmp_path / "no-summaries"))
    prs = Presentation(str(slides.write_programme_deck(report, tmp_path / "programme.pptx")))
    names = [t.name for t in report.status.teams]
    for title in ["Shared measures: variation and assurance",
                  *[f"{m.name}: across teams" for m in report.shared]]:  # fmt: skip
        parts = _parts(prs, title)
        assert len(parts) == 3, title
        tables = [_table_rows(s) for s in parts]
        assert all(t[0] == tables[0][0] for t in tables)  # each part repeats the heading
        assert [r[0] for t in tables for r in t[1:]] == names
        assert [len(t) - 1 for t in tables] == [4, 4, 4]  # shared evenly, not 5 + 5 + 2
    support = _parts(prs, "Teams that may need support")
    assert len(support) == -(-len(report.status.support()) // 2)
    assert [r[0] for s in support for r in _table_rows(s)[1:]] == [
        t.name for t, _ in report.status.support()]
    assert all(SOURCE in _text(s) for s in prs.slides)


def test_pptx_without_python_pptx_names_the_extra_and_builds_nothing(store, tmp_path,
                                                                     monkeypatch, capsys):  # fmt: skip
    monkeypatch.setitem(sys.modules, "pptx", None)  # python-pptx not installed
    out = tmp_path / "out"
    with pytest.raises(MissingDependencyError, match=r"pip install 'qiwidgets\[pptx\]'"):
        runner.plan(MONTH, store, out, [TEAM], pptx=True)
    assert not out.exists()
    code = cli_main(["reports", "--month", MONTH, "--db", store, "--out", str(out), "--team",
                     TEAM, "--pptx", "--no-progress"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2, err
    assert "needs python-pptx" in err and "pip install 'qiwidgets[pptx]'" in err
    assert "Traceback" not in err
    assert not out.exists()


@pytest.mark.slow
def test_reports_pptx_writes_decks_beside_the_reports_and_lists_them(store, tmp_path):
    from pptx import Presentation

    out = tmp_path / "reports"
    result = runner.run_reports(MONTH, store, out, [TEAM], workers=1, pptx=True, timeout=240)
    assert result.ok, [r.describe() for r in result.failed] + [
        result.programme.describe() if result.programme else ""]
    month_dir = out / MONTH
    deck = month_dir / "teams" / f"{TEAM}.pptx"
    assert (month_dir / "teams" / f"{TEAM}.html").is_file() and deck.is_file()
    assert result.built[0].files["pptx"] == str(deck)
    from qiwidgets.reports import team

    measures = team.build(store, TEAM, MONTH).measures
    prs = Presentation(str(deck))
    assert sum(_pictures(s) for s in prs.slides) == len(measures)
    titled = _titled(prs)
    for m in measures:
        assert m.reading in _text(titled[m.measure_name])
    programme_deck = Presentation(str(month_dir / "programme.pptx"))
    assert len(programme_deck.slides) >= 4
    index = (out / "index.html").read_text(encoding="utf-8")
    assert f'{MONTH}/teams/{TEAM}.pptx"' in index and f'{MONTH}/programme.pptx"' in index
    assert not list((out / ".staging").glob("**/*.pptx"))  # nothing half-written left behind
    # up to date: a rerun with --pptx builds nothing again
    again = runner.run_reports(MONTH, store, out, [TEAM], workers=1, pptx=True, timeout=240)
    assert again.skipped == [TEAM] and again.programme_skipped
