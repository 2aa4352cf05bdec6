"""Render charts with no network: static SVG/PNG through vl-convert, HTML figures, notebooks.

What works everywhere (measured, see ``../shared/docs/jupyter-traps.md``): static SVG or PNG
from vl-convert. Altair's default renderer needs a CDN, its ``mimetype`` renderer breaks
papermill and Voilà with Vega-Lite 6, and ``template="inline"`` breaks on a page's second chart.
So every function here turns the Vega-Lite spec into SVG/PNG in this process; nothing is left
for a browser to fetch, and no ``<script>`` is ever written.
"""

from __future__ import annotations

import html
import re
from typing import Any
from xml.etree import ElementTree as ET

import altair as alt
import vl_convert as vlc

from qiwidgets.charts import _vl as vl
from qiwidgets.errors import ChartError

__all__ = ["RENDERER_NAME", "caption_of", "enable_offline", "to_html", "to_png", "to_svg"]

#: The name :func:`enable_offline` registers its Altair renderer under.
RENDERER_NAME = "qiwidgets"

_SVG_OPEN = re.compile(r"<svg\b[^>]*>", re.DOTALL)
# elements that must never appear in an SVG we put into a page
_UNSAFE_TAGS = {"script", "foreignobject", "iframe", "object", "embed", "link", "style", "use"}
_NETWORK = re.compile(r"^\s*(https?:|//|javascript:|file:)", re.IGNORECASE)
_CSS_URL = re.compile(r"url\(\s*[\"']?\s*(https?:|//|javascript:)", re.IGNORECASE)


def _spec(chart: Any) -> dict:
    if isinstance(chart, dict):
        return chart
    if isinstance(chart, alt.TopLevelMixin):
        return chart.to_dict()
    raise ChartError(
        f"`chart` must be an Altair chart or a Vega-Lite dict, got {type(chart).__name__}."
    )


def _vl_version(spec: dict) -> str | None:
    """The Vega-Lite version vl-convert should compile with, from the spec's ``$schema``."""
    m = re.search(r"/v(\d+)\.(\d+)", str(spec.get("$schema", "")))
    if not m:
        return None
    wanted = f"{m.group(1)}.{m.group(2)}"
    available = vlc.get_vegalite_versions()
    if wanted in available:
        return wanted
    same_major = [v for v in available if v.split(".")[0] == m.group(1)]
    return same_major[-1] if same_major else None


def _meta(spec: dict) -> dict:
    meta = spec.get("usermeta") or {}
    return meta.get("qiwidgets") or {}


def caption_of(chart: Any) -> tuple[str, str]:
    """``(title, caption)`` a qiwidgets chart carries (empty strings for other charts)."""
    spec = _spec(chart)
    meta = _meta(spec)
    title = meta.get("title")
    if not title:
        t = spec.get("title")
        title = t.get("text", "") if isinstance(t, dict) else (t or "")
        if isinstance(title, list):
            title = " ".join(str(x) for x in title)
    caption = meta.get("caption") or spec.get("description") or ""
    return str(title), str(caption)


def _label_svg(svg: str, title: str, description: str) -> str:
    """Give the root ``<svg>`` a ``role``, a ``<title>`` and a ``<desc>`` (accessible name)."""
    m = _SVG_OPEN.search(svg)
    if not m:
        raise ChartError("vl-convert returned something that is not SVG.")
    head = m.group(0)
    if "role=" not in head:
        head = head[:-1].rstrip("/") + ' role="img">' if not head.endswith("/>") else head
    inner = ""
    if title:
        inner += f"<title>{html.escape(title)}</title>"
    if description:
        inner += f"<desc>{html.escape(description)}</desc>"
    return svg[: m.start()] + head + inner + svg[m.end() :]


# The separator of a tooltip's lines in a mark's description, and the line break that replaces
# it in the mark's hover title.
_TIP_SEP = "; "
# A data mark vl-convert wrote with its description: ``<path … aria-label="…" …/>``.
_SYMBOL = re.compile(
    r'<(?P<tag>path|rect|text|line)\b(?P<attrs>[^>]*?\brole="graphics-symbol"[^>]*?)(?P<end>/?)>',
    re.DOTALL,
)
_ARIA_LABEL = re.compile(r'\baria-label="(?P<label>[^"]*)"')


def _tip_expression(tips: list) -> str:
    """A Vega expression: the tooltip's lines ``Title: value`` (missing values left out)."""
    pieces = []
    for tip in tips:
        name = tip.get("field") if isinstance(tip, dict) else None
        if not name:
            continue
        label = str(tip.get("title") or name)
        value = f"datum[{vl.string(name)}]"
        pieces.append(
            f"(isValid({value}) && {value} !== '' ? "
            f"{vl.string(label + ': ')} + {value} + {vl.string(_TIP_SEP)} : '')"
        )
    joined = " + ".join(pieces) or "''"
    return f"replace({joined}, regexp({vl.string(re.escape(_TIP_SEP) + '$')}), '')"


def _with_hover_titles(spec: Any) -> Any:
    """A copy of ``spec`` whose marks with a tooltip describe themselves with the tooltip's
    text (the description becomes the mark's hover title in :func:`to_svg`), and whose other
    marks carry no description (the chart's own ``<title>``/``<desc>`` speak for it)."""
    if isinstance(spec, list):
        return [_with_hover_titles(one) for one in spec]
    if not isinstance(spec, dict):
        return spec
    out = {k: (_with_hover_titles(v) if k in ("layer", "spec", "concat", "hconcat", "vconcat")
               else v) for k, v in spec.items()}  # fmt: skip
    if "mark" not in out:
        return out
    encoding = dict(out.get("encoding") or {})
    tips = encoding.get("tooltip")
    mark = out["mark"] if isinstance(out["mark"], dict) else {"type": out["mark"]}
    if isinstance(tips, dict):
        tips = [tips]
    if isinstance(tips, list) and tips and "description" not in encoding:
        out["transform"] = [*(out.get("transform") or []),
                            {"calculate": _tip_expression(tips), "as": "_qiw_tip"}]  # fmt: skip
        encoding["description"] = {"field": "_qiw_tip", "type": "nominal"}
        out["encoding"] = encoding
    elif "description" not in encoding and "aria" not in mark:
        out["mark"] = {**mark, "aria": False}
    return out


def _hover_titles(svg: str) -> str:
    """Give every data mark with a description a ``<title>`` child holding it, one tooltip line
    per line: browsers show it when the pointer rests on the mark (no script needed)."""

    def titled(m: re.Match) -> str:
        label = _ARIA_LABEL.search(m.group("attrs"))
        if not label or not label.group("label"):
            return m.group(0)
        # the attribute's text, its lines apart, written again as element text
        text = html.escape(html.unescape(label.group("label")).replace(_TIP_SEP, "\n"),
                           quote=False)
        head = f"<{m.group('tag')}{m.group('attrs')}>"
        title = f"<title>{text}</title>"
        # a self-closing mark gets the title as its only child; an open one gets it first
        return head + title + (f"</{m.group('tag')}>" if m.group("end") else "")

    return _SYMBOL.sub(titled, svg)


def to_svg(chart: Any, *, title: str | None = None, description: str | None = None) -> str:
    """The chart as a standalone SVG string, rendered here by vl-convert (no network).

    The root element gets ``role="img"``, a ``<title>`` (the chart title) and a ``<desc>``
    (the plain-language reading), so screen readers announce what the chart says. Every data
    mark with a tooltip gets the tooltip as its own ``<title>``: resting the pointer on a
    point shows its period, value, limits and signal in JupyterLab, Voilà, a report or a
    browser, with no script. The output is deterministic: the same chart gives the same bytes.

    Parameters
    ----------
    chart:
        An Altair chart or a Vega-Lite spec (dict).
    title, description:
        Override the accessible title and description (default: taken from the chart).
    """
    spec = _spec(chart)
    t, d = caption_of(spec)
    svg = vlc.vegalite_to_svg(_with_hover_titles(spec), vl_version=_vl_version(spec))
    svg = _hover_titles(svg)
    return _label_svg(svg, t if title is None else title, d if description is None else description)


def to_png(chart: Any, *, scale: float = 2.0, ppi: float | None = None) -> bytes:
    """The chart as PNG bytes, rendered by vl-convert (no network).

    Parameters
    ----------
    scale:
        Pixel multiplier (2 gives crisp images on high-resolution screens and in print).
    ppi:
        Pixels per inch written into the PNG (optional).
    """
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not 0.1 <= scale <= 10:
        raise ChartError(f"`scale` must be a number from 0.1 to 10, got {scale!r}.")
    spec = _spec(chart)
    kwargs: dict[str, Any] = {"scale": float(scale), "vl_version": _vl_version(spec)}
    if ppi is not None:
        kwargs["ppi"] = float(ppi)
    return vlc.vegalite_to_png(spec, **kwargs)


def _unsafe_reason(svg: str) -> str | None:
    """Why ``svg`` cannot go into a page (a script, handler or network reference), or None."""
    try:
        root = ET.fromstring(svg)
    except ET.ParseError as exc:
        return f"it is not well-formed SVG ({exc})"
    for el in root.iter():
        tag = str(el.tag).rsplit("}", 1)[-1].lower()
        if tag in _UNSAFE_TAGS:
            return f"it contains a <{tag}> element"
        for name, value in el.attrib.items():
            local = name.rsplit("}", 1)[-1].lower()
            if local.startswith("on"):
                return f"it contains an event handler ({local})"
            if local in ("href", "src") and _NETWORK.match(value):
                return f"it refers to {value[:40]!r}"
            if local == "style" and _CSS_URL.search(value):
                return "it loads a stylesheet resource from the network"
    return None


def _check_svg(svg: str) -> str:
    s = svg.strip()
    if s.startswith("<?xml"):
        s = s[s.index("?>") + 2 :].lstrip()
    if not s.startswith("<svg"):
        raise ChartError(
            "`chart_or_svg` must be an Altair chart, a Vega-Lite dict or an SVG string."
        )
    reason = _unsafe_reason(s)
    if reason:
        raise ChartError(f"`chart_or_svg` cannot be put into a page: {reason}.")
    return s


def to_html(
    chart_or_svg: Any,
    *,
    caption: str | None = None,
    title: str | None = None,
    css_class: str = "qiw-chart",
) -> str:
    """An HTML fragment: a ``<figure>`` with the inline SVG and its caption.

    No ``<script>``, no stylesheet, no network URL: the fragment shows the same in JupyterLab,
    Voilà, an nbconvert report or a static HTML file. Every piece of text from users (titles,
    captions, team names, annotations) is HTML-escaped.

    Parameters
    ----------
    chart_or_svg:
        An Altair chart, a Vega-Lite dict, or an SVG string from :func:`to_svg`.
    caption:
        The caption (default: the chart's plain-language reading). ``""`` for none.
    title:
        Accessible title for the SVG (default: the chart title).
    css_class:
        Class of the ``<figure>`` (letters, digits, ``-`` and ``_``).
    """
    if not isinstance(css_class, str) or not re.fullmatch(r"[A-Za-z0-9_ -]{1,80}", css_class):
        raise ChartError(f"`css_class` must be letters, digits, '-' or '_', got {css_class!r}.")
    if isinstance(chart_or_svg, str):
        svg = _check_svg(chart_or_svg)
        cap = caption or ""
        if title is not None or caption:
            svg = _label_svg(
                re.sub(r"<title>.*?</title>|<desc>.*?</desc>", "", svg, flags=re.DOTALL),
                title or "",
                cap,
            )
    else:
        t, c = caption_of(chart_or_svg)
        cap = c if caption is None else caption
        svg = to_svg(chart_or_svg, title=t if title is None else title, description=cap)
        _check_svg(svg)
    parts = [f'<figure class="{html.escape(css_class)}" style="margin:0 0 1em 0">', svg]
    if cap:
        lines = "<br>".join(html.escape(line) for line in str(cap).splitlines())
        parts.append(
            '<figcaption style="font-family:sans-serif;font-size:0.9em;color:#333;'
            f'max-width:60em;margin-top:0.3em">{lines}</figcaption>'
        )
    parts.append("</figure>")
    return "".join(parts)


def _renderer(spec: dict, **_: Any) -> dict[str, str]:
    """Altair renderer: an HTML figure (SVG + caption) and the bare SVG, both static."""
    svg = to_svg(spec)
    title, caption = caption_of(spec)
    return {
        "text/html": to_html(svg, caption=caption, title=title),
        "image/svg+xml": svg,
        "text/plain": f"<Chart: {title or 'untitled'}>",
    }


def enable_offline(mode: str = "figure") -> str:
    """Make Altair show charts as static SVG in notebooks, with no network.

    Parameters
    ----------
    mode:
        ``"figure"`` (default): our renderer, an HTML ``<figure>`` with the SVG and the
        plain-language reading as its caption. ``"svg"``: Altair's own ``svg`` renderer
        (vl-convert).

    Returns
    -------
    str
        The name of the renderer that was active before, to restore it with
        ``alt.renderers.enable(name)``.
    """
    if mode not in ("figure", "svg"):
        raise ChartError(f"`mode` must be one of 'figure', 'svg', got {mode!r}.")
    previous = alt.renderers.active
    if mode == "svg":
        alt.renderers.enable("svg")
    else:
        if RENDERER_NAME not in alt.renderers.names():
            alt.renderers.register(RENDERER_NAME, _renderer)
        alt.renderers.enable(RENDERER_NAME)
    return previous
