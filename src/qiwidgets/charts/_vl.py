"""Vega-Lite pieces as plain dicts, and the Altair chart around a finished spec.

The chart modules write their Vega-Lite spec as dicts. Building the same spec through Altair's
classes (``encode``, ``mark_*``, ``transform_filter``, layering) cost ~0.35 s per chart on our
2-core machines, because every call copies and validates the chart so far; a dict costs a few
milliseconds. Reports and dashboards render the dict directly. :func:`to_altair` gives analysts
the Altair chart they expect (it composes, validates and displays as usual) from the same dict.
It calls Altair's constructors, which keep the given dicts as they are, in ~5 ms. Altair's
``from_dict`` would walk the spec against the schema, in ~0.4 s.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import vl_convert as vlc

#: The Vega-Lite version the specs are written for: the newest vl-convert compiles, the one its
#: browser bundle draws (Altair's own SCHEMA_URL would cost importing Altair, ~0.4 s, in every
#: dashboard kernel that builds a chart).
SCHEMA_URL = f"https://vega.github.io/schema/vega-lite/v{vlc.get_vegalite_versions()[-1]}.json"

__all__ = ["SCHEMA_URL", "field", "layer", "layered", "string", "tip", "to_altair", "when", "when_any"]


def string(text: str) -> str:
    """``text`` as a Vega expression string literal (single-quoted, as Altair writes it)."""
    escaped = text.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n")
    return f"'{escaped}'"


def field(name: str, vtype: str, **props: Any) -> dict:
    """An encoding channel reading the column ``name`` (``vtype``: Vega-Lite's type word)."""
    return {"field": name, "type": vtype, **props}


def tip(name: str, title: str) -> dict:
    """A tooltip line: the column ``name`` shown as text under ``title``."""
    return {"field": name, "title": title, "type": "nominal"}


def when(test: str, yes: Any, otherwise: Any) -> dict:
    """A value channel: ``yes`` where the expression ``test`` holds, else ``otherwise``."""
    return {"condition": {"test": test, "value": yes}, "value": otherwise}


def when_any(cases: Iterable[tuple[str, Any]], otherwise: Any) -> dict:
    """A value channel: the value of the first ``(test, value)`` case whose test holds."""
    return {"condition": [{"test": t, "value": v} for t, v in cases], "value": otherwise}


def layer(rows: str, mark: dict, encoding: dict, *transforms: dict | str) -> dict:
    """A layer drawing the dataset's rows tagged ``_layer == rows`` (string transforms are
    filter expressions)."""
    steps = [{"filter": f"(datum._layer === {string(rows)})"}]
    steps += [{"filter": t} if isinstance(t, str) else t for t in transforms]
    return {"mark": mark, "encoding": encoding, "transform": steps}


def layered(data: dict, layers: list[dict], width: int, height: int) -> dict:
    """A top-level spec: ``layers`` drawn from one dataset on a plot of ``width`` x ``height``
    pixels, without a frame around the plot."""
    return {
        "$schema": SCHEMA_URL,
        "data": data,
        "layer": layers,
        "width": width,
        "height": height,
        "view": {"stroke": None},
    }


def _layered(spec: dict) -> Any:
    import altair as alt

    layers = [
        alt.Chart(**{**one, "encoding": alt.FacetedEncoding(**one["encoding"])})
        for one in spec["layer"]
    ]
    return alt.LayerChart(**{**spec, "layer": layers})


def to_altair(spec: dict) -> Any:
    """The Altair chart (``LayerChart``, or ``FacetChart`` around one) drawing ``spec``; its
    ``to_dict()`` gives ``spec`` back (with the data moved to ``datasets``, as Altair does)."""
    import altair as alt

    top = {k: v for k, v in spec.items() if k != "$schema"}
    if "facet" in top:
        return alt.FacetChart(**{**top, "spec": _layered(top["spec"])})
    return _layered(top)
