"""The learning-loop core: every verdict a team or a lead reads is worked out here, once.

The package mirrors the loop, one module a step:

* :mod:`~qiwidgets.workbook.inputs` — checks for values that arrive from a browser
  (:func:`clean_text`, :func:`clean_date`, ...);
* :mod:`~qiwidgets.workbook.purpose` — aims (:func:`aim_statement`, :func:`check_aim`) and
  driver diagrams (:func:`driver_tree`, :func:`driver_diagram_html`);
* :mod:`~qiwidgets.workbook.measures` — which chart suits which data (:func:`suggest_chart`,
  :func:`chart_type_for`), definition gaps, what a family of measures lacks;
* :mod:`~qiwidgets.workbook.variation` — a measure's chart under the team's annotations
  (:func:`chart_options`, :func:`compute_chart`) and the signals on it (:func:`signal_events`);
* :mod:`~qiwidgets.workbook.pdsa` — PDSA stages, markers and prompts;
* :mod:`~qiwidgets.workbook.programme` — the shared outcome measure across teams, the
  learning-system check;
* :mod:`~qiwidgets.workbook.learning` — the programme's learning system: the change-idea
  library across teams (:func:`change_idea_library`, what followed each test on its measures),
  bright spots with their story, the learning-system health (:func:`learning_system_health`)
  and a month in one paragraph (:func:`team_month_summary`, :func:`programme_month_summary`).

No statistics here: limits, rules and classifications come from :mod:`qiwidgets.spc`. Records
may be store model objects or plain dicts with the same field names.
"""

from __future__ import annotations

from qiwidgets.workbook.inputs import (
    MAX_TEXT_LENGTH,
    WorkbookInputError,
    clean_choice,
    clean_date,
    clean_number,
    clean_text,
)
from qiwidgets.workbook.learning import (
    DECISIONS,
    FOLLOW_RULE,
    HEALTH_ATTENTION_RULE,
    BrightSpotStory,
    ChangeIdea,
    ChangeIdeaLibrary,
    FollowedBy,
    HealthView,
    MonthSummary,
    ProgrammeHealth,
    TestOfChange,
    bright_spot_stories,
    change_idea_library,
    health_view,
    idea_key,
    learning_system_health,
    library_from,
    programme_health,
    programme_month_summary,
    shared_learning,
    team_health,
    team_month_summary,
)
from qiwidgets.workbook.measures import (
    DATA_KIND_LABELS,
    DATA_KINDS,
    chart_type_for,
    definition_gaps,
    family_warnings,
    infer_data_kind,
    multiplier_for,
    rule_set_for,
    suggest_chart,
    unit_for,
)
from qiwidgets.workbook.pdsa import (
    PDSA_DECISIONS,
    PDSA_PROMPT_WITHIN,
    PDSA_STAGES,
    PDSAPrompt,
    chart_annotations,
    cycles_for_measure,
    pdsa_end_text,
    pdsa_markers,
    pdsa_signal_prompts,
    pdsa_stage,
)
from qiwidgets.workbook.programme import (
    FUNNEL_MONTHS,
    health_history,
    outcome_funnel,
    outcome_small_multiples,
)
from qiwidgets.workbook.purpose import (
    AimCheck,
    aim_statement,
    check_aim,
    driver_diagram_html,
    driver_tree,
)
from qiwidgets.workbook.status import (
    BRIGHT_SPOT_RULE,
    SUPPORT_RULE,
    BrightSpot,
    MeasureStatus,
    ProgrammeStatus,
    TeamRecords,
    TeamStatus,
    measure_status,
    programme_status,
    support_reasons,
    team_records,
    team_status,
    team_status_from,
)
from qiwidgets.workbook.variation import (
    LIMIT_CHANGING_KINDS,
    MDC_MIN_BASELINE,
    MIN_PHASE_POINTS,
    ChartOptions,
    ChartView,
    SignalEvent,
    chart_options,
    compare_signals,
    compute_chart,
    plotted_series,
    series_frame,
    signal_events,
)

__all__ = [
    "BRIGHT_SPOT_RULE",
    "DATA_KINDS",
    "DATA_KIND_LABELS",
    "DECISIONS",
    "FOLLOW_RULE",
    "FUNNEL_MONTHS",
    "HEALTH_ATTENTION_RULE",
    "LIMIT_CHANGING_KINDS",
    "MAX_TEXT_LENGTH",
    "MDC_MIN_BASELINE",
    "MIN_PHASE_POINTS",
    "PDSA_DECISIONS",
    "PDSA_PROMPT_WITHIN",
    "PDSA_STAGES",
    "SUPPORT_RULE",
    "AimCheck",
    "BrightSpot",
    "BrightSpotStory",
    "ChangeIdea",
    "ChangeIdeaLibrary",
    "ChartOptions",
    "ChartView",
    "FollowedBy",
    "HealthView",
    "MeasureStatus",
    "MonthSummary",
    "PDSAPrompt",
    "ProgrammeHealth",
    "ProgrammeStatus",
    "SignalEvent",
    "TeamRecords",
    "TeamStatus",
    "TestOfChange",
    "WorkbookInputError",
    "aim_statement",
    "bright_spot_stories",
    "change_idea_library",
    "chart_annotations",
    "chart_options",
    "chart_type_for",
    "check_aim",
    "clean_choice",
    "clean_date",
    "clean_number",
    "clean_text",
    "compare_signals",
    "compute_chart",
    "cycles_for_measure",
    "definition_gaps",
    "driver_diagram_html",
    "driver_tree",
    "family_warnings",
    "health_history",
    "health_view",
    "idea_key",
    "infer_data_kind",
    "learning_system_health",
    "library_from",
    "measure_status",
    "multiplier_for",
    "outcome_funnel",
    "outcome_small_multiples",
    "pdsa_end_text",
    "pdsa_markers",
    "pdsa_signal_prompts",
    "pdsa_stage",
    "plotted_series",
    "programme_health",
    "programme_month_summary",
    "programme_status",
    "rule_set_for",
    "series_frame",
    "shared_learning",
    "signal_events",
    "suggest_chart",
    "support_reasons",
    "team_health",
    "team_month_summary",
    "team_records",
    "team_status",
    "team_status_from",
    "unit_for",
]
