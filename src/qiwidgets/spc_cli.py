"""``qiwidgets spc``: chart a CSV file from the command line.

Prints the per-part summary and the plain-language reading, and writes the per-point table
(``--out``, CSV or JSON by the file's extension).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from qiwidgets.errors import ParameterError

EPILOG = """examples:
  # the sample programme's observations (data/samples/ in a source checkout)
  qiwidgets spc data/samples/observations.csv --where measure=FALLS_HARM \\
      --chart u --x period --y numerator --n denominator --multiply 1000 --facets team \\
      --label "Falls with harm per 1,000 bed days" --improvement decrease --html falls.html
  qiwidgets spc data/samples/observations.csv --where measure=FALLS_HARM --where team=W07 \\
      --chart u --x period --y numerator --n denominator --multiply 1000 --svg w07.svg
  qiwidgets spc waits.csv --profile mdc --x week --y minutes --improvement decrease --target 30
"""


def add_parser(sub) -> None:
    p = sub.add_parser(
        "spc",
        help="chart a CSV file: print the summary and reading, write the per-point table",
        description="Compute a run chart, a Shewhart control chart (qicharts2 semantics) or a "
        "Making Data Count XmR chart (NHSRplotthedots semantics) from a CSV file.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("file", type=Path, help="a CSV file with one row per observation")
    p.add_argument("--x", required=True, help="column of the time axis (dates or numbers)")
    p.add_argument("--y", required=True, help="column of the value or numerator")
    p.add_argument("--n", help="column of the denominator (p, pp, u, up charts; optional for i/run)")
    p.add_argument(
        "--profile", choices=("qic", "mdc"), default="qic",
        help="qic: qicharts2 charts and Anhøj rules (default); mdc: NHS Making Data Count XmR",
    )  # fmt: skip
    p.add_argument("--chart", default="run", help="run, i, mr, xbar, s, p, pp, c, u, up, g, t (qic)")
    p.add_argument("--facets", nargs="+", metavar="COL", help="one or two facet columns")
    p.add_argument("--where", action="append", default=[], metavar="COL=VALUE",
                   help="keep only rows where COL equals VALUE (repeatable)")  # fmt: skip
    p.add_argument("--freeze", type=int, help="baseline: limits from the first N points")
    p.add_argument("--part", type=_int_list, help="new phase after these positions, e.g. 12,24")
    p.add_argument("--exclude", type=_int_list, help="positions left out of the limits, e.g. 5,9")
    p.add_argument("--multiply", type=float, default=1.0, help="e.g. 100 for per cent")
    p.add_argument("--cl", type=float, help="a fixed centre line")
    p.add_argument("--target", type=float, help="a target value")
    p.add_argument("--agg-fun", default="mean", help="mean, median, sum or sd for repeated x")
    p.add_argument("--method", default="anhoej", help="runs analysis: anhoej, bestbox, cutbox")
    p.add_argument("--rule-set", default="anhoej", help="anhoej or ihi (run charts)")
    p.add_argument("--no-screen-mr", action="store_true", help="do not screen moving ranges")
    p.add_argument("--improvement", help="increase, decrease or neutral")
    p.add_argument("--rebase", nargs="+", metavar="DATE", help="mdc: dates that start a new baseline")
    p.add_argument("--fix-after", type=int, help="mdc: fix the limits after N points")
    p.add_argument("--label", help="the measure's name, for the reading")
    p.add_argument("--out", type=Path, help="write the per-point table here (.csv or .json)")
    p.add_argument("--svg", type=Path, metavar="FILE", help="write the chart as SVG")
    p.add_argument("--png", type=Path, metavar="FILE", help="write the chart as PNG")
    p.add_argument("--html", type=Path, metavar="FILE",
                   help="write a page with the chart, its reading and the summary table")  # fmt: skip
    p.set_defaults(func=run)


def _int_list(text: str) -> list[int]:
    try:
        return [int(t) for t in text.replace(" ", "").split(",") if t]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected whole numbers separated by commas, got {text!r}")


def read_table(path: Path):
    """Read a CSV file people make: UTF-8 (with or without BOM) or Windows-1252, ',' or ';'."""
    import pandas as pd

    if not path.is_file():
        raise ParameterError(f"{path}: no such file.")
    last: Exception | None = None
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return pd.read_csv(path, sep=None, engine="python", encoding=encoding)
        except UnicodeDecodeError as exc:
            last = exc
        except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
            raise ParameterError(f"{path}: cannot be read as a CSV table ({exc}).") from exc
    raise ParameterError(f"{path}: unknown text encoding ({last}); save it as UTF-8.")


def _parse_x(frame, column: str):
    import pandas as pd

    if column not in frame.columns:
        return frame
    s = frame[column]
    if pd.api.types.is_numeric_dtype(s):
        return frame
    parsed = pd.to_datetime(s, errors="coerce", format="ISO8601")
    if parsed.notna().sum() == s.notna().sum():
        frame = frame.copy()
        frame[column] = parsed
    return frame


def run(args) -> int:
    from qiwidgets import spc

    frame = read_table(args.file)
    for cond in args.where:
        col, sep, value = cond.partition("=")
        if not sep or col not in frame.columns:
            raise ParameterError(
                f"--where {cond!r}: expected COL=VALUE with COL one of {', '.join(frame.columns)}."
            )
        frame = frame[frame[col].astype(str) == value]
    if frame.empty:
        raise ParameterError(f"{args.file}: no rows to chart (after --where filters).")
    frame = _parse_x(frame, args.x)
    facets = args.facets or None
    if args.profile == "mdc":
        result = spc.mdc_chart(
            frame, x=args.x, y=args.y, improvement=args.improvement or "neutral",
            target=args.target, rebase=args.rebase, facets=facets,
            fix_after_n_points=args.fix_after, screen_outliers=not args.no_screen_mr,
            label=args.label,
        )  # fmt: skip
    else:
        result = spc.control_chart(
            frame, x=args.x, y=args.y, n=args.n, chart=args.chart, facets=facets,
            freeze=args.freeze, part=args.part, exclude=args.exclude, multiply=args.multiply,
            cl=args.cl, target=args.target, agg_fun=args.agg_fun, method=args.method,
            rule_set=args.rule_set, screen_mr=not args.no_screen_mr, label=args.label or args.y,
            improvement=args.improvement,
        )  # fmt: skip
    print(f"{result.chart_type} chart, rule set: {result.rule_set}")
    with _pandas_display():
        print(result.summary.to_string(index=False))
    print()
    print(result.reading)
    if args.out:
        _write(result.points, args.out)
        print(f"\nWrote {len(result.points)} points to {args.out}")
    for path, what in _drawn(result, args):
        print(f"Wrote the {what} to {path}")
    return 0


def _drawn(result, args) -> list[tuple[Path, str]]:
    """Write the chart files asked for (``--svg``, ``--png``, ``--html``), each complete or not
    at all; returns ``(path, what)`` for each."""
    written = []
    if args.svg:
        _write_bytes(args.svg, result.to_svg().encode("utf-8"))
        written.append((args.svg, "chart (SVG)"))
    if args.png:
        _write_bytes(args.png, result.to_png())
        written.append((args.png, "chart (PNG)"))
    if args.html:
        _write_bytes(args.html, _page(result).encode("utf-8"))
        written.append((args.html, "chart, reading and summary (HTML)"))
    return written


def _page(result) -> str:
    """A standalone HTML page (nothing fetched) with the result as a notebook shows it."""
    import html

    title = html.escape(str(result.options.get("label") or "SPC chart"))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{title}</title></head>"
        f'<body style="font-family:sans-serif;margin:1em">{result.to_html()}</body></html>\n'
    )


def _write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)  # complete or not at all


class _pandas_display:
    def __enter__(self):
        import pandas as pd

        self._ctx = pd.option_context("display.width", 200, "display.max_columns", 30)
        self._ctx.__enter__()

    def __exit__(self, *exc):
        self._ctx.__exit__(*exc)


def _write(points, out: Path) -> None:
    from qiwidgets.csv_cells import neutralise_formula

    out.parent.mkdir(parents=True, exist_ok=True)
    suffix = out.suffix.lower()
    tmp = out.with_name(out.name + ".tmp")
    if suffix == ".json":
        points.to_json(tmp, orient="records", date_format="iso", indent=1)
    elif suffix == ".csv":  # a text cell a spreadsheet would run as a formula is made text
        text = points.select_dtypes(include=["object", "string", "category"]).columns
        safe = points.assign(**{c: points[c].astype(object).map(
            lambda v: neutralise_formula(v) if isinstance(v, str) else v) for c in text})  # fmt: skip
        safe.to_csv(tmp, index=False)
    else:
        raise ParameterError(f"--out {out}: use a .csv or .json file name.")
    tmp.replace(out)  # complete or not at all


if __name__ == "__main__":  # pragma: no cover
    from qiwidgets.cli import main

    sys.exit(main(["spc", *sys.argv[1:]]))
