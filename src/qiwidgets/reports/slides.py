"""PowerPoint board packs (``qiwidgets reports --pptx``): a deck per team report, and one for
the programme report.

Pure rendering. A deck is drawn from a built :class:`~qiwidgets.reports.team.TeamReport` or
:class:`~qiwidgets.reports.programme.ProgrammeReport`: every limit, icon and reading on a slide
is the core's :class:`~qiwidgets.workbook.status.MeasureStatus`, the one the HTML report shows,
and each chart is the spec the HTML report draws
(:func:`~qiwidgets.reports.team.measure_chart_spec`), rendered to PNG offline by vl-convert.
Nothing is worked out again here.

A team deck: a title slide (team, month, aim), the month in one paragraph, one slide per
measure (the chart as a picture; the variation and assurance icons as badges with their
meaning; the verdict in words, the facts and the reading), and the key to the icons. The
programme deck: a title slide, the month in one paragraph, every team's verdict on each shared
measure, one slide per shared measure, the funnel plot of the shared outcome measure, the
bright spots, the teams that may need support and why, and the key. A table of teams runs over
as many slides as it needs (``TEAMS_PER_SLIDE``), so a programme of 200 teams stays readable.
Slides are 16:9; every slide says where its data come from (``qiwidgets, data to October
2026``).

python-pptx comes with the ``pptx`` extra (``pip install "qiwidgets[pptx]"``);
:func:`require_pptx` says so when it is missing.

>>> report = team.build("qiwidgets.db", "W01", "2026-10")       # doctest: +SKIP
>>> write_team_deck(report, "reports/2026-10/teams/W01.pptx")   # doctest: +SKIP
"""

from __future__ import annotations

import io
import os
import struct
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from qiwidgets import glossary, views
from qiwidgets.charts.icons import ASSURANCE_ICON_NAMES, VARIATION_ICON_NAMES, icon_legend

__all__ = [
    "EXTRA",
    "programme_deck",
    "require_pptx",
    "source_line",
    "team_deck",
    "write_deck",
    "write_programme_deck",
    "write_team_deck",
]

#: The optional dependency group that brings python-pptx (pyproject.toml).
EXTRA = "pptx"

# --- layout: 16:9 (13.333 x 7.5 inches), sizes in inches and points ---------------------------

SLIDE_WIDTH_IN = 13.333
SLIDE_HEIGHT_IN = 7.5
MARGIN_IN = 0.45
TITLE_TOP_IN = 0.3
TITLE_HEIGHT_IN = 0.8
BODY_TOP_IN = 1.35
FOOTER_TOP_IN = 7.0
#: The chart's box on a measure slide (left column); the picture keeps its proportions (a
#: report chart is about 5:3, so it fills the box).
CHART_BOX_IN = (MARGIN_IN, BODY_TOP_IN, 7.0, 4.2)
#: The verdict panel beside the chart.
PANEL_LEFT_IN = 7.7
#: The reading, under the chart, across the slide.
READING_TOP_IN = 5.65

TITLE_PT = 26
SUBTITLE_PT = 16
BODY_PT = 16
PANEL_PT = 14
SMALL_PT = 12
TABLE_PT = 12
FOOTER_PT = 11
FONT = "Arial"
#: Colours: NHS blue for titles, the report's muted grey (views.MUTED) for secondary text.
TITLE_COLOUR = "005EB8"
TEXT_COLOUR = "212B32"
MUTED_COLOUR = views.MUTED.lstrip("#").upper()
#: What the programme deck's title slide says of itself (as the programme report does).
LEARNING_NOT_RATING = ("A learning tool, not performance management: teams are listed by name, "
                       "with no league table and no red/amber/green rating.")  # fmt: skip
#: Chart pixels per CSS pixel: crisp on a projector and in print.
CHART_SCALE = 2.0
#: At most this many teams on one slide of a table of teams at 12 pt, rows of one line. A
#: programme of 10-200 teams gets as many slides as it needs, "(2 of 5)", the teams shared
#: evenly between them.
TEAMS_PER_SLIDE = 12
#: At most this many teams on a slide of the table of every team's verdicts, whose cells run to
#: two lines (measured in LibreOffice: 12 such rows ran past the footer).
VERDICTS_PER_SLIDE = 10
#: At most this many teams on one slide of the "may need support" table.
SUPPORT_PER_SLIDE = 8
#: At most this many bright spots (two lines each at 16 pt) on one slide, and lines of the
#: changes taking hold.
BRIGHT_SPOTS_PER_SLIDE = 5
LINES_PER_SLIDE = 12


def require_pptx(what: str = "`qiwidgets reports --pptx`") -> None:
    """Check that python-pptx can be imported; raise
    :class:`~qiwidgets.extras.MissingDependencyError` naming the extra to install if not."""
    from qiwidgets.extras import MissingDependencyError

    try:
        import pptx  # noqa: F401
    except ImportError:
        raise MissingDependencyError(
            f"{what} needs python-pptx, which is not installed: install it with "
            f"pip install 'qiwidgets[{EXTRA}]' (or 'qiwidgets[all]' for everything)."
        ) from None


def source_line(month: Any) -> str:
    """The line every slide carries: ``qiwidgets, data to October 2026``."""
    return f"qiwidgets, data to {month.label()}"


# --- the deck and its pieces --------------------------------------------------------------------


class _Deck:
    """A 16:9 presentation and the few shapes every slide is made of."""

    def __init__(self, title: str, source: str, context: str):
        from pptx import Presentation
        from pptx.util import Inches

        self.prs = Presentation()
        self.prs.slide_width = Inches(SLIDE_WIDTH_IN)
        self.prs.slide_height = Inches(SLIDE_HEIGHT_IN)
        self.prs.core_properties.title = title
        self.prs.core_properties.author = "qiwidgets"
        self.prs.core_properties.subject = source
        self.source = source
        self.context = context  # the team or programme, beside the source on each slide

    # -- units and text

    @staticmethod
    def _in(value: float) -> Any:
        from pptx.util import Inches

        return Inches(value)

    @staticmethod
    def _style(run: Any, size: float, *, bold: bool = False, colour: str = TEXT_COLOUR) -> None:
        from pptx.dml.color import RGBColor
        from pptx.util import Pt

        run.font.name = FONT
        run.font.size = Pt(size)
        run.font.bold = bold
        run.font.color.rgb = RGBColor.from_string(colour)

    def _paragraphs(self, frame: Any, paragraphs: Sequence[Sequence[tuple]], size: float,
                    space_after: float = 6) -> None:  # fmt: skip
        """Fill a text frame: each paragraph a list of ``(text, bold, colour)`` runs."""
        from pptx.util import Pt

        frame.word_wrap = True
        for i, runs in enumerate(paragraphs):
            p = frame.paragraphs[0] if i == 0 else frame.add_paragraph()
            p.space_after = Pt(space_after)
            for text, bold, colour in runs:
                run = p.add_run()
                run.text = text
                self._style(run, size, bold=bold, colour=colour)

    def text(self, slide: Any, box: tuple[float, float, float, float],
             paragraphs: Sequence[Sequence[tuple]], size: float = BODY_PT, **kw: Any) -> Any:  # fmt: skip
        left, top, width, height = box
        shape = slide.shapes.add_textbox(self._in(left), self._in(top), self._in(width),
                                         self._in(height))  # fmt: skip
        self._paragraphs(shape.text_frame, paragraphs, size, **kw)
        return shape

    # -- slides

    def slide(self, title: str, subtitle: str = "") -> Any:
        """A slide with its title (in the title placeholder, which screen readers announce),
        an optional subtitle line and the source line at the foot."""
        slide = self.prs.slides.add_slide(self.prs.slide_layouts[5])  # "Title Only"
        head = slide.shapes.title
        head.left, head.top = self._in(MARGIN_IN), self._in(TITLE_TOP_IN)
        head.width = self._in(SLIDE_WIDTH_IN - 2 * MARGIN_IN)
        head.height = self._in(TITLE_HEIGHT_IN if not subtitle else TITLE_HEIGHT_IN - 0.2)
        frame = head.text_frame
        frame.clear()
        frame.word_wrap = True
        from pptx.enum.text import PP_ALIGN

        frame.paragraphs[0].alignment = PP_ALIGN.LEFT
        run = frame.paragraphs[0].add_run()
        run.text = title
        self._style(run, _title_size(title), bold=True, colour=TITLE_COLOUR)
        if subtitle:
            self.text(slide, (MARGIN_IN, TITLE_TOP_IN + TITLE_HEIGHT_IN - 0.2,
                              SLIDE_WIDTH_IN - 2 * MARGIN_IN, 0.45),
                      [[(subtitle, False, MUTED_COLOUR)]], SUBTITLE_PT)  # fmt: skip
        self.footer(slide)
        return slide

    def title_slide(self, title: str, subtitle: str, lines: Iterable[Sequence[tuple]]) -> Any:
        """The deck's first slide: a big title, a subtitle, then a few paragraphs."""
        slide = self.prs.slides.add_slide(self.prs.slide_layouts[6])  # "Blank"
        width = SLIDE_WIDTH_IN - 2 * MARGIN_IN
        self.text(slide, (MARGIN_IN, 1.2, width, 1.3), [[(title, True, TITLE_COLOUR)]], 40)
        self.text(slide, (MARGIN_IN, 2.5, width, 0.6), [[(subtitle, False, TEXT_COLOUR)]], 24)
        self.text(slide, (MARGIN_IN, 3.4, width, 3.4), list(lines), 18, space_after=10)
        self.footer(slide)
        return slide

    def footer(self, slide: Any) -> None:
        shown = f"{self.source} · {self.context}" if self.context else self.source
        self.text(slide, (MARGIN_IN, FOOTER_TOP_IN, SLIDE_WIDTH_IN - 2 * MARGIN_IN - 1.0, 0.4),
                  [[(shown, False, MUTED_COLOUR)]], FOOTER_PT)  # fmt: skip
        number = len(self.prs.slides)
        box = self.text(slide, (SLIDE_WIDTH_IN - MARGIN_IN - 1.0, FOOTER_TOP_IN, 1.0, 0.4),
                        [[(str(number), False, MUTED_COLOUR)]], FOOTER_PT)  # fmt: skip
        from pptx.enum.text import PP_ALIGN

        box.text_frame.paragraphs[0].alignment = PP_ALIGN.RIGHT

    def picture(self, slide: Any, png: bytes, box: tuple[float, float, float, float],
                description: str) -> Any:  # fmt: skip
        """The PNG as large as fits in ``box`` (inches), keeping its proportions, with
        ``description`` as its alternative text."""
        left, top, width, height = box
        px_w, px_h = _png_size(png)
        scale = min(width / px_w, height / px_h)
        w, h = px_w * scale, px_h * scale
        pic = slide.shapes.add_picture(io.BytesIO(png), self._in(left + (width - w) / 2),
                                       self._in(top), self._in(w), self._in(h))  # fmt: skip
        pic._element.nvPicPr.cNvPr.set("descr", description)  # alt text, read by screen readers
        return pic

    def badge(self, slide: Any, name: str, left: float, top: float, size: float = 0.6) -> None:
        """A Making Data Count icon as a ring in its colour with its letter (the chart's own
        icons are in the picture; this is the verdict beside it, readable at a glance)."""
        from pptx.dml.color import RGBColor
        from pptx.enum.shapes import MSO_SHAPE
        from pptx.enum.text import MSO_ANCHOR, PP_ALIGN
        from pptx.util import Pt

        colour, letter, meaning = icon_legend(name)
        ring = slide.shapes.add_shape(MSO_SHAPE.OVAL, self._in(left), self._in(top),
                                      self._in(size), self._in(size))  # fmt: skip
        ring.fill.solid()
        ring.fill.fore_color.rgb = RGBColor.from_string("FFFFFF")
        ring.line.color.rgb = RGBColor.from_string(colour.lstrip("#").upper())
        ring.line.width = Pt(4)
        ring.shadow.inherit = False
        ring._element.nvSpPr.cNvPr.set("descr", meaning)
        frame = ring.text_frame
        frame.vertical_anchor = MSO_ANCHOR.MIDDLE
        p = frame.paragraphs[0]
        p.alignment = PP_ALIGN.CENTER
        run = p.add_run()
        run.text = letter or "~"  # common cause: no letter on the icon, a wave here
        self._style(run, 18, bold=True, colour=colour.lstrip("#").upper())

    def table(self, slide: Any, head: Sequence[str], rows: Sequence[Sequence[str]],
              box: tuple[float, float, float, float], widths: Sequence[float] | None = None,
              size: float = TABLE_PT) -> Any:  # fmt: skip
        left, top, width, height = box
        row_h = min(height / (len(rows) + 1), 0.5)
        shape = slide.shapes.add_table(len(rows) + 1, len(head), self._in(left), self._in(top),
                                       self._in(width), self._in(row_h * (len(rows) + 1)))  # fmt: skip
        table = shape.table
        if widths:
            total = sum(widths)
            for col, w in zip(table.columns, widths, strict=True):
                col.width = self._in(width * w / total)
        for r, cells in enumerate([list(head), *[list(row) for row in rows]]):
            for c, text in enumerate(cells):
                cell = table.cell(r, c)
                cell.margin_top = cell.margin_bottom = self._in(0.03)
                cell.text_frame.clear()
                cell.text_frame.word_wrap = True
                run = cell.text_frame.paragraphs[0].add_run()
                run.text = text
                self._style(run, size, bold=r == 0, colour="FFFFFF" if r == 0 else TEXT_COLOUR)
        return shape

    def notes(self, slide: Any, lines: Iterable[str]) -> None:
        text = "\n".join(line for line in lines if line)
        if text:
            slide.notes_slide.notes_text_frame.text = text

    def icon_key(self) -> Any:
        """The key to every icon (as the reports' "Key to the icons")."""
        slide = self.slide("Key to the icons (NHS Making Data Count)",
                           "Variation: is something changing? Assurance: will the target be met?")  # fmt: skip
        names = [*VARIATION_ICON_NAMES, *ASSURANCE_ICON_NAMES]
        half = (len(names) + 1) // 2
        for i, name in enumerate(names):
            col, row = divmod(i, half)
            left = MARGIN_IN + col * 6.3
            top = BODY_TOP_IN + 0.2 + row * 0.72
            self.badge(slide, name, left, top, 0.55)
            self.text(slide, (left + 0.7, top - 0.02, 5.5, 0.65),
                      [[(icon_legend(name)[2], False, TEXT_COLOUR)]], SMALL_PT + 1)  # fmt: skip
        return slide


def _title_size(title: str) -> int:
    """A slide title's size: smaller for a long measure name, so that it keeps to one line."""
    return TITLE_PT if len(title) <= 60 else TITLE_PT - 4 if len(title) <= 80 else TITLE_PT - 8


def _shrink_on_overflow(shape: Any) -> None:
    """Ask PowerPoint to shrink the text should it not fit (a long reading)."""
    from pptx.enum.text import MSO_AUTO_SIZE

    shape.text_frame.auto_size = MSO_AUTO_SIZE.TEXT_TO_FIT_SHAPE


def _png_size(png: bytes) -> tuple[int, int]:
    """A PNG's width and height in pixels (from its IHDR chunk)."""
    if png[:8] != b"\x89PNG\r\n\x1a\n" or png[12:16] != b"IHDR":
        raise ValueError("the chart is not a PNG image")
    return struct.unpack(">II", png[16:24])


def _chart_png(spec: dict) -> bytes:
    from qiwidgets import charts

    return charts.to_png(spec, scale=CHART_SCALE)


def _month_summary_slide(deck: _Deck, summary: Any, month_label: str) -> None:
    slide = deck.slide(f"{month_label} in one paragraph")
    paragraphs = [[(f"{label}: ", True, TEXT_COLOUR), (text, False, TEXT_COLOUR)]
                  for label, text in summary.parts]  # fmt: skip
    deck.text(slide, (MARGIN_IN, BODY_TOP_IN, SLIDE_WIDTH_IN - 2 * MARGIN_IN, 5.4), paragraphs,
              BODY_PT + 2, space_after=14)  # fmt: skip


# --- team deck ------------------------------------------------------------------------------


def _aim_text(aim: Any) -> str:
    parts = [aim.what]
    if aim.for_whom:
        parts.append(f"for {aim.for_whom}")
    if aim.how_much:
        parts.append(aim.how_much)
    if aim.by_when:
        parts.append(f"by {aim.by_when:%d %B %Y}")
    return " ".join(parts)


def _measure_slide(deck: _Deck, status: Any) -> Any:
    """One measure: its chart, its icons and verdict, the facts and the reading."""
    from qiwidgets.reports.team import measure_chart_spec

    kind = glossary.label(status.measure_type) if status.measure_type else ""
    shared = ", shared by the programme" if status.shared else ""
    slide = deck.slide(status.measure_name, f"{kind}{shared} · Rule set: {status.rule_set_name}")
    spec = measure_chart_spec(status)
    if spec is None:
        left, top, width, _ = CHART_BOX_IN
        deck.text(slide, (left, top + 1.2, width, 1.2),
                  [[("No chart yet: a chart needs at least two points.", False, MUTED_COLOUR)]],
                  BODY_PT + 2)  # fmt: skip
    else:
        deck.picture(slide, _chart_png(spec), CHART_BOX_IN,
                     f"{status.measure_name}: {status.reading}")  # fmt: skip
    # the verdict: each icon as a badge with its meaning, then the verdict in words
    panel_width = SLIDE_WIDTH_IN - MARGIN_IN - PANEL_LEFT_IN
    top = BODY_TOP_IN + 0.05
    for name in (status.variation_icon, status.assurance_icon):
        if not isinstance(name, str):
            continue
        deck.badge(slide, name, PANEL_LEFT_IN, top)
        deck.text(slide, (PANEL_LEFT_IN + 0.7, top - 0.05, panel_width - 0.7, 0.9),
                  [[(icon_legend(name)[2], True, TEXT_COLOUR)]], PANEL_PT)  # fmt: skip
        top += 0.95
    # the verdict in words and the facts, as the report's card shows them; what is new
    panel = [[(w, False, MUTED_COLOUR)] for w in views.verdict_words(status)]
    panel.append([(" · ".join(views.facts(status)), False, TEXT_COLOUR)])
    if status.new_signals:
        panel.append([(f"Signals new in {status.month:%B %Y}: ", True, TEXT_COLOUR),
                      ("; ".join(status.new_signals), False, TEXT_COLOUR)])  # fmt: skip
    elif status.view is not None:
        panel.append([(f"No new signal in {status.month:%B %Y}.", False, MUTED_COLOUR)])
    deck.text(slide, (PANEL_LEFT_IN, top, panel_width, READING_TOP_IN - 0.1 - top), panel,
              SMALL_PT)  # fmt: skip
    # the reading: the sentence the report shows under the chart
    reading = [[(f"Reading ({status.rule_set_name}): ", True, TEXT_COLOUR),
                (status.reading, False, TEXT_COLOUR)]]  # fmt: skip
    box = deck.text(slide, (MARGIN_IN, READING_TOP_IN, SLIDE_WIDTH_IN - 2 * MARGIN_IN,
                            FOOTER_TOP_IN - READING_TOP_IN - 0.05), reading, BODY_PT)  # fmt: skip
    _shrink_on_overflow(box)
    notes = [f"Reading ({status.rule_set_name}): {status.reading}"]
    if status.sustained:
        notes.append(status.sustained[:1].upper() + status.sustained[1:] + ".")
    if status.rebase is not None:
        notes.append(status.rebase.text)
    notes += [n for n in status.notes if status.rebase is None or n != status.rebase.text]
    deck.notes(slide, notes)
    return slide


def team_deck(report: Any) -> Any:
    """The team report as a ``pptx.Presentation`` (see the module docstring)."""
    d, month = report.data, report.month
    deck = _Deck(f"{d.team.name}: learning report, {month.label()}", source_line(month),
                 f"{d.team.name} ({d.team.code})")  # fmt: skip
    lines = []
    if d.aim is not None:
        lines.append([("Aim: ", True, TEXT_COLOUR), (_aim_text(d.aim), False, TEXT_COLOUR)])
    else:
        lines.append([("No aim statement has been recorded yet.", False, MUTED_COLOUR)])
    org = f" · {d.team.organisation}" if d.team.organisation else ""
    lines.append([(f"Team {d.team.code}{org} · Programme: {d.programme.name}", False,
                   MUTED_COLOUR)])  # fmt: skip
    c = report.completeness()
    cutoff = f"{d.cutoff:%d %b %Y}" if d.cutoff else "no data recorded"
    filled = (f"Data cut-off: {cutoff} · {c['with_value']} of {c['measures']} measures have a "
              f"value for {month.label()} ({c['percent']}%)")  # fmt: skip
    lines.append([(filled, False, MUTED_COLOUR)])
    deck.title_slide(d.team.name, f"Monthly learning report, {month.label()}", lines)
    _month_summary_slide(deck, report.month_summary(), month.label())
    for status in report.measures:
        _measure_slide(deck, status)
    if not report.measures:
        slide = deck.slide("Measures")
        deck.text(slide, (MARGIN_IN, BODY_TOP_IN, 10, 1),
                  [[("No measures are defined for this team yet.", False, TEXT_COLOUR)]])  # fmt: skip
    deck.icon_key()
    return deck.prs


# --- programme deck -----------------------------------------------------------------------------


def _table_slides(deck: _Deck, title: str, subtitle: str, head: Sequence[str],
                  rows: Sequence[Sequence[str]], widths: Sequence[float], *,
                  per_slide: int | None = None, top: float = 0.1) -> list[Any]:  # fmt: skip
    """A table of teams over as many slides as it takes, ``per_slide`` rows (and the heading;
    default :data:`TEAMS_PER_SLIDE`) on each; a slide of a longer table says which part it is,
    "(2 of 5)"."""
    out = []
    for slide, chunk in _parts(deck, title, subtitle, rows, per_slide or TEAMS_PER_SLIDE):
        box = (MARGIN_IN, BODY_TOP_IN + top, SLIDE_WIDTH_IN - 2 * MARGIN_IN,
               FOOTER_TOP_IN - BODY_TOP_IN - top - 0.15)
        deck.table(slide, head, chunk, box, widths=widths)
        out.append(slide)
    return out


def _parts(deck: _Deck, title: str, subtitle: str, items: Sequence[Any],
           per_slide: int) -> list[tuple[Any, Sequence[Any]]]:  # fmt: skip
    """Slides for ``items``, at most ``per_slide`` on each and shared evenly (12 teams at 10 a
    slide make 6 and 6, not 10 and 2), each with its part of the items; titled "… (2 of 3)"
    when there is more than one."""
    n = max(1, -(-len(items) // per_slide))
    size, extra = divmod(len(items), n)
    out, start = [], 0
    for i in range(n):
        end = start + size + (i < extra)
        part = f" ({i + 1} of {n})" if n > 1 else ""
        out.append((deck.slide(title + part, subtitle), items[start:end]))
        start = end
    return out


def _score(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def _verdict(status: Any) -> str:
    if status is None:
        return "not in this team's family"
    if status.variation == "none":
        return "no chart yet"
    return views.verdict_text(status)


def programme_deck(report: Any) -> Any:
    """The programme report as a ``pptx.Presentation`` (see the module docstring)."""
    prog, month, status = report.programme, report.month, report.status
    deck = _Deck(f"{prog.name}: programme learning report, {month.label()}",
                 source_line(month), prog.name)  # fmt: skip
    lines = []
    if prog.shared_aim:
        lines.append([("Programme aim: ", True, TEXT_COLOUR), (prog.shared_aim, False, TEXT_COLOUR)])
    lines.append([(f"{len(report.summaries)} of {len(report.teams)} team reports this month.",
                   False, MUTED_COLOUR)])  # fmt: skip
    lines.append([(LEARNING_NOT_RATING, False, MUTED_COLOUR)])
    deck.title_slide(prog.name, f"Programme learning report, {month.label()}", lines)
    _month_summary_slide(deck, report.month_summary(), month.label())

    shared = list(report.shared)
    width = SLIDE_WIDTH_IN - 2 * MARGIN_IN
    rows = []
    for t in status.teams:
        sc = t.score
        scored = (f"{_score(sc.team_score)} / {_score(sc.lead_score)}" if sc is not None
                  else "not scored")  # fmt: skip
        rows.append([t.name, scored, *[_verdict(t.measure(m.code)) for m in shared]])
    _table_slides(deck, "Shared measures: variation and assurance",
                  "Each shared measure's verdict at the team's latest point, under its own rule "
                  "set and with the team's own phases",
                  ["Team", "Score (team / lead)", *[m.name for m in shared]], rows,
                  [2.2, 1.4, *[3.0] * len(shared)], per_slide=VERDICTS_PER_SLIDE)  # fmt: skip

    for m in shared:
        kind = glossary.label(m.measure_type) if m.measure_type else ""
        rows = []
        for t in status.teams:
            ms = t.measure(m.code)
            if ms is None:
                rows.append([t.name, "not in this team's family", "", ""])
                continue
            latest = ("n/a" if ms.latest_value is None else
                      f"{views.value_text(ms.latest_value, ms.unit)} ({ms.latest_period:%b %Y})")  # fmt: skip
            rows.append([t.name, views.VARIATION_WORDS.get(ms.variation, ms.variation),
                         views.ASSURANCE_WORDS.get(ms.assurance, "no target assurance"), latest])  # fmt: skip
        _table_slides(deck, f"{m.name}: across teams", f"{kind}, shared by the programme",
                      ["Team", "Variation", "Assurance", "Latest"], rows, [3.0, 2.7, 2.9, 3.8],
                      top=0.2)  # fmt: skip

    funnel = report.outcome_funnel()
    if funnel is not None:
        from qiwidgets import charts
        from qiwidgets.workbook import FUNNEL_MONTHS

        slide = deck.slide(f"{report.outcome.name}: funnel plot, last {FUNNEL_MONTHS} months",
                           glossary.explain("funnel_plot"))  # fmt: skip
        deck.picture(slide, charts.to_png(charts.funnel_chart_spec(funnel), scale=CHART_SCALE),
                     (MARGIN_IN, BODY_TOP_IN + 0.3, width, FOOTER_TOP_IN - BODY_TOP_IN - 0.45),
                     f"Funnel plot of {report.outcome.name} across teams")  # fmt: skip
        deck.notes(slide, [glossary.explain("funnel_plot"), glossary.explain("programme_average")])

    _bright_spot_slides(deck, report)
    _support_slides(deck, status)
    deck.icon_key()
    return deck.prs


def _list_slides(deck: _Deck, title: str, rule: str, items: Sequence[Sequence[tuple]],
                 per_slide: int, size: float = BODY_PT) -> None:  # fmt: skip
    """Paragraphs over as many slides as they take, each slide opening with ``rule`` (what
    puts a team on the list) in small print, and carrying it in its speaker notes."""
    width = SLIDE_WIDTH_IN - 2 * MARGIN_IN
    for slide, chunk in _parts(deck, title, "", items, per_slide):
        deck.text(slide, (MARGIN_IN, BODY_TOP_IN - 0.2, width, 0.8),
                  [[(rule, False, MUTED_COLOUR)]], SMALL_PT)  # fmt: skip
        deck.text(slide, (MARGIN_IN, BODY_TOP_IN + 0.65, width, FOOTER_TOP_IN - BODY_TOP_IN - 0.8),
                  list(chunk), size)  # fmt: skip
        deck.notes(slide, [rule])


def _bright_spot_slides(deck: _Deck, report: Any) -> None:
    """The bright spots and why (the core's words), then the changes taking hold on process
    measures, which are not bright spots, on slides of their own."""
    from qiwidgets.workbook.status import BRIGHT_SPOT_RULE, TAKING_HOLD_RULE

    status = report.status
    names = {t.code: t.name for t in status.teams}
    items = [[(f"{names.get(b.team_code, b.team_code)}: ", True, TEXT_COLOUR),
              (b.why(), False, TEXT_COLOUR)] for b in report.bright_spots()]  # fmt: skip
    if not items:
        items = [[(f"No team is a bright spot in {report.month.label()}.", False, TEXT_COLOUR)]]
    _list_slides(deck, "Bright spots", BRIGHT_SPOT_RULE, items, BRIGHT_SPOTS_PER_SLIDE)
    hold = status.changes_taking_hold()
    if hold:
        lines = [[(f"{t.name}: ", True, TEXT_COLOUR),
                  ("; ".join(x.measure_name for x in ms), False, TEXT_COLOUR)] for t, ms in hold]  # fmt: skip
        _list_slides(deck, "Changes taking hold on process measures", TAKING_HOLD_RULE, lines,
                     LINES_PER_SLIDE)  # fmt: skip


def _support_slides(deck: _Deck, status: Any) -> None:
    """The teams that may need support and why (the programme report's list, the core's
    reasons), with the rule in the speaker notes; a slide saying so when none does."""
    from qiwidgets.workbook.status import SUPPORT_RULE

    title, subtitle = "Teams that may need support", "A prompt for a conversation, not a rating"
    rows = [[t.name, "; ".join(r)] for t, r in status.support()]
    rows += [[name, f"its records could not be read: {why}"]
             for name, why in status.unreadable.values()]  # fmt: skip
    if rows:
        slides = _table_slides(deck, title, subtitle, ["Team", "Why a conversation may help"],
                               rows, [3.0, 9.4], per_slide=SUPPORT_PER_SLIDE, top=0.2)  # fmt: skip
    else:
        slides = [deck.slide(title, subtitle)]
        deck.text(slides[0], (MARGIN_IN, BODY_TOP_IN + 0.3, SLIDE_WIDTH_IN - 2 * MARGIN_IN, 1.0),
                  [[(f"No team shows a reason for extra support in {status.month:%B %Y}.",
                     False, TEXT_COLOUR)]], BODY_PT)  # fmt: skip
    for slide in slides:
        deck.notes(slide, [SUPPORT_RULE])


# --- writing --------------------------------------------------------------------------------------


def write_deck(prs: Any, path: str | os.PathLike) -> Path:
    """Save a presentation to ``path`` atomically (a temporary file beside it, then renamed)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".pptx", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            prs.save(f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_team_deck(report: Any, path: str | os.PathLike) -> Path:
    """:func:`team_deck` written to ``path`` (atomically)."""
    return write_deck(team_deck(report), path)


def write_programme_deck(report: Any, path: str | os.PathLike) -> Path:
    """:func:`programme_deck` written to ``path`` (atomically)."""
    return write_deck(programme_deck(report), path)
