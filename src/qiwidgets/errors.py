"""One error root and one warnings root for the whole package.

Every error a user can cause derives from :class:`QIError`; its message says what to fix.
The command line and the dashboards show ``str(error)`` and never a traceback.
"""

from __future__ import annotations

import logging

#: Every module logs under this logger (``logging.getLogger("qiwidgets.<module>")``).
logger = logging.getLogger("qiwidgets")
logger.addHandler(logging.NullHandler())


class QIError(Exception):
    """Root of every error qiwidgets raises on purpose."""


class QIWarning(UserWarning):
    """Root of every warning qiwidgets issues."""


# --- statistics -----------------------------------------------------------------------------


class SPCOptionError(QIError, ValueError):
    """An option passed to a chart function is invalid on its own (stage 1 of validation)."""


class SPCDataError(QIError, ValueError):
    """The data do not fit the options (stage 2 of validation)."""


class ChartError(QIError, ValueError):
    """A chart was asked for with an invalid option (the message names the argument)."""


class ShortBaselineWarning(QIWarning):
    """Limits rest on too few points and are provisional."""


# --- storage --------------------------------------------------------------------------------


class StoreError(QIError):
    """A problem with the learning-system database."""


class NotFoundError(StoreError, LookupError):
    """A record that was asked for does not exist."""


class StaleEditError(StoreError):
    """Someone else changed the record since it was read; the edit was refused."""


class StaleDataPointsError(StaleEditError):
    """Someone else entered or changed some of these data points since they were read; nothing
    was saved. ``points`` lists each as ``(team_id, measure_id, period)``."""

    def __init__(self, message: str, points: list | None = None):
        super().__init__(message)
        self.points = list(points or [])


class AccessDenied(QIError, PermissionError):
    """The person acting may not read or change this; nothing was read or changed."""


class ImportValidationError(StoreError, ValueError):
    """An import file has problems; nothing was imported.

    ``problems`` lists every problem found, each a :class:`~qiwidgets.store.imports.Problem`
    naming the file, row, column, value and the rule broken.
    """

    def __init__(self, message: str, problems: list | None = None):
        super().__init__(message)
        self.problems = list(problems or [])


# --- reports and dashboards ---------------------------------------------------------------------


class ReportError(QIError):
    """A monthly report could not be produced."""


class ParameterError(QIError, ValueError):
    """A parameter given to a report or a command is invalid."""


class RebaseDateWarning(QIWarning):
    """A rebase date matches no point of its series and was ignored."""


class InvalidRecordError(StoreError, ValueError):
    """A record to be saved breaks a rule; nothing was saved.

    ``problems`` lists every problem found as ``(field, message)`` pairs; ``str(error)`` names
    each field, the rule and the value received.
    """

    def __init__(self, message: str, problems: list[tuple[str, str]] | None = None):
        super().__init__(message)
        self.problems = list(problems or [])


class InvalidDataPointsError(InvalidRecordError):
    """Data points to be saved together break rules; none was saved.

    ``cells`` lists each problem as ``(index, field, message)``: the position of the data point
    in what was given, the field, and the message naming the rule and the value received.
    """

    def __init__(self, message: str, cells: list[tuple[int, str, str]] | None = None):
        cells = list(cells or [])
        super().__init__(message, [(field, text) for _, field, text in cells])
        self.cells = cells
