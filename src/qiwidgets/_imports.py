"""Import-time shortcuts for the kernels qiwidgets starts itself (reports and dashboards).

**Collector paused while importing.** A dashboard kernel imports pandas, SQLAlchemy, ipywidgets
and qiwidgets before its page can be built: hundreds of thousands of long-lived objects. While
they are created, the cyclic garbage collector ran two full collections over them that found
nothing to free, ~0.1 s of a dashboard kernel's ~0.9 s of imports (measured on our 2-core
machines). :func:`imports_without_gc` pauses it for the imports and then freezes what they
loaded (``gc.freeze``), so every later full collection, during a visitor's clicks too, skips
those objects.

**A module marked absent.**

jsonschema (pulled in by Altair) imports ``rfc3987_syntax`` for its "iri" format check, and that
module builds ~40 grammars on import: 0.9–1.5 s per kernel on our machines
(``docs/jupyter-traps.md``). Neither the reports nor the dashboards validate IRIs, so their
kernels mark the module as absent and jsonschema skips that one format check. A user's own
session is never changed.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager

#: The optional module whose import costs a second and is never needed here.
SLOW_OPTIONAL_MODULE = "rfc3987_syntax"

#: The same, as a line of code for a kernel's ``IPKernelApp.exec_lines``.
PRELUDE = f"import sys; sys.modules.setdefault({SLOW_OPTIONAL_MODULE!r}, None)"


def skip_slow_optional_imports() -> None:
    """Mark the slow optional module absent in this process (before Altair is imported)."""
    sys.modules.setdefault(SLOW_OPTIONAL_MODULE, None)


@contextmanager
def imports_without_gc() -> Iterator[None]:
    """Pause the garbage collector for a block of imports, then freeze what is loaded.

    The price of ``gc.freeze``: an object alive at the end of the block that later ends up in a
    garbage cycle is never reclaimed; so use it for imports, not for building a page.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()
