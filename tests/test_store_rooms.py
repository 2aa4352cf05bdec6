"""The store is split into modules that each do one thing, and no private (underscore) name
crosses from one of them into another: each uses the others' public names only.

Read from the source (AST). ``repo`` is the facade that gathers the public names (and keeps the
old private names as aliases of public ones, for code written against the single old module).
"""

from __future__ import annotations

import ast
from pathlib import Path

STORE = Path(__file__).resolve().parents[1] / "src" / "qiwidgets" / "store"


def _store_modules() -> list[Path]:
    return sorted(p for p in STORE.rglob("*.py") if "migrations" not in p.parts)


def _private_uses(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    store_aliases = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("qiwidgets.store"):
            for alias in node.names:
                if alias.name.startswith("_"):
                    found.append(f"{path.name}:{node.lineno} imports {alias.name}")
                else:
                    store_aliases.add(alias.asname or alias.name)
        if isinstance(node, ast.ImportFrom) and node.module == "qiwidgets.store":
            store_aliases |= {a.asname or a.name for a in node.names}
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and node.attr.startswith("_")
                and not node.attr.startswith("__") and isinstance(node.value, ast.Name)
                and node.value.id in store_aliases):  # fmt: skip
            found.append(f"{path.name}:{node.lineno} uses {node.value.id}.{node.attr}")
    return found


def test_no_private_name_crosses_the_store_s_modules():
    found = []
    for path in _store_modules():
        found += _private_uses(path)
    assert not found, "use the other module's public names:\n" + "\n".join(found)


def test_the_check_finds_a_private_name_crossing(tmp_path):
    path = tmp_path / "bad.py"
    path.write_text("from qiwidgets.store import repo\nfrom qiwidgets.store.access import _x\n"
                    "repo._may(None, None, write=True)\n")  # fmt: skip
    assert _private_uses(path) == ["bad.py:2 imports _x", "bad.py:3 uses repo._may"]


def test_the_old_modules_keep_their_public_names():
    from qiwidgets.store import imports, repo

    for name in ("save_reflection", "list_teams", "record_observation", "upsert_observations",
                 "observations", "UpsertSummary", "check_code", "CODE_PATTERN",
                 "OBSERVATION_COLUMNS", "DRIVER_PARENTS", "validate", "ObservationIn"):
        assert hasattr(repo, name), name
    for name in ("import_file", "read_table", "format_help", "FORMATS", "Problem", "PDSA_FIELDS",
                 "parse_date", "parse_number", "DEFAULT_MAX_PROBLEMS_PER_RULE"):
        assert hasattr(imports, name), name
    # the access checks keep their old names too (code written against the single module)
    assert repo._may.__module__ == "qiwidgets.store.access"
    assert repo._reader.__name__ == "Reader"

