"""Charts in the dashboards: sent ready-drawn when they can be, or as a spec the page draws.

Turning a chart into SVG with vl-convert costs ~0.1–0.3 s per chart on our 2-core machines
(its spec, from :func:`qiwidgets.charts.spc_chart_spec`, ~30 ms). A dashboard interaction has a
budget of 200 ms. So in the dashboards:

* the kernel builds the chart's spec with :mod:`qiwidgets.charts` (nothing is drawn
  differently) and sends only that Vega-Lite spec, inside a
  ``<div class="qi-vl" data-spec="...">`` in a ``widgets.HTML``;
* the page loads vl-convert's JavaScript bundle from the Voilà server itself (no CDN) and draws
  every such ``div`` as SVG when it appears (``static/qiwidgets.js``);
* specs are cached by a fingerprint of everything that goes into the chart (the SPC result,
  the annotations, the width and the code that draws it), in memory and — when
  ``QI_CHART_CACHE`` names a folder — on disk, shared by every kernel of the server.
  ``qiwidgets serve`` fills that folder in the background for every team
  (:mod:`qiwidgets.dashboards.prewarm`), and keeps there, drawn as SVG, the charts a page
  opens with and each measure's chart under every rule set; :func:`chart_html` sends those as
  they are. An edit changes the fingerprint, so
  a stale chart is never shown; it only costs one rebuild.

The spec's text (team names, notes, readings) is data to Vega and drawn as SVG text, never as
HTML; the attribute holding the spec is HTML-escaped.
"""

from __future__ import annotations

import collections
import hashlib
import html
import json
import logging
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

import pandas as pd

from qiwidgets import config

log = logging.getLogger("qiwidgets.dashboards")

#: Environment variable naming the on-disk spec cache shared by a server's kernels.
CACHE_ENV = config.env_name("chart_cache")
#: Specs kept in memory per kernel.
MEMORY_ENTRIES = 256

_memory: collections.OrderedDict[str, dict] = collections.OrderedDict()
_lock = threading.Lock()
_code_version: str | None = None
stats = {"hits": 0, "disk_hits": 0, "misses": 0}


def code_version() -> str:
    """A fingerprint of the code that computes and draws charts (package files and versions).

    Any change to :mod:`qiwidgets` (other than the dashboards), Altair or vl-convert gives new
    cache keys, so an old spec is never reused after an upgrade.
    """
    global _code_version
    if _code_version is None:
        from importlib.metadata import version  # not importing Altair: a cached chart needs none

        import qiwidgets

        h = hashlib.sha256()
        h.update(f"{qiwidgets.__version__}|{version('altair')}|{version('vl-convert-python')}"
                 .encode())  # fmt: skip
        root = Path(qiwidgets.__file__).parent
        for path in sorted(root.rglob("*.py")):
            if "dashboards" in path.relative_to(root).parts:
                continue
            st = path.stat()
            h.update(f"{path.relative_to(root)}|{st.st_size}|{st.st_mtime_ns}".encode())
        _code_version = h.hexdigest()[:16]
    return _code_version


def _frame_bytes(frame: pd.DataFrame | None) -> bytes:
    if frame is None:
        return b"-"
    head = repr((list(frame.columns), [str(t) for t in frame.dtypes])).encode()
    try:
        body = pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes()
    except (TypeError, ValueError):  # unhashable cells: fall back to a text form
        body = frame.to_csv().encode()
    return head + body


def _plain(value: Any) -> Any:
    """JSON-able form of options/annotations for hashing."""
    return json.loads(json.dumps(value, default=str, sort_keys=True))


def fingerprint(kind: str, result: Any, *parts: Any) -> str:
    """A key for the spec drawn from ``result`` (an SPC or funnel result) and ``parts``."""
    h = hashlib.sha256()
    h.update(f"{code_version()}|{kind}".encode())
    for name in ("points", "summary", "limits"):
        h.update(_frame_bytes(getattr(result, name, None)))
    meta = {
        "chart": getattr(result, "chart", None),
        "rule_set": getattr(result, "rule_set", None),
        "facets": list(getattr(result, "facets", ()) or ()),
        "options": getattr(result, "options", {}),
        "warnings": list(getattr(result, "warnings", ()) or ()),
    }
    h.update(json.dumps(_plain(meta), sort_keys=True).encode())
    for part in parts:
        if isinstance(part, pd.DataFrame):
            h.update(_frame_bytes(part))
        else:
            h.update(json.dumps(_plain(part), sort_keys=True).encode())
    return h.hexdigest()


def _cache_dir() -> Path | None:
    folder = os.environ.get(CACHE_ENV)
    if not folder:
        return None
    path = Path(folder)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return path


def cached_spec(key: str, build: Any) -> dict:
    """The spec for ``key``: from memory, from the shared folder, or ``build()`` (then stored)."""
    with _lock:
        if key in _memory:
            _memory.move_to_end(key)
            stats["hits"] += 1
            return _memory[key]
    folder = _cache_dir()
    spec = None
    if folder is not None:
        path = folder / f"{key}.json"
        try:
            spec = json.loads(path.read_text(encoding="utf-8"))
            stats["disk_hits"] += 1
        except (OSError, ValueError):
            spec = None
    if spec is None:
        stats["misses"] += 1
        spec = build()
        if folder is not None:
            _write_atomic(folder / f"{key}.json", json.dumps(spec, separators=(",", ":")))
    with _lock:
        _memory[key] = spec
        while len(_memory) > MEMORY_ENTRIES:
            _memory.popitem(last=False)
    return spec


def _write_atomic(path: Path, text: str) -> None:
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except OSError:  # a full or read-only disk only costs speed
        log.warning("Could not write the chart cache file %s", path, exc_info=True)


def clear_memory() -> None:
    """Forget the specs held in memory (tests and benchmarks)."""
    with _lock:
        _memory.clear()


# --- specs ------------------------------------------------------------------------------------


def spc_spec(result: Any, annotations: Any = None, width: int = 640, **options: Any) -> dict:
    """The Vega-Lite spec of :func:`qiwidgets.charts.spc_chart` for ``result`` (cached)."""
    rows = list(annotations or [])
    key = fingerprint("spc", result, rows, int(width), options)

    def build() -> dict:
        from qiwidgets import charts

        return charts.spc_chart_spec(result, annotations=rows or None, width=width, **options)

    return cached_spec(key, build)


def small_multiples_spec(result: Any, columns: int = 4, **options: Any) -> dict:
    """The spec of :func:`qiwidgets.charts.small_multiples` (cached)."""
    key = fingerprint("small_multiples", result, int(columns), options)

    def build() -> dict:
        from qiwidgets import charts

        return charts.small_multiples_spec(result, columns=columns, **options)

    return cached_spec(key, build)


def funnel_spec(result: Any, **options: Any) -> dict:
    """The spec of :func:`qiwidgets.charts.funnel_chart` (cached)."""
    key = fingerprint("funnel", result, options)

    def build() -> dict:
        from qiwidgets import charts

        return charts.funnel_chart_spec(result, **options)

    return cached_spec(key, build)


# --- HTML -------------------------------------------------------------------------------------


def _caption(spec: dict) -> tuple[str, str]:
    meta = (spec.get("usermeta") or {}).get("qiwidgets") or {}
    title = spec.get("title")
    if isinstance(title, dict):
        title = title.get("text")
    if isinstance(title, list):
        title = " ".join(str(t) for t in title)
    caption = meta.get("caption") or spec.get("description") or ""
    return str(title or "Chart"), str(caption)


#: Set by the prewarm process: :func:`chart_html` draws each chart it is given (vl-convert) and
#: keeps the SVG in the shared folder, so that the pages kernels build send it ready-drawn.
draw_into_cache = False


def _svg_path(spec_text: str) -> Path | None:
    folder = _cache_dir()
    if folder is None:
        return None
    return folder / f"svg-{hashlib.sha256(spec_text.encode()).hexdigest()[:40]}.svg"


def _drawn_svg(spec: dict, spec_text: str) -> str | None:
    """The SVG of ``spec`` kept in the shared folder (drawn there first when
    :data:`draw_into_cache` is set), or None."""
    path = _svg_path(spec_text)
    if path is None:
        return None
    try:
        svg = path.read_text(encoding="utf-8")
    except OSError:
        svg = None
    if svg is None and draw_into_cache:
        from qiwidgets.charts import to_svg

        svg = to_svg(spec)
        _write_atomic(path, svg)
    # the folder is the server's own and only the prewarm process writes it; a file that is
    # not an SVG (cut short by a full disk) is ignored and the browser draws the chart
    return svg if svg and svg.startswith("<svg") and svg.rstrip().endswith("</svg>") else None


def chart_html(spec: dict, *, css_class: str = "qi-chart") -> str:
    """A ``div`` holding the chart as SVG, with the chart's reading as its label.

    When the shared folder holds the chart drawn by the prewarm process (vl-convert, with the
    reading as the SVG's title and description), the SVG is sent as it is. Otherwise the page
    draws it from the spec; until then the ``div`` says "Drawing the chart…". Everything in the
    attribute is HTML-escaped, so text in the spec cannot become markup (and vl-convert escapes
    the text it draws).
    """
    title, caption = _caption(spec)
    text = json.dumps(spec, separators=(",", ":"), default=str)
    svg = _drawn_svg(spec, text)
    if svg is not None:
        return (
            f'<div class="{html.escape(css_class)}"><div class="qi-vl" data-drawn="yes">{svg}'
            "</div></div>"
        )
    data = html.escape(text, quote=True)
    label = html.escape(f"{title}. {caption}".strip(), quote=True)
    return (
        f'<div class="{html.escape(css_class)}"><div class="qi-vl" role="img" '
        f'aria-label="{label}" data-spec="{data}">'
        '<span class="qi-vl-wait">Drawing the chart…</span></div></div>'
    )


def browser_chart_svg(view: Any, annotations: list[dict], width: int = 640) -> str:
    """A ``chart_renderer`` for :class:`~qiwidgets.widgets.VariationExplorer` in a dashboard:
    instead of :func:`qiwidgets.widgets.variation.chart_svg` (static SVG made in the kernel) it
    sends the chart's spec, and the browser draws it."""
    return chart_html(spc_spec(view.result, annotations, width), css_class="qi-vl-box")


__all__ = [
    "CACHE_ENV",
    "browser_chart_svg",
    "cached_spec",
    "chart_html",
    "clear_memory",
    "code_version",
    "fingerprint",
    "funnel_spec",
    "small_multiples_spec",
    "spc_spec",
    "stats",
]
