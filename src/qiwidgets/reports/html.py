"""HTML building blocks for reports: escaping, small tables, the page, the offline check.

Every piece of text that came from a user (team names, reflections, PDSA notes, annotations) goes
through :func:`esc`. Reports carry their own CSS inline and never a script, a stylesheet link or
any network address, so they open the same on a laptop with no network.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from html.parser import HTMLParser
from typing import Any

from qiwidgets.errors import ParameterError, ReportError

__all__ = ["PAGE_CSS", "Sections", "assert_offline", "esc", "network_references", "page", "table"]


class Sections:
    """A report made of named sections: ``SECTIONS`` in order, each an HTML fragment built by
    the method ``_section_<name>``."""

    SECTIONS: tuple[str, ...] = ()

    def section(self, name: str) -> str:
        """One section as an HTML fragment (``name`` from ``SECTIONS``)."""
        if name not in self.SECTIONS:
            raise ParameterError(
                f"`name` must be one of {', '.join(self.SECTIONS)}, got {name!r}."
            )
        return getattr(self, f"_section_{name}")()

    def html(self) -> str:
        """All sections, in order (for use outside a notebook)."""
        return "\n".join(self.section(s) for s in self.SECTIONS)


def esc(value: Any) -> str:
    """``value`` as HTML text: escaped, ``None`` as an empty string, line breaks kept."""
    if value is None:
        return ""
    return html.escape(str(value)).replace("\r\n", "\n").replace("\n", "<br>")


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], css_class: str = "qiw") -> str:
    """A plain table; cells are escaped unless given as :class:`Raw`."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{c.html if isinstance(c, Raw) else esc(c)}</td>" for c in row)
        + "</tr>"
        for row in rows
    )
    return f'<table class="{css_class}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


class Raw:
    """HTML that is already safe (built by us), for :func:`table` cells."""

    __slots__ = ("html",)

    def __init__(self, html_text: str):
        self.html = html_text


PAGE_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
 color:#1d2733;max-width:1100px;margin:0 auto;padding:1.2em 1.5em;line-height:1.45;background:#fff}
h1{font-size:1.6em;margin:.2em 0 .1em} h2{font-size:1.25em;border-bottom:2px solid #d6dde5;
 padding-bottom:.2em;margin-top:1.6em} h3{font-size:1.05em;margin:1.2em 0 .3em}
table.qiw{border-collapse:collapse;margin:.4em 0 1em;font-size:.92em}
table.qiw th,table.qiw td{border:1px solid #d6dde5;padding:.25em .6em;text-align:left;
 vertical-align:top}
table.qiw th{background:#f2f5f8}
.qiw-meta{color:#4a5968;font-size:.95em}
.qiw-note{background:#f6f8fa;border-left:4px solid #8aa1b8;padding:.4em .8em;margin:.6em 0}
.qiw-explain{color:#4a5968;font-size:.88em;font-style:italic}
.qiw-measure{border:1px solid #e1e6eb;border-radius:6px;padding:.6em 1em;margin:1em 0;
 page-break-inside:avoid;break-inside:avoid}
.qiw-icons svg{margin-right:.3em}
.qiw-reflection{border-left:4px solid #5b8c5a;padding:.2em .8em;margin:.6em 0}
.qiw-chart svg{max-width:100%;height:auto}
.jp-OutputArea-output,.output_html{overflow-x:auto}
@page{size:A4;margin:14mm 12mm}
@media print{body{max-width:none;padding:0;font-size:10.5pt} h2,h3{break-after:avoid}
 figure,svg,tr,.qiw-icon-key{break-inside:avoid} .qiw-measure{break-inside:auto}}
"""


def page(title: str, body: str, *, lang: str = "en") -> str:
    """A whole HTML page around ``body`` (already safe HTML), with the report CSS inline.

    The body is the page's ``main`` landmark, so that a screen reader's "go to main content"
    lands on the report and every part of it is inside a landmark (WCAG 2.2 AA, 1.3.1 / 2.4.1).
    """
    return (
        f'<!DOCTYPE html>\n<html lang="{esc(lang)}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(title)}</title>\n<style>{PAGE_CSS}</style>\n</head>\n<body>\n<main>\n"
        f"{body}\n</main>\n</body>\n</html>\n"
    )


# What makes a browser ask another host, read from the markup (tags, attributes, CSS), never
# from text: a reflection that mentions "data=https://intranet.example/audit" is text, shown
# escaped, and fetches nothing.
#: Attributes whose address a browser fetches (or, on a form, sends to).
_FETCH_ATTRS = frozenset({"src", "href", "action", "poster", "data", "srcset", "xlink:href",
                          "formaction", "background", "ping"})  # fmt: skip
#: Elements that load or run something whatever their attributes say.
_ACTIVE_TAGS = frozenset({"script", "iframe", "object", "embed", "frame", "base", "applet"})
_REMOTE = re.compile(r"^\s*(https?:|//|ftp:)", re.IGNORECASE)
_CSS_REMOTE = re.compile(r"""url\(\s*["']?\s*(https?:|//|ftp:)|@import""", re.IGNORECASE)
_REFRESH_URL = re.compile(r"url\s*=\s*['\"]?\s*(https?:|//|ftp:)", re.IGNORECASE)


class _FetchFinder(HTMLParser):
    """Collects every tag, attribute or stylesheet of a page that would reach the network."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        shown = self.get_starttag_text() or f"<{tag}>"
        if tag in _ACTIVE_TAGS:
            self.found.append(shown[:120])
            return
        values = {name: value or "" for name, value in attrs}
        for name, value in values.items():
            remote = name in _FETCH_ATTRS and any(
                _REMOTE.match(part) for part in value.split(",")
            )
            if remote or (name == "style" and _CSS_REMOTE.search(value)):
                self.found.append(shown[:120])
                return
        if tag == "link" and values.get("href") or tag == "meta" and values.get("http-equiv", "").lower() == "refresh" and (
            _REFRESH_URL.search(values.get("content", ""))
        ):
            self.found.append(shown[:120])
        self._in_style = tag == "style"

    handle_startendtag = handle_starttag

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style and _CSS_REMOTE.search(data):
            self.found.append(data[:120].replace("\n", " "))


def network_references(text: str) -> list[str]:
    """Every tag, attribute or stylesheet in an HTML page that would make a browser ask the
    network (or run code). Text, escaped as it is in a report, never counts."""
    finder = _FetchFinder()
    finder.feed(text)
    finder.close()
    return finder.found


def assert_offline(text: str, what: str = "report") -> str:
    """Raise ReportError if the page would fetch anything from the network or run a script."""
    refs = network_references(text)
    if refs:
        raise ReportError(
            f"The {what} would fetch from the network or run a script and was not written: "
            f"{refs[0]!r}" + (f" (and {len(refs) - 1} more)" if len(refs) > 1 else "")
        )
    return text
