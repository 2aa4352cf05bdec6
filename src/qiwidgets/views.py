"""The small HTML kit every channel shows a verdict with: the dashboards, the reports and the
notebook views render the core's statuses (:mod:`qiwidgets.workbook.status`) through these
functions and work nothing out themselves.

Every element that shows a verdict for a team's measure carries the status's ``data-qi-*``
attributes (:meth:`~qiwidgets.workbook.status.MeasureStatus.data_attributes`); every bright-spot
entry carries ``data-qi-bright-spot="<team code>"``. Text that came from a user is escaped;
icons are generated SVG with a text title; a chart's HTML is given by the channel (a drawn SVG
in a report, a chart the browser draws on a dashboard) and placed as it is.

One number formatter (:func:`value_text`), used for every value shown.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable
from typing import Any

from qiwidgets import glossary
from qiwidgets.spc.reading import format_number

#: Size of the Making Data Count icons on a measure's card, and in a table of teams.
CARD_ICON_SIZE = 44
TABLE_ICON_SIZE = 32
#: Colour of secondary text: NHS dark grey (#425563) on white has a contrast of 7.6:1 (WCAG AA
#: asks 4.5:1).
MUTED = "#425563"
#: Colour of a data note: a dark brown (#6b3a00) on white, 9.3:1.
NOTE = "#6b3a00"

#: How a variation and an assurance read on a card (the verdict in words; the glossary's).
VARIATION_WORDS = {
    "common_cause": "Common cause variation",
    "special_cause_improvement": "Special cause improvement",
    "special_cause_concern": "Special cause concern",
    "special_cause_neutral": "Special cause variation",
    "none": "No chart yet",
}
ASSURANCE_WORDS = {
    "pass": "Target: consistently passed",
    "fail": "Target: consistently failed",
    "hit_and_miss": "Target: hit and miss",
}


def esc(value: Any) -> str:
    """Text as HTML (quotes too, so it is safe inside an attribute)."""
    return html.escape("" if value is None else str(value), quote=True)


def attrs(pairs: dict[str, str]) -> str:
    """``' name="value" ...'`` with every value escaped."""
    return "".join(f' {name}="{esc(value)}"' for name, value in pairs.items())


def value_text(value: float | None, unit: str = "") -> str:
    """A value as every screen shows it: ``3.93 per 1,000 bed days``, ``91.6%``, ``n/a``."""
    if value is None:
        return "n/a"
    text = format_number(float(value))
    if not unit:
        return text
    return f"{text}{'' if unit == '%' else ' '}{unit}"


def icons(status: Any, size: int = CARD_ICON_SIZE) -> str:
    """The status's variation and assurance icons (generated SVG with text titles)."""
    from qiwidgets import charts

    if status.variation_icon is None:
        return ""
    return charts.icons_html(status.variation_icon, status.assurance_icon, size=size)


def verdict_words(status: Any) -> list[str]:
    """The verdict in words, as a card shows it beside the icons."""
    words = [VARIATION_WORDS.get(status.variation, status.variation)]
    if status.variation not in ("none",):
        explain = glossary.explain(status.variation)
        if explain:
            words[0] += f" — {explain}"
    if status.assurance in ASSURANCE_WORDS:
        text = ASSURANCE_WORDS[status.assurance]
        if status.assurance_caveat:
            text += f" ({status.assurance_caveat})"
        words.append(text)
    return words


def verdict_html(status: Any, size: int = CARD_ICON_SIZE) -> str:
    """Icons and the verdict in words, in an element that carries the verdict's attributes."""
    words = "<br>".join(esc(w) for w in verdict_words(status))
    return (
        f'<div class="qi-verdict"{attrs(status.data_attributes())} '
        'style="display:flex;gap:10px;align-items:center">'
        f'{icons(status, size)}<div style="font-size:90%;color:{MUTED}">{words}</div></div>'
    )


def facts(status: Any) -> list[str]:
    """Latest value, target, which way is better, the rule set: plain text pieces."""
    out = []
    if status.latest_value is not None:
        out.append(f"Latest: {value_text(status.latest_value, status.unit)} "
                   f"({status.latest_period:%b %Y})")  # fmt: skip
    if status.target is not None:
        out.append(f"target {value_text(status.target, status.unit)}")
    better = {"increase": "higher is better", "decrease": "lower is better"}.get(
        status.direction or "")  # fmt: skip
    if better:
        out.append(better)
    out.append(f"Rule set: {status.rule_set_name}")
    return out


def measure_card(status: Any, chart_html: str = "", *, heading: str = "h3",
                 extra: str = "", css_class: str = "qi-card") -> str:  # fmt: skip
    """A measure's card: name and kind, the verdict (icons and words), the facts, the chart,
    the reading, signals new this month, a suggestion to recalculate limits, the notes."""
    kind = glossary.label(status.measure_type) if status.measure_type else ""
    shared = ", shared by the programme" if status.shared else ""
    head = (
        f'<{heading} style="margin:0.6em 0 0.2em 0">{esc(status.measure_name)} '
        f'<span style="font-weight:normal;font-size:80%;color:{MUTED}">({esc(kind)}{shared})'
        f"</span></{heading}>"
    )
    parts = [head, verdict_html(status)]
    parts.append(f'<div class="qi-facts" style="margin:4px 0">{esc(" · ".join(facts(status)))}'
                 "</div>")  # fmt: skip
    parts.append(chart_html)
    parts.append(
        f'<p class="qi-reading"{attrs(status.data_attributes())}><strong>Reading '
        f"({esc(status.rule_set_name)}):</strong> {esc(status.reading)}</p>"
    )
    if status.sustained:
        parts.append(f'<p class="qi-sustained">{esc(status.sustained[:1].upper())}'
                     f"{esc(status.sustained[1:])}.</p>")  # fmt: skip
    if status.new_signals:
        items = "".join(f"<li>{esc(s)}</li>" for s in status.new_signals)
        parts.append(f'<div class="qi-new-signals"><p>Signals new in {status.month:%B %Y}:</p>'
                     f"<ul>{items}</ul></div>")  # fmt: skip
    elif status.view is not None:
        parts.append(f'<p class="qi-new-signals">No new signal in {status.month:%B %Y}.</p>')
    if status.rebase is not None:
        parts.append(f'<p class="qi-rebase" role="note" style="border-left:4px solid #005eb8;'
                     f'padding:4px 8px">{esc(status.rebase.text)}</p>')  # fmt: skip
    notes = [n for n in status.notes if status.rebase is None or n != status.rebase.text]
    if notes:
        parts.append(f'<ul class="qi-notes" style="color:{NOTE}">'
                     + "".join(f"<li>{esc(n)}</li>" for n in notes) + "</ul>")  # fmt: skip
    parts.append(extra)
    return (f'<section class="{esc(css_class)}" data-measure="{esc(status.measure_code)}"'
            f'{attrs(status.data_attributes())}>{"".join(parts)}</section>')  # fmt: skip


def verdict_cell(status: Any | None) -> str:
    """A table cell's content: the icons and the verdict's name (or why there is none)."""
    if status is None:
        return "<em>not in this team's family</em>"
    if status.variation == "none":
        return f'<span class="qi-verdict"{attrs(status.data_attributes())}><em>no chart yet</em></span>'
    words = VARIATION_WORDS.get(status.variation, status.variation)
    if status.assurance in ASSURANCE_WORDS:
        words += "; " + ASSURANCE_WORDS[status.assurance].lower()
    return (f'<span class="qi-verdict"{attrs(status.data_attributes())}>'
            f"{icons(status, TABLE_ICON_SIZE)}"
            f'<span style="display:block;font-size:80%;color:{MUTED}">{esc(words)}</span></span>')  # fmt: skip


def table(head: Iterable[str], rows: Iterable[Iterable[str]], *, css_class: str = "qi-table",
          row_attrs: Iterable[str] | None = None) -> str:  # fmt: skip
    """A table of cells that are already HTML (escape text with :func:`esc` first)."""
    th = "".join(f'<th scope="col" style="text-align:left;padding:4px 8px">{esc(h)}</th>'
                 for h in head)  # fmt: skip
    extra = list(row_attrs) if row_attrs is not None else None
    body = []
    for i, row in enumerate(rows):
        tds = "".join(f'<td style="padding:4px 8px;vertical-align:top">{c}</td>' for c in row)
        body.append(f"<tr{extra[i] if extra else ''}>{tds}</tr>")
    return (f'<table class="{esc(css_class)}" style="border-collapse:collapse">'
            f"<thead><tr>{th}</tr></thead><tbody>{''.join(body)}</tbody></table>")  # fmt: skip


def overview_table(team_status: Any) -> str:
    """A team's family of measures, a row each: kind, latest, target, verdict, reading."""
    rows = []
    for s in team_status.measures:
        rows.append([
            esc(s.measure_name), esc(glossary.label(s.measure_type)),
            esc(value_text(s.latest_value, s.unit) if s.latest_value is not None else ""),
            esc(value_text(s.target, s.unit) if s.target is not None else "none set"),
            verdict_cell(s), f'<span{attrs(s.data_attributes())}>{esc(s.reading)}</span>',
        ])  # fmt: skip
    if not rows:
        return "<p><em>This team has no measures yet.</em></p>"
    return table(["Measure", "Kind", "Latest", "Target", "Verdict", "What the chart says"], rows,
                 css_class="qi-overview-table")  # fmt: skip


def glance_table(programme_status: Any, team_cell: Callable[[Any], str]) -> str:
    """Every team (by name, never ranked) and the verdict of each shared measure."""
    shared = programme_status.shared
    rows, row_attrs = [], []
    for t in programme_status.teams:
        score = t.score
        scored = (f"{_score(score.team_score)} / {_score(score.lead_score)}" if score is not None
                  else "not scored this month")  # fmt: skip
        cells = [team_cell(t), esc(scored)]
        cells += [verdict_cell(t.measure(m.code)) for m in shared]
        rows.append(cells)
        row_attrs.append(f' data-team="{esc(t.code)}"')
    return table(["Team", "Progress score (team / lead)", *[m.name for m in shared]], rows,
                 css_class="qi-glance", row_attrs=row_attrs)  # fmt: skip


def _score(v: float | None) -> str:
    return "–" if v is None else f"{v:.1f}"


def bright_spots(programme_status: Any, team_cell: Callable[[Any], str]) -> str:
    """The bright spots, each with why (the rule is :data:`BRIGHT_SPOT_RULE`), and the
    changes taking hold on process measures, under their own name."""
    from qiwidgets.workbook.status import BRIGHT_SPOT_RULE

    spots = programme_status.bright_spots()
    by_code = {t.code: t for t in programme_status.teams}
    out = [f'<p class="qi-rule" style="font-size:90%;color:{MUTED}">{esc(BRIGHT_SPOT_RULE)}</p>']
    if spots:
        items = "".join(
            f'<li data-qi-bright-spot="{esc(b.team_code)}">{team_cell(by_code[b.team_code])}: '
            f"{esc(b.why())}</li>" for b in spots
        )  # fmt: skip
        out.append(f'<ul class="qi-bright">{items}</ul>')
    else:
        out.append(f"<p>No team is a bright spot in {programme_status.month:%B %Y}.</p>")
    hold = programme_status.changes_taking_hold()
    if hold:
        items = "".join(
            f"<li>{team_cell(t)}: " + esc("; ".join(m.measure_name for m in ms)) + "</li>"
            for t, ms in hold
        )  # fmt: skip
        out.append("<p>Changes taking hold (special cause improvement on a process measure):</p>"
                   f'<ul class="qi-taking-hold">{items}</ul>')  # fmt: skip
    return "".join(out)


def support(programme_status: Any, team_cell: Callable[[Any], str]) -> str:
    """Teams that may need support, with the reasons (the rule is :data:`SUPPORT_RULE`)."""
    from qiwidgets.workbook.status import SUPPORT_RULE

    rows = [[team_cell(t), esc("; ".join(r))] for t, r in programme_status.support()]
    rows += [[esc(name), esc(f"its records could not be read: {why}")]
             for name, why in programme_status.unreadable.values()]  # fmt: skip
    out = [f'<p class="qi-rule" style="font-size:90%;color:{MUTED}">{esc(SUPPORT_RULE)}</p>']
    if rows:
        out.append(table(["Team", "Why a conversation may help"], rows, css_class="qi-support"))
    else:
        out.append(f"<p>No team shows a reason for extra support in "
                   f"{programme_status.month:%B %Y}.</p>")  # fmt: skip
    return "".join(out)


__all__ = [
    "ASSURANCE_WORDS",
    "VARIATION_WORDS",
    "attrs",
    "bright_spots",
    "esc",
    "facts",
    "glance_table",
    "icons",
    "measure_card",
    "overview_table",
    "support",
    "table",
    "value_text",
    "verdict_cell",
    "verdict_html",
    "verdict_words",
]
