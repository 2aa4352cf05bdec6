"""Reference parity: every case produced by the R packages qicharts2 and NHSRplotthedots.

One test per case directory under ``$QI_SPC_REFERENCE`` (default ``../shared/reference/spc``).
A case whose options the engine does not understand fails; nothing is skipped.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = Path(os.environ.get("QI_SPC_REFERENCE", ROOT.parent / "shared" / "reference" / "spc"))


def _cases() -> list[Path]:
    if not REFERENCE.is_dir():
        return []
    return sorted(p for p in REFERENCE.iterdir() if (p / "params.json").is_file())


def test_reference_folder_is_present():
    assert REFERENCE.is_dir(), f"reference cases not found at {REFERENCE} (set QI_SPC_REFERENCE)"
    assert _cases(), f"no case folders under {REFERENCE}"


@pytest.mark.parametrize("case", _cases(), ids=lambda p: p.name)
def test_reference_case(case: Path):
    params = json.loads((case / "params.json").read_text())
    tool = params.get("tool", "")
    if "plotthedots" in tool.lower() or case.name.startswith("ptd_"):
        from reference_ptd import check_ptd_case

        check_ptd_case(case, params)
    elif "qicharts" in tool.lower() or case.name.startswith("qic_"):
        from reference_qic import check_qic_case

        check_qic_case(case, params)
    else:
        pytest.fail(f"case {case.name}: unknown tool {tool!r}")
