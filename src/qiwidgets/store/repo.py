"""The store's API for the widgets, reports and dashboards: one import for every record.

Every function takes ``db`` first: a database URL, a SQLite file path, an Engine, an
:class:`~qiwidgets.store.people.ActingDB` (whoever acts is checked), or None for the default
(see :mod:`qiwidgets.store.db`). Reads return detached model objects (their columns are loaded;
the links named in each docstring are loaded too) or tidy pandas DataFrames.

This module gathers the store's rooms, each doing one thing:

* :mod:`~qiwidgets.store.schemas` -- the rules of every record (``*In`` models, a measure's
  rules for its data points, :func:`validate`);
* :mod:`~qiwidgets.store.access` -- who may read and change what; :mod:`~qiwidgets.store.lookup`
  -- finding a programme, team or measure;
* :mod:`~qiwidgets.store.records` -- saving one record at the version read, deleting, "already
  saved";
* :mod:`~qiwidgets.store.programmes`, :mod:`~qiwidgets.store.measures`,
  :mod:`~qiwidgets.store.purpose` (aims, driver diagrams), :mod:`~qiwidgets.store.observations`
  (a team's data), :mod:`~qiwidgets.store.journal` (annotations, PDSA cycles, reflections),
  :mod:`~qiwidgets.store.scores` (progress scores, health checks);
* :mod:`~qiwidgets.store.observation_writes` -- the one way data points are written.

Saving
------
``save_*`` functions create a record when ``id`` is None, and otherwise change the record
``id``, but only if it is still at the ``version`` the user read. If someone else saved it in
the meantime, :class:`~qiwidgets.errors.StaleEditError` is raised and nothing is written: an edit
is never silently saved over a colleague's. On update only the fields given in ``data`` change.

Inputs are validated (:mod:`qiwidgets.store.schemas`); every problem is reported at once in an
:class:`~qiwidgets.errors.InvalidRecordError` whose message names the field, the rule and the
value received.

Examples
--------
>>> from qiwidgets.store import repo
>>> team = repo.get_team("ward7.db", "W7")                      # doctest: +SKIP
>>> r = repo.save_reflection("ward7.db", {"team_id": team.id, "date": "2026-10-03",
...                           "what_happened": "..."})          # doctest: +SKIP
>>> repo.save_reflection("ward7.db", {"what_worked": "huddles"}, id=r.id,
...                      version=r.version)                     # doctest: +SKIP
"""

from __future__ import annotations

from qiwidgets.store import access, lookup, records, schemas
from qiwidgets.store.journal import (
    add_annotation,
    get_reflection,
    list_annotations,
    list_pdsa_cycles,
    list_reflections,
    save_annotation,
    save_pdsa,
    save_reflection,
)
from qiwidgets.store.lookup import MeasureRef, ProgrammeRef, TeamRef
from qiwidgets.store.measures import get_measure, list_measures, save_measure
from qiwidgets.store.observation_writes import UpsertSummary
from qiwidgets.store.observations import (
    OBSERVATION_COLUMNS,
    OBSERVATION_DATA_FIELDS,
    WORKBOOK_SOURCE,
    get_observation,
    list_observations,
    observation_history,
    observations,
    period_label,
    record_observation,
    save_observations,
    upsert_observations,
)
from qiwidgets.store.programmes import (
    get_programme,
    get_team,
    list_programmes,
    list_teams,
    save_programme,
    save_team,
)
from qiwidgets.store.purpose import (
    DRIVER_PARENTS,
    driver_diagram,
    get_aim,
    list_aims,
    list_driver_nodes,
    save_aim,
    save_driver_node,
)
from qiwidgets.store.records import KINDS, already_saved, delete_record, stale_message
from qiwidgets.store.schemas import (
    CODE_MAX_LENGTH,
    CODE_PATTERN,
    CODE_RULE,
    COUNTED_CHART_TYPES,
    PROPORTION_CHART_TYPES,
    ZERO_DENOMINATOR_RULE,
    AimIn,
    AnnotationIn,
    DriverNodeIn,
    HealthCheckIn,
    MeasureIn,
    ObservationIn,
    PDSAIn,
    ProgrammeIn,
    ProgressScoreIn,
    ReflectionIn,
    TeamIn,
    check_code,
    is_counted,
    is_proportion,
    validate,
    zero_denominator,
)
from qiwidgets.store.scores import (
    list_health_checks,
    list_progress_scores,
    progress_scores,
    save_health_check,
    save_progress_score,
)

# The machinery under the names code written against the single old module used (the access
# checks, lookups, the generic save); new code imports the public names from
# qiwidgets.store.access, lookup, records and schemas instead.
_reader, _actor, _signed = access.Reader, access.actor, access.signed
_may, _may_programme = access.may, access.may_programme
_programme, _team, _find_team, _measure = (lookup.programme, lookup.team, lookup.find_team,
                                           lookup.measure)  # fmt: skip
_team_name, _measure_name = lookup.team_name, lookup.measure_name
_Kind, _save, _load_for_update, _flush = (
    records.Kind,
    records.save,
    records.load_for_update,
    records.flush,
)
_stale, _need = records.stale, records.need
_invalid, _Record, _choice = schemas.invalid, schemas.Record, schemas.one_of
Text, Required, OptDate = schemas.Text, schemas.Required, schemas.OptDate


def _lock_team(session, team_id: int) -> None:
    access.lock_teams(session, [team_id])


__all__ = [
    "CODE_MAX_LENGTH", "CODE_PATTERN", "CODE_RULE", "COUNTED_CHART_TYPES", "DRIVER_PARENTS",
    "KINDS", "OBSERVATION_COLUMNS", "OBSERVATION_DATA_FIELDS", "PROPORTION_CHART_TYPES",
    "WORKBOOK_SOURCE", "ZERO_DENOMINATOR_RULE",
    "AimIn", "AnnotationIn", "DriverNodeIn", "HealthCheckIn", "MeasureIn", "MeasureRef",
    "ObservationIn", "PDSAIn", "ProgrammeIn", "ProgrammeRef", "ProgressScoreIn", "ReflectionIn",
    "TeamIn", "TeamRef", "UpsertSummary",
    "add_annotation", "already_saved", "check_code", "delete_record", "driver_diagram",
    "get_aim", "get_measure", "get_observation", "get_programme", "get_reflection", "get_team",
    "is_counted", "is_proportion", "list_aims", "list_annotations", "list_driver_nodes",
    "list_health_checks", "list_measures", "list_observations", "list_pdsa_cycles",
    "list_programmes", "list_progress_scores", "list_reflections", "list_teams",
    "observation_history", "observations", "period_label", "progress_scores",
    "record_observation", "save_aim", "save_annotation", "save_driver_node",
    "save_health_check", "save_measure", "save_observations", "save_pdsa", "save_programme",
    "save_progress_score", "save_reflection", "save_team", "stale_message",
    "upsert_observations", "validate", "zero_denominator",
]  # fmt: skip
