"""Import-time shortcuts for the kernels qiwidgets starts itself (reports and dashboards).

jsonschema (pulled in by Altair) imports ``rfc3987_syntax`` for its "iri" format check, and that
module builds ~40 grammars on import: 0.9–1.5 s per kernel on our machines
(``docs/jupyter-traps.md``). Neither the reports nor the dashboards validate IRIs, so their
kernels mark the module as absent and jsonschema skips that one format check. A user's own
session is never changed.
"""

from __future__ import annotations

import sys

#: The optional module whose import costs a second and is never needed here.
SLOW_OPTIONAL_MODULE = "rfc3987_syntax"

#: The same, as a line of code for a kernel's ``IPKernelApp.exec_lines``.
PRELUDE = f"import sys; sys.modules.setdefault({SLOW_OPTIONAL_MODULE!r}, None)"


def skip_slow_optional_imports() -> None:
    """Mark the slow optional module absent in this process (before Altair is imported)."""
    sys.modules.setdefault(SLOW_OPTIONAL_MODULE, None)
