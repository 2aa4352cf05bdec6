"""The package's layers: statistics and classification live in ``spc/`` and ``workbook/``; the
channels (charts, dashboards, reports, widgets, the notebook views, the HTML kit, the CLI)
render what those computed and decide nothing themselves, so no two screens can disagree.

Read from the source (AST), so a channel that starts to classify on its own fails here.
"""

from __future__ import annotations

import ast
import hashlib
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "qiwidgets"
#: The channels: they render statuses and results.
CHANNEL_DIRS = ("charts", "dashboards", "reports", "widgets")
CHANNEL_FILES = ("notebook.py", "views.py", "cli.py")
#: The engine's chart functions: only the core (and the engine's own CLI) call them.
ENGINE_CHARTS = {"control_chart", "mdc_chart", "funnel"}
#: Words of a verdict: comparing a value with one of them is classifying.
VERDICT_WORDS = {
    "special_cause_improvement", "special_cause_concern", "special_cause_neutral",
    "special_cause_neutral_high", "special_cause_neutral_low", "common_cause",
    "consistent_pass", "consistent_fail", "inconsistent", "improvement_high", "improvement_low",
    "concern_high", "concern_low", "pass", "fail", "hit_and_miss", "increase", "decrease",
}  # fmt: skip


def channel_files() -> list[Path]:
    files = [p for d in CHANNEL_DIRS for p in (PACKAGE / d).rglob("*.py")]
    files += [PACKAGE / f for f in CHANNEL_FILES]
    return sorted(files)


def _strings(node: ast.AST) -> set[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return {e.value for e in node.elts if isinstance(e, ast.Constant)
                and isinstance(e.value, str)}  # fmt: skip
    return set()


def test_no_channel_calls_the_engine_s_chart_functions():
    found = []
    for path in channel_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                f = node.func
                name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
                if name in ENGINE_CHARTS:
                    found.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {ast.unparse(node)[:60]}")
    assert not found, "channels must render the core's statuses:\n" + "\n".join(found)


def test_no_channel_classifies_against_the_verdict_s_words():
    """No ``x == "special_cause_concern"``, no ``direction == "increase"`` outside the core."""
    found = []
    for path in channel_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Compare):
                words = set().union(*(_strings(c) for c in (node.left, *node.comparators)))
                if words & VERDICT_WORDS:
                    found.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {ast.unparse(node)[:80]}")
    assert not found, "channels must read the verdict, not work it out:\n" + "\n".join(found)


def test_the_spc_engine_imports_no_widgets_and_no_charting():
    code = ("import sys, qiwidgets.spc, qiwidgets.workbook; "
            "print(sorted(m for m in ('ipywidgets', 'altair', 'voila') if m in sys.modules))")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_importing_qiwidgets_makes_no_widget():
    """A dashboard kernel closes a page built before its visitor arrived (every widget of the
    kernel, ``Widget.close_all``) when the page is not theirs to see: a widget made at import
    and shared by later pages would then be closed under them, and their tabs stay blank."""
    code = ("import importlib, pkgutil, ipywidgets, qiwidgets\n"
            "for m in pkgutil.walk_packages(qiwidgets.__path__, 'qiwidgets.'):\n"
            "    if not m.name.endswith(('__main__', 'voila_app')):\n"
            "        importlib.import_module(m.name)\n"
            "print(len(ipywidgets.Widget.widgets))")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "0"


#: Lines that say nothing on their own (a copied block is judged on the rest).
_THIN = re.compile(r"^(?:[()\[\]{}:,.]*|else:|try:|pass|return|\)\s*#.*|@\w+.*|def \w+\(self\).*)$")
#: How many code lines in a row, the same in two channels, make a copied block.
COPIED_BLOCK_LINES = 6


def _code_lines(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docs = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) and isinstance(
                getattr(body[0], "value", None), ast.Constant):  # fmt: skip
            docs.update(range(body[0].lineno, body[0].end_lineno + 1))
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        text = " ".join(line.split("#")[0].split()) if "#" in line and "'" not in line and \
            '"' not in line else " ".join(line.split())  # fmt: skip
        if not text or n in docs or text.startswith(("import ", "from ", "#")) or _THIN.match(text):
            continue
        out.append((n, text))
    return out


def test_no_block_of_code_is_copied_between_channels():
    """The channels share the HTML kit and the core; no run of 6 code lines stands in two of
    them (imports, docstrings, comments and lone punctuation left out)."""
    seen: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for path in channel_files():
        lines = _code_lines(path)
        for i in range(len(lines) - COPIED_BLOCK_LINES + 1):
            window = "\n".join(t for _, t in lines[i : i + COPIED_BLOCK_LINES])
            key = hashlib.sha1(window.encode()).hexdigest()
            seen[key].append((str(path.relative_to(PACKAGE)), lines[i][0]))
    copied = sorted({tuple(sorted(set(places))) for places in seen.values()
                     if len({f for f, _ in places}) > 1})  # fmt: skip
    assert not copied, "copied between channels:\n" + "\n".join(map(str, copied[:10]))
