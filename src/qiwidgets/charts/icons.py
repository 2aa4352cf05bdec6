"""Making Data Count variation and assurance icons, drawn by us as small inline SVG.

The meanings follow NHS England's "Making Data Count" guidance (and the icon names of
NHSRplotthedots): a ring in the category colour, a letter (H for a special cause in the high
direction, L for low; P pass, F fail, ? hit and miss) and a tiny picture of the data.

Every icon is a self-contained ``<svg>`` string: no ids (so many icons can share a page), no
external references, a ``<title>`` for screen readers. Use it inline in HTML, or turn it into a
``data:`` URI for an ``<img>`` or an Altair ``mark_image`` with :func:`icon_data_uri`.

>>> svg = variation_icon_svg("improvement_high")
>>> svg.startswith("<svg") and "<title>" in svg
True
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence

from qiwidgets.charts.palette import (
    COMMON_CAUSE,
    CONCERN,
    ICON_SIZE,
    IMPROVEMENT,
    LIMIT_LINE,
    NEUTRAL,
)
from qiwidgets.errors import ChartError

__all__ = [
    "ASSURANCE_ICON_NAMES",
    "VARIATION_ICON_NAMES",
    "assurance_icon_svg",
    "icon_data_uri",
    "icon_key_html",
    "icon_legend",
    "icons_html",
    "variation_icon_svg",
]

# name -> (colour, letter, which way the last points go: +1 high, -1 low, 0 common cause, meaning)
_VARIATION = {
    "common_cause": (COMMON_CAUSE, "", 0, "Common cause variation: no sign of change"),
    "improvement_high": (
        IMPROVEMENT,
        "H",
        1,
        "Special cause variation: improvement (higher values)",
    ),
    "improvement_low": (
        IMPROVEMENT,
        "L",
        -1,
        "Special cause variation: improvement (lower values)",
    ),
    "concern_high": (CONCERN, "H", 1, "Special cause variation: concern (higher values)"),
    "concern_low": (CONCERN, "L", -1, "Special cause variation: concern (lower values)"),
    "neutral_high": (
        NEUTRAL,
        "H",
        1,
        "Special cause variation: higher values (no improvement direction set)",
    ),
    "neutral_low": (
        NEUTRAL,
        "L",
        -1,
        "Special cause variation: lower values (no improvement direction set)",
    ),
}

# name -> (colour, letter, where the limits band sits against the target, meaning)
_ASSURANCE = {
    "pass": (IMPROVEMENT, "P", "pass", "Assurance: the target will be met consistently"),
    "fail": (CONCERN, "F", "fail", "Assurance: the target will be missed consistently"),
    "hit_and_miss": (
        COMMON_CAUSE,
        "?",
        "straddle",
        (
            "Assurance: hit and miss, the target lies within the limits and will be met only "
            "some of the time"
        ),
    ),
}

VARIATION_ICON_NAMES: tuple[str, ...] = tuple(_VARIATION)
ASSURANCE_ICON_NAMES: tuple[str, ...] = tuple(_ASSURANCE)

# The small picture of data inside a variation icon: 7 points, left to right, in icon units.
_DOT_X = (22, 31, 40, 49, 58, 67, 76)
_DOT_Y_COMMON = (66, 60, 68, 62, 70, 61, 66)
_DOT_Y_HIGH = (70, 66, 71, 65, 69, 58, 53)
_DOT_Y_LOW = (58, 62, 57, 63, 59, 70, 75)
_SPECIAL_DOTS = 2  # the last points drawn in the category colour


def _frame(colour: str, title: str, size: int, body: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100" width="{size}" '
        f'height="{size}" role="img" class="qiw-icon" style="vertical-align:middle">'
        f"<title>{html.escape(title)}</title>"
        f'<circle cx="50" cy="50" r="44" fill="#ffffff" stroke="{colour}" stroke-width="7"/>'
        f"{body}</svg>"
    )


def _letter(letter: str, colour: str) -> str:
    if not letter:
        return ""
    if colour == COMMON_CAUSE:  # grey letters on white need more contrast than grey rings
        colour = LIMIT_LINE
    return (
        f'<text x="50" y="44" text-anchor="middle" font-family="DejaVu Sans, Arial, sans-serif" '
        f'font-weight="bold" font-size="30" fill="{colour}">{html.escape(letter)}</text>'
    )


def _check_size(size: int) -> int:
    if isinstance(size, bool) or not isinstance(size, int) or not 8 <= size <= 400:
        raise ChartError(f"`size` must be a whole number of pixels from 8 to 400, got {size!r}.")
    return size


def variation_icon_svg(name: str, *, size: int = ICON_SIZE, title: str | None = None) -> str:
    """The Making Data Count variation icon ``name`` as an inline SVG string.

    Parameters
    ----------
    name:
        One of ``common_cause``, ``improvement_high``, ``improvement_low``, ``concern_high``,
        ``concern_low``, ``neutral_high``, ``neutral_low`` (the ``variation_icon`` column of an
        :func:`qiwidgets.spc.mdc_chart` summary).
    size:
        Width and height in pixels.
    title:
        The text read by screen readers and shown on hover (default: the icon's meaning).

    Returns
    -------
    str
        ``<svg ...>...</svg>``, with no ids and no external references.

    Examples
    --------
    >>> "Common cause" in variation_icon_svg("common_cause")
    True
    """
    if name not in _VARIATION:
        raise ChartError(
            f"`name` must be one of {', '.join(repr(n) for n in VARIATION_ICON_NAMES)}, "
            f"got {name!r}."
        )
    colour, letter, way, meaning = _VARIATION[name]
    ys: Sequence[int] = {0: _DOT_Y_COMMON, 1: _DOT_Y_HIGH, -1: _DOT_Y_LOW}[way]
    line = " ".join(f"{x},{y}" for x, y in zip(_DOT_X, ys, strict=True))
    body = [
        _letter(letter, colour),
        f'<polyline points="{line}" fill="none" stroke="{COMMON_CAUSE}" stroke-width="2"/>',
    ]
    for i, (x, y) in enumerate(zip(_DOT_X, ys, strict=True)):
        special = way != 0 and i >= len(_DOT_X) - _SPECIAL_DOTS
        body.append(
            f'<circle cx="{x}" cy="{y}" r="4.5" fill="{colour if special else "#7f7f7f"}"/>'
        )
    return _frame(colour, title or meaning, _check_size(size), "".join(body))


def assurance_icon_svg(name: str, *, size: int = ICON_SIZE, title: str | None = None) -> str:
    """The Making Data Count assurance icon ``name`` as an inline SVG string.

    Parameters
    ----------
    name:
        ``pass``, ``fail`` or ``hit_and_miss`` (the ``assurance_icon`` column of an
        :func:`qiwidgets.spc.mdc_chart` summary).
    size, title:
        As for :func:`variation_icon_svg`.

    Examples
    --------
    >>> "hit and miss" in assurance_icon_svg("hit_and_miss")
    True
    """
    if name not in _ASSURANCE:
        raise ChartError(
            f"`name` must be one of {', '.join(repr(n) for n in ASSURANCE_ICON_NAMES)}, "
            f"got {name!r}."
        )
    colour, letter, where, meaning = _ASSURANCE[name]
    # the process limits as a band, the target as a line across it
    band_top, band_bottom = {"pass": (52, 64), "fail": (70, 82), "straddle": (56, 80)}[where]
    target_y = {"pass": 74, "fail": 60, "straddle": 68}[where]
    body = [
        _letter(letter, colour),
        (
            f'<rect x="22" y="{band_top}" width="56" height="{band_bottom - band_top}" '
            f'fill="{colour}" fill-opacity="0.25" stroke="#7f7f7f" stroke-width="1.5"/>'
        ),
        (
            f'<line x1="18" y1="{target_y}" x2="82" y2="{target_y}" stroke="#1a1a1a" '
            f'stroke-width="3" stroke-dasharray="6 3"/>'
        ),
    ]
    return _frame(colour, title or meaning, _check_size(size), "".join(body))


def icon_legend(name: str) -> tuple[str, str, str]:
    """``(colour, letter, meaning)`` of the variation or assurance icon ``name``: what the key
    to the icons says of it, for a channel that shows icons as text (a PowerPoint slide).

    >>> icon_legend("pass")[1:]
    ('P', 'Assurance: the target will be met consistently')
    """
    entry = _VARIATION.get(name) or _ASSURANCE.get(name)
    if entry is None:
        names = ", ".join(repr(n) for n in (*VARIATION_ICON_NAMES, *ASSURANCE_ICON_NAMES))
        raise ChartError(f"`name` must be one of {names}, got {name!r}.")
    return entry[0], entry[1], entry[3]


def icon_data_uri(svg: str) -> str:
    """A ``data:image/svg+xml;base64,...`` URI for an icon (for ``<img>`` or ``mark_image``)."""
    if not isinstance(svg, str) or not svg.lstrip().startswith("<svg"):
        raise ChartError("`svg` must be an SVG string starting with '<svg'.")
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def icons_html(
    variation: str | None, assurance: str | None = None, *, size: int = ICON_SIZE
) -> str:
    """The variation icon and (when given) the assurance icon side by side, as an HTML span.

    Missing names (``None`` or NaN, as in a summary without a target) are left out.

    >>> icons_html("common_cause", None).count("<svg")
    1
    """
    parts = []
    if isinstance(variation, str):
        parts.append(variation_icon_svg(variation, size=size))
    if isinstance(assurance, str):
        parts.append(assurance_icon_svg(assurance, size=size))
    return f'<span class="qiw-icons" style="display:inline-flex;gap:4px">{"".join(parts)}</span>'


def icon_key_html(*, size: int = ICON_SIZE) -> str:
    """A key to every variation and assurance icon: each icon beside its meaning, as an HTML
    table (a printed report carries it, so every icon on paper can be read).

    >>> key = icon_key_html()
    >>> key.count("<svg") == len(VARIATION_ICON_NAMES) + len(ASSURANCE_ICON_NAMES)
    True
    """
    rows = [(variation_icon_svg(name, size=size), v[3]) for name, v in _VARIATION.items()]
    rows += [(assurance_icon_svg(name, size=size), v[3]) for name, v in _ASSURANCE.items()]
    body = "".join(
        f'<tr><td style="padding:2px 8px 2px 0">{svg}</td><td>{html.escape(meaning)}</td></tr>'
        for svg, meaning in rows
    )
    return (
        '<table class="qiw qiw-icon-key"><caption style="text-align:left;font-weight:bold">'
        "Key to the icons (NHS Making Data Count)</caption>"
        f"<tbody>{body}</tbody></table>"
    )
