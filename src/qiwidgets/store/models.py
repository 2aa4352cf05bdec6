"""The learning-system data model (SQLAlchemy 2 declarative, typed ``Mapped[]`` columns).

One programme (a collaborative with a shared aim) has teams; each team has aims, a driver
diagram, a family of measures (the programme's shared measures plus its own), observations,
annotations, PDSA cycles, reflections, progress scores and learning-system health checks.
Field names follow ``docs/domain.md``.

Conventions
-----------
* Choices ("enums") are plain strings with a named CHECK constraint, so the same schema works on
  SQLite and PostgreSQL. The allowed values are the tuples below, defined once.
* Every editable record has an integer ``version`` (SQLAlchemy ``version_id_col``): an update
  names the version the user read, and a stale one is refused (see :mod:`qiwidgets.store.repo`).
* ``created_at`` / ``updated_at`` are naive UTC timestamps set by the application.
* Dates that mean a period (an observation's ``period``, a progress score's ``month``) are
  ``DATE`` values; a month is stored as its first day.

The schema is created and upgraded by the Alembic migrations in
``qiwidgets/store/migrations``; a model change needs a new migration revision.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column, relationship

from qiwidgets import glossary

# --- allowed values (defined once; the CHECK constraints, the validation and the docs use them) --

#: Kinds of measure in a family of measures.
MEASURE_TYPES = ("outcome", "process", "balancing")
#: Which way is better: up (``increase``), down (``decrease``) or no direction (``neutral``).
IMPROVEMENT_DIRECTIONS = ("increase", "decrease", "neutral")
#: Chart types a measure can ask for (qicharts2 names, plus ``xmr`` for Making Data Count).
CHART_TYPES = ("run", "i", "mr", "xbar", "s", "t", "p", "pp", "c", "u", "up", "g", "xmr")
#: The rule sets a measure's verdict may use (its one governing rule set).
RULE_SETS = glossary.RULE_SETS
#: How often a measure is collected.
FREQUENCIES = ("daily", "weekly", "fortnightly", "monthly", "quarterly")
#: Data-quality flag on an observation.
DATA_QUALITY_FLAGS = ("ok", "provisional", "estimated", "incomplete", "suspect")
#: Nodes of a driver diagram.
DRIVER_KINDS = ("primary", "secondary", "change_idea")
#: Annotation kinds shown on charts. A ``rebase`` always carries its reason.
ANNOTATION_KINDS = ("pdsa_start", "event", "rebase", "baseline", "phase", "exclude")
#: Annotation kinds that must carry a reason.
ANNOTATION_KINDS_NEEDING_REASON = ("rebase",)
#: The Act of a PDSA cycle.
PDSA_ACTS = ("adopt", "adapt", "abandon")
# Learning levels, the IHI progress scale and the seven learning-system components are the
# shared language of the workbook: defined once in qiwidgets.glossary (docs/domain.md).
LEARNING_LEVELS = glossary.LEARNING_LEVELS
PROGRESS_SCORES: dict[float, str] = glossary.PROGRESS_SCALE
HEALTH_COMPONENTS = glossary.HEALTH_COMPONENTS
#: Lowest and highest health-check rating.
HEALTH_RATING_MIN, HEALTH_RATING_MAX = 1, 5
#: What a person may do for a team: ``member`` and ``lead`` read and save the team's records
#: (a lead also scores progress as the lead); ``viewer`` only reads them.
TEAM_ROLES = ("member", "lead", "viewer")
#: Roles for a whole programme: the ``programme_lead`` reads every team and saves the lead's
#: scores; the ``analyst`` reads every team.
PROGRAMME_ROLES = ("programme_lead", "analyst")
# Learning practice (issue M): a person's part in the team's work, help, comments, the safety
# pulse and the systems lenses. The words for each value are in qiwidgets.glossary.
#: A person's part in the team's improvement work, beside their access role (TEAM_ROLES): the
#: roles of a team charter in the IHI Breakthrough Series (IHI Innovation Series white paper,
#: 2003: a day-to-day lead, members, a senior sponsor) with a patient or family partner and the
#: programme's improvement coach.
TEAM_MEMBER_ROLES = ("team_lead", "team_member", "patient_partner", "sponsor", "coach")
#: Where a team's request for help is: asked, answered by the programme lead or the team's
#: coach, closed by the team.
HELP_STATUSES = ("open", "answered", "closed")
#: The items of the safety pulse (their statements: qiwidgets.workbook.practice.PULSE_ITEMS).
PULSE_ITEMS = ("speak_up", "mistakes", "ask_for_help", "try_new", "differences")
#: An answer to a pulse item: 1 strongly disagree ... 5 strongly agree.
PULSE_SCORE_MIN, PULSE_SCORE_MAX = 1, 5
#: Senge's five disciplines of a learning organisation (The Fifth Discipline, 1990), a tag each.
SENGE_DISCIPLINES = ("personal_mastery", "mental_models", "shared_vision", "team_learning",
                     "systems_thinking")  # fmt: skip
#: A change's risk is rated for likelihood and consequence, 1 to 5 each, as on the NHS 5 x 5 risk
#: matrix (NPSA, "A risk matrix for risk managers", 2008).
RISK_RATING_MIN, RISK_RATING_MAX = 1, 5
#: The items of the skills profile, in the three groups of the Health Foundation's "Skilled for
#: improvement?" (2014): technical, soft and learning skills. The statements are qiwidgets' own,
#: written from those headings (qiwidgets.workbook.practice.SKILL_ITEMS).
SKILL_ITEMS = ("tech_measures", "tech_variation", "tech_pdsa", "tech_mapping",
               "soft_relationships", "soft_engagement", "soft_influence", "soft_drivers_blockers",
               "learn_reflect", "learn_feedback", "learn_share")  # fmt: skip
#: A skill is rated 0 not yet, 1 learning, 2 confident, 3 can teach others (the words:
#: qiwidgets.workbook.practice.SKILL_SCALE).
SKILL_LEVEL_MIN, SKILL_LEVEL_MAX = 0, 3
#: The categories of a cause-and-effect (fishbone) diagram, as commonly used in health care
#: (Engineering Better Care's systems approach, 2017; the Ishikawa "6 Ms": people, equipment,
#: environment, methods, materials, management).
FISHBONE_CATEGORIES = ("people", "equipment", "environment", "methods", "materials",
                       "management")  # fmt: skip

# Deterministic constraint names, so migrations (and SQLite batch operations) can refer to them.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

from qiwidgets import glossary


def utcnow() -> dt.datetime:
    """The current time as a naive UTC timestamp (the store keeps every timestamp in UTC)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _in(column: str, values) -> str:
    """SQL text ``column IN ('a', 'b')`` for a CHECK constraint (fixed values, never user input)."""
    items = ", ".join(repr(v) if isinstance(v, float) else f"'{v}'" for v in values)
    return f"{column} IN ({items})"


def _optional_in(column: str, values) -> str:
    return f"{column} IS NULL OR {_in(column, values)}"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Timestamped:
    """``created_at`` and ``updated_at`` (naive UTC)."""

    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, nullable=False)
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime, default=utcnow, onupdate=utcnow, nullable=False
    )


class Signed:
    """``updated_by_id``: the person who last saved the record (empty when it was saved by a
    command, an analyst's notebook, or before people were recorded)."""

    updated_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), nullable=True
    )


class Versioned(Timestamped):
    """An editable record: an integer ``version`` checked by every UPDATE (optimistic locking)."""

    version: Mapped[int] = mapped_column(Integer, nullable=False)

    @declared_attr.directive
    def __mapper_args__(cls):
        return {"version_id_col": cls.__table__.c.version}


# --- association tables ---------------------------------------------------------------------

aim_measures = Table(
    "aim_measures",
    Base.metadata,
    Column("aim_id", ForeignKey("aims.id", ondelete="CASCADE"), primary_key=True),
    Column("measure_id", ForeignKey("measures.id", ondelete="RESTRICT"), primary_key=True),
)
"""Outcome measures an aim is linked to."""

pdsa_measures = Table(
    "pdsa_measures",
    Base.metadata,
    Column("pdsa_id", ForeignKey("pdsa_cycles.id", ondelete="CASCADE"), primary_key=True),
    Column("measure_id", ForeignKey("measures.id", ondelete="RESTRICT"), primary_key=True),
)
"""Measures a PDSA cycle watches."""


# --- people and their access -----------------------------------------------------------------


class Person(Versioned, Base):
    """Someone who uses the dashboards: a display name, and the key that identifies them (a
    JupyterHub user name, or an e-mail address for a personal access link). Lower case."""

    __tablename__ = "people"

    id: Mapped[int] = mapped_column(primary_key=True)
    identity_key: Mapped[str] = mapped_column(String(200), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))

    def __repr__(self) -> str:
        return f"<Person {self.identity_key!r}>"


class Membership(Versioned, Base):
    """A person's role on a team (:data:`TEAM_ROLES`)."""

    __tablename__ = "memberships"
    __table_args__ = (
        UniqueConstraint("person_id", "team_id"),
        CheckConstraint(_in("role", TEAM_ROLES), name="role"),
        CheckConstraint(_optional_in("team_role", TEAM_MEMBER_ROLES), name="team_role"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    #: Their part in the team's work (:data:`TEAM_MEMBER_ROLES`); empty: not said yet.
    team_role: Mapped[str | None] = mapped_column(String(24))


class ProgrammeRole(Versioned, Base):
    """A person's role for a whole programme (:data:`PROGRAMME_ROLES`)."""

    __tablename__ = "programme_roles"
    __table_args__ = (
        UniqueConstraint("person_id", "programme_id"),
        CheckConstraint(_in("role", PROGRAMME_ROLES), name="role"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    programme_id: Mapped[int] = mapped_column(
        ForeignKey("programmes.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(24))


class AccessLink(Timestamped, Base):
    """A personal access link: only the SHA-256 of its secret is kept. Revoked by setting
    ``revoked_at``; optionally expires."""

    __tablename__ = "access_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str | None] = mapped_column(String(200))
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


# --- programme and teams ----------------------------------------------------------------------


class Programme(Versioned, Base):
    """A programme ("collaborative"): many teams working on one shared aim."""

    __tablename__ = "programmes"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    shared_aim: Mapped[str | None] = mapped_column(Text)

    teams: Mapped[list[Team]] = relationship(back_populates="programme", order_by="Team.code")

    def __repr__(self) -> str:
        return f"<Programme {self.code!r}>"


class Team(Versioned, Base):
    """An improvement team (a ward, a clinic, a community team) within a programme."""

    __tablename__ = "teams"
    __table_args__ = (UniqueConstraint("programme_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(
        ForeignKey("programmes.id", ondelete="RESTRICT"), index=True
    )
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    organisation: Mapped[str | None] = mapped_column(String(200))

    programme: Mapped[Programme] = relationship(back_populates="teams")

    def __repr__(self) -> str:
        return f"<Team {self.code!r}>"


class Aim(Signed, Versioned, Base):
    """An aim statement: what will improve, for whom, how much, by when."""

    __tablename__ = "aims"

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="RESTRICT"), index=True)
    what: Mapped[str] = mapped_column(Text)
    for_whom: Mapped[str | None] = mapped_column(Text)
    how_much: Mapped[str | None] = mapped_column(Text)
    by_when: Mapped[dt.date | None] = mapped_column(Date)
    baseline: Mapped[str | None] = mapped_column(Text)

    team: Mapped[Team] = relationship()
    outcome_measures: Mapped[list[Measure]] = relationship(
        secondary=aim_measures, order_by="Measure.code"
    )


#: Longest shared name of a change idea (a short name, like a code people read).
IDEA_TAG_LENGTH = 120


class DriverNode(Signed, Versioned, Base):
    """A node of a team's driver diagram: a primary or secondary driver, or a change idea.

    ``parent`` links a secondary driver to its primary driver and a change idea to its driver;
    ``order`` is the position among its siblings.
    """

    __tablename__ = "driver_nodes"
    __table_args__ = (CheckConstraint(_in("kind", DRIVER_KINDS), name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="RESTRICT"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("driver_nodes.id", ondelete="RESTRICT"), index=True
    )
    text: Mapped[str] = mapped_column(Text)
    order: Mapped[int] = mapped_column(Integer, default=0)
    #: A change idea's shared name: the programme's change-idea library groups ideas by it
    #: (teams word the same idea differently), else by the text (qiwidgets.workbook.learning).
    idea_tag: Mapped[str | None] = mapped_column(String(IDEA_TAG_LENGTH), nullable=True)

    team: Mapped[Team] = relationship()
    parent: Mapped[DriverNode | None] = relationship(remote_side="DriverNode.id")


class Measure(Versioned, Base):
    """A measure's operational definition.

    A *shared* measure belongs to the programme (``team_id`` is NULL) and is the same for every
    team; a team-specific measure has ``team_id`` set. A team's family of measures is the shared
    ones plus its own. ``code`` is unique among the shared measures of a programme, and among a
    team's own measures.
    """

    __tablename__ = "measures"
    __table_args__ = (
        CheckConstraint(_in("measure_type", MEASURE_TYPES), name="measure_type"),
        CheckConstraint(
            _optional_in("improvement_direction", IMPROVEMENT_DIRECTIONS),
            name="improvement_direction",
        ),
        CheckConstraint(_optional_in("chart_type", CHART_TYPES), name="chart_type"),
        CheckConstraint(_optional_in("rule_set", RULE_SETS), name="rule_set"),
        CheckConstraint(_optional_in("frequency", FREQUENCIES), name="frequency"),
        CheckConstraint("multiplier IS NULL OR multiplier > 0", name="multiplier_positive"),
        CheckConstraint(
            "baseline_start IS NULL OR baseline_end IS NULL OR baseline_start <= baseline_end",
            name="baseline_order",
        ),
        Index(
            "uq_measures_shared_code",
            "programme_id",
            "code",
            unique=True,
            sqlite_where=text("team_id IS NULL"),
            postgresql_where=text("team_id IS NULL"),
        ),
        Index(
            "uq_measures_team_code",
            "team_id",
            "code",
            unique=True,
            sqlite_where=text("team_id IS NOT NULL"),
            postgresql_where=text("team_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(
        ForeignKey("programmes.id", ondelete="RESTRICT"), index=True
    )
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="RESTRICT"))
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(300))
    measure_type: Mapped[str] = mapped_column(String(16))
    numerator_definition: Mapped[str | None] = mapped_column(Text)
    denominator_definition: Mapped[str | None] = mapped_column(Text)
    value_definition: Mapped[str | None] = mapped_column(Text)
    unit: Mapped[str | None] = mapped_column(String(100))
    multiplier: Mapped[float | None] = mapped_column(Float)
    population: Mapped[str | None] = mapped_column(Text)
    inclusions: Mapped[str | None] = mapped_column(Text)
    exclusions: Mapped[str | None] = mapped_column(Text)
    data_source: Mapped[str | None] = mapped_column(Text)
    collector: Mapped[str | None] = mapped_column(String(200))
    frequency: Mapped[str | None] = mapped_column(String(16))
    sampling: Mapped[str | None] = mapped_column(Text)
    improvement_direction: Mapped[str | None] = mapped_column(String(16))
    target: Mapped[float | None] = mapped_column(Float)
    target_date: Mapped[dt.date | None] = mapped_column(Date)
    chart_type: Mapped[str | None] = mapped_column(String(16))
    #: The rule set of the measure's verdict on every screen; empty: the default for its chart
    #: type (``qiwidgets.workbook.measures.rule_set_for``).
    rule_set: Mapped[str | None] = mapped_column(String(16))
    baseline_start: Mapped[dt.date | None] = mapped_column(Date)
    baseline_end: Mapped[dt.date | None] = mapped_column(Date)

    programme: Mapped[Programme] = relationship()
    team: Mapped[Team | None] = relationship()

    @property
    def is_shared(self) -> bool:
        """True for a programme-wide measure (the same definition for every team)."""
        return self.team_id is None

    def __repr__(self) -> str:
        return f"<Measure {self.code!r} ({self.measure_type})>"


class Observation(Signed, Versioned, Base):
    """One data point: a team's value of a measure for one period.

    Counts-based measures fill ``numerator`` and ``denominator`` (``value`` may hold the derived
    rate); measurement measures fill ``value``. Unique per team x measure x period.
    """

    __tablename__ = "observations"
    __table_args__ = (
        UniqueConstraint("team_id", "measure_id", "period"),
        CheckConstraint(_in("data_quality", DATA_QUALITY_FLAGS), name="data_quality"),
        CheckConstraint("numerator IS NULL OR numerator >= 0", name="numerator_not_negative"),
        CheckConstraint("denominator IS NULL OR denominator >= 0", name="denominator_not_negative"),
        Index("ix_observations_measure_id_period", "measure_id", "period"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="RESTRICT"))
    measure_id: Mapped[int] = mapped_column(ForeignKey("measures.id", ondelete="RESTRICT"))
    period: Mapped[dt.date] = mapped_column(Date)
    numerator: Mapped[float | None] = mapped_column(Float)
    denominator: Mapped[float | None] = mapped_column(Float)
    value: Mapped[float | None] = mapped_column(Float)
    data_quality: Mapped[str] = mapped_column(String(16), default="ok")
    source: Mapped[str | None] = mapped_column(String(500))
    #: What the team wants a reader of this value to know (free text).
    note: Mapped[str | None] = mapped_column(Text)

    team: Mapped[Team] = relationship()
    measure: Mapped[Measure] = relationship()


class ObservationEdit(Base):
    """Edit history: one changed field of an observation (a correction never erases the past)."""

    __tablename__ = "observation_edits"

    id: Mapped[int] = mapped_column(primary_key=True)
    observation_id: Mapped[int] = mapped_column(
        ForeignKey("observations.id", ondelete="RESTRICT"), index=True
    )
    field: Mapped[str] = mapped_column(String(32))
    old_value: Mapped[str | None] = mapped_column(String(100))
    new_value: Mapped[str | None] = mapped_column(String(100))
    changed_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    source: Mapped[str | None] = mapped_column(String(500))
    changed_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), nullable=True
    )

    observation: Mapped[Observation] = relationship()


class PDSACycle(Signed, Versioned, Base):
    """A Plan-Do-Study-Act cycle testing a change idea."""

    __tablename__ = "pdsa_cycles"
    __table_args__ = (CheckConstraint(_optional_in("act", PDSA_ACTS), name="act"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="RESTRICT"), index=True)
    change_idea_id: Mapped[int | None] = mapped_column(
        ForeignKey("driver_nodes.id", ondelete="RESTRICT")
    )
    title: Mapped[str] = mapped_column(String(300))
    plan_question: Mapped[str | None] = mapped_column(Text)
    prediction: Mapped[str | None] = mapped_column(Text)
    plan_date: Mapped[dt.date | None] = mapped_column(Date)
    do_start: Mapped[dt.date | None] = mapped_column(Date)
    do_notes: Mapped[str | None] = mapped_column(Text)
    study_date: Mapped[dt.date | None] = mapped_column(Date)
    study_result: Mapped[str | None] = mapped_column(Text)
    act: Mapped[str | None] = mapped_column(String(16))
    act_date: Mapped[dt.date | None] = mapped_column(Date)
    #: Shared with the programme: the other teams may read it and comment on it (the team
    #: shares it by choice; qiwidgets.store.practice).
    shared: Mapped[bool] = mapped_column(Boolean, default=False)

    team: Mapped[Team] = relationship()
    change_idea: Mapped[DriverNode | None] = relationship()
    measures: Mapped[list[Measure]] = relationship(secondary=pdsa_measures, order_by="Measure.code")


class Annotation(Signed, Versioned, Base):
    """A note on a team's charts: a PDSA start, an event, a rebase (with its reason), ...

    ``measure_id`` NULL means the annotation applies to every chart of the team.
    """

    __tablename__ = "annotations"
    __table_args__ = (
        CheckConstraint(_in("kind", ANNOTATION_KINDS), name="kind"),
        CheckConstraint(
            f"NOT ({_in('kind', ANNOTATION_KINDS_NEEDING_REASON)}) "
            "OR (reason IS NOT NULL AND reason <> '')",
            name="reason_required",
        ),
        Index("ix_annotations_team_id_date", "team_id", "date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="RESTRICT"))
    measure_id: Mapped[int | None] = mapped_column(ForeignKey("measures.id", ondelete="RESTRICT"))
    pdsa_id: Mapped[int | None] = mapped_column(ForeignKey("pdsa_cycles.id", ondelete="SET NULL"))
    date: Mapped[dt.date] = mapped_column(Date)
    text: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)

    team: Mapped[Team] = relationship()
    measure: Mapped[Measure | None] = relationship()


class Reflection(Signed, Versioned, Base):
    """A team's reflection: what happened, what worked, what did not, what should change."""

    __tablename__ = "reflections"
    __table_args__ = (
        CheckConstraint(_optional_in("learning_level", LEARNING_LEVELS), name="learning_level"),
        Index("ix_reflections_team_id_date", "team_id", "date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="RESTRICT"))
    date: Mapped[dt.date] = mapped_column(Date)
    authors: Mapped[str | None] = mapped_column(Text)
    what_happened: Mapped[str | None] = mapped_column(Text)
    what_worked: Mapped[str | None] = mapped_column(Text)
    what_did_not: Mapped[str | None] = mapped_column(Text)
    what_should_change: Mapped[str | None] = mapped_column(Text)
    learning_level: Mapped[str | None] = mapped_column(String(16))
    bright_spot: Mapped[bool] = mapped_column(Boolean, default=False)
    story: Mapped[str | None] = mapped_column(Text)
    generalisable: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Shared with the programme (its dashboard and report); a new reflection stays with the
    #: team unless the team shares it ("learning in confidence", docs/domain.md).
    shared: Mapped[bool] = mapped_column(Boolean, default=False)

    team: Mapped[Team] = relationship()


class ProgressScore(Signed, Versioned, Base):
    """The IHI progress score for one month: the team's own and its programme lead's."""

    __tablename__ = "progress_scores"
    __table_args__ = (
        UniqueConstraint("team_id", "month"),
        CheckConstraint(_optional_in("team_score", PROGRESS_SCORES), name="team_score"),
        CheckConstraint(_optional_in("lead_score", PROGRESS_SCORES), name="lead_score"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="RESTRICT"))
    month: Mapped[dt.date] = mapped_column(Date)
    team_score: Mapped[float | None] = mapped_column(Float)
    lead_score: Mapped[float | None] = mapped_column(Float)
    justification: Mapped[str | None] = mapped_column(Text)

    team: Mapped[Team] = relationship()


class HealthCheck(Signed, Versioned, Base):
    """One component of a learning-system health check, rated 1-5, for one period.

    ``team_id`` NULL means a programme-level check; otherwise the check is for that team.
    """

    __tablename__ = "health_checks"
    __table_args__ = (
        CheckConstraint(_in("component", HEALTH_COMPONENTS), name="component"),
        CheckConstraint(
            f"rating >= {HEALTH_RATING_MIN} AND rating <= {HEALTH_RATING_MAX}", name="rating"
        ),
        Index(
            "uq_health_checks_programme",
            "programme_id",
            "period",
            "component",
            unique=True,
            sqlite_where=text("team_id IS NULL"),
            postgresql_where=text("team_id IS NULL"),
        ),
        Index(
            "uq_health_checks_team",
            "team_id",
            "period",
            "component",
            unique=True,
            sqlite_where=text("team_id IS NOT NULL"),
            postgresql_where=text("team_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(
        ForeignKey("programmes.id", ondelete="RESTRICT"), index=True
    )
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="RESTRICT"))
    period: Mapped[dt.date] = mapped_column(Date)
    component: Mapped[str] = mapped_column(String(40))
    rating: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)

    programme: Mapped[Programme] = relationship()
    team: Mapped[Team | None] = relationship()


# --- learning practice (issue M; qiwidgets.store.practice) ------------------------------------


class HelpRequest(Signed, Versioned, Base):
    """A team's request for help: it reaches the programme lead and the team's coach, who
    answer it; the team closes it."""

    __tablename__ = "help_requests"
    __table_args__ = (CheckConstraint(_in("status", HELP_STATUSES), name="status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="RESTRICT"), index=True)
    raised_on: Mapped[dt.date] = mapped_column(Date)
    request: Mapped[str] = mapped_column(Text)
    raised_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), default="open")
    response: Mapped[str | None] = mapped_column(Text)
    responded_on: Mapped[dt.date | None] = mapped_column(Date)
    responded_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL")
    )

    team: Mapped[Team] = relationship()


class Comment(Signed, Versioned, Base):
    """A comment on a PDSA cycle or a reflection's story that its team shared with the
    programme, from a member of another team of the programme (or the programme lead).

    ``team_id`` is the team whose record it is; ``author_team_id`` the commenter's team.
    """

    __tablename__ = "comments"
    __table_args__ = (
        CheckConstraint("(pdsa_id IS NULL) <> (reflection_id IS NULL)", name="one_target"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="RESTRICT"), index=True)
    pdsa_id: Mapped[int | None] = mapped_column(
        ForeignKey("pdsa_cycles.id", ondelete="CASCADE"), index=True
    )
    reflection_id: Mapped[int | None] = mapped_column(
        ForeignKey("reflections.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    author_team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text)


class PulseCount(Base):
    """The safety pulse, as counts only: how many of a team's answers to one item in one month
    were each score. No answer is stored on its own, nor who gave it, nor when."""

    __tablename__ = "pulse_counts"
    __table_args__ = (
        UniqueConstraint("team_id", "month", "item", "score"),
        CheckConstraint(_in("item", PULSE_ITEMS), name="item"),
        CheckConstraint(f"score >= {PULSE_SCORE_MIN} AND score <= {PULSE_SCORE_MAX}",
                        name="score"),
        CheckConstraint("count >= 0", name="count_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    month: Mapped[dt.date] = mapped_column(Date)
    item: Mapped[str] = mapped_column(String(32))
    score: Mapped[int] = mapped_column(Integer)
    count: Mapped[int] = mapped_column(Integer, default=0)


class PulseResponse(Base):
    """That a person answered a team's pulse in a month (so they answer once), never what they
    answered. Never exported."""

    __tablename__ = "pulse_responses"
    __table_args__ = (UniqueConstraint("team_id", "month", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    month: Mapped[dt.date] = mapped_column(Date)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"),
                                           index=True)  # fmt: skip


class PDSALens(Signed, Versioned, Base):
    """A PDSA cycle's plan seen through the four perspectives of Engineering Better Care
    (people, systems, design, risk), with a risk assessment of the change: likelihood and
    consequence rated 1-5 and what will keep the risk down."""

    __tablename__ = "pdsa_lenses"
    __table_args__ = (
        CheckConstraint(f"risk_likelihood IS NULL OR (risk_likelihood >= {RISK_RATING_MIN} "
                        f"AND risk_likelihood <= {RISK_RATING_MAX})", name="risk_likelihood"),
        CheckConstraint(f"risk_consequence IS NULL OR (risk_consequence >= {RISK_RATING_MIN} "
                        f"AND risk_consequence <= {RISK_RATING_MAX})", name="risk_consequence"),
    )  # fmt: skip

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="RESTRICT"), index=True)
    pdsa_id: Mapped[int] = mapped_column(ForeignKey("pdsa_cycles.id", ondelete="CASCADE"),
                                         unique=True)  # fmt: skip
    people: Mapped[str | None] = mapped_column(Text)
    systems: Mapped[str | None] = mapped_column(Text)
    design: Mapped[str | None] = mapped_column(Text)
    risk: Mapped[str | None] = mapped_column(Text)
    risk_likelihood: Mapped[int | None] = mapped_column(Integer)
    risk_consequence: Mapped[int | None] = mapped_column(Integer)
    risk_controls: Mapped[str | None] = mapped_column(Text)


reflection_disciplines = Table(
    "reflection_disciplines",
    Base.metadata,
    Column("reflection_id", ForeignKey("reflections.id", ondelete="CASCADE"), primary_key=True),
    Column("discipline", String(24), primary_key=True),
    CheckConstraint(_in("discipline", SENGE_DISCIPLINES), name="discipline"),
)
"""Senge's disciplines a reflection speaks to (a tag each)."""


class SkillProfile(Signed, Versioned, Base):
    """A person's skills profile on a team: their latest self-assessment (the ratings are in
    ``skill_ratings``). Only the person saves it; the team and the programme read counts."""

    __tablename__ = "skill_profiles"
    __table_args__ = (UniqueConstraint("person_id", "team_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)


skill_ratings = Table(
    "skill_ratings",
    Base.metadata,
    Column("profile_id", ForeignKey("skill_profiles.id", ondelete="CASCADE"), primary_key=True),
    Column("item", String(32), primary_key=True),
    Column("level", Integer, nullable=False),
    CheckConstraint(_in("item", SKILL_ITEMS), name="item"),
    CheckConstraint(f"level >= {SKILL_LEVEL_MIN} AND level <= {SKILL_LEVEL_MAX}", name="level"),
)
"""A skills profile's rating of each item (:data:`SKILL_ITEMS`, :data:`SKILL_LEVEL_MIN` to
:data:`SKILL_LEVEL_MAX`)."""


class Fishbone(Signed, Versioned, Base):
    """A team's cause-and-effect (fishbone) diagram: the effect, the problem it explains.
    One per team; its causes are :class:`FishboneCause` records."""

    __tablename__ = "fishbones"

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="RESTRICT"), unique=True)
    effect: Mapped[str] = mapped_column(Text)


class FishboneCause(Signed, Versioned, Base):
    """A cause on a team's fishbone, under a category (:data:`FISHBONE_CATEGORIES`); a
    sub-cause has ``parent_id`` (one level only). ``driver_node_id`` links it to a node of the
    same team's driver diagram (the change that answers it)."""

    __tablename__ = "fishbone_causes"
    __table_args__ = (CheckConstraint(_in("category", FISHBONE_CATEGORIES), name="category"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="RESTRICT"), index=True)
    fishbone_id: Mapped[int] = mapped_column(ForeignKey("fishbones.id", ondelete="CASCADE"),
                                             index=True)  # fmt: skip
    category: Mapped[str] = mapped_column(String(16))
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("fishbone_causes.id", ondelete="RESTRICT"), index=True
    )
    text: Mapped[str] = mapped_column(Text)
    driver_node_id: Mapped[int | None] = mapped_column(
        ForeignKey("driver_nodes.id", ondelete="SET NULL")
    )
    order: Mapped[int] = mapped_column(Integer, default=0)


#: Tables in dependency order (parents first): the order export and import use.
TABLES_IN_ORDER = [t.name for t in Base.metadata.sorted_tables]

__all__ = [
    "ANNOTATION_KINDS",
    "ANNOTATION_KINDS_NEEDING_REASON",
    "CHART_TYPES",
    "DATA_QUALITY_FLAGS",
    "DRIVER_KINDS",
    "FISHBONE_CATEGORIES",
    "FREQUENCIES",
    "HEALTH_COMPONENTS",
    "HELP_STATUSES",
    "IMPROVEMENT_DIRECTIONS",
    "LEARNING_LEVELS",
    "MEASURE_TYPES",
    "PDSA_ACTS",
    "PROGRAMME_ROLES",
    "PROGRESS_SCORES",
    "PULSE_ITEMS",
    "SENGE_DISCIPLINES",
    "SKILL_ITEMS",
    "SKILL_LEVEL_MAX",
    "SKILL_LEVEL_MIN",
    "TABLES_IN_ORDER",
    "TEAM_MEMBER_ROLES",
    "TEAM_ROLES",
    "AccessLink",
    "Aim",
    "Annotation",
    "Base",
    "Comment",
    "DriverNode",
    "Fishbone",
    "FishboneCause",
    "HealthCheck",
    "HelpRequest",
    "Measure",
    "Membership",
    "Observation",
    "ObservationEdit",
    "PDSACycle",
    "PDSALens",
    "Person",
    "Programme",
    "ProgrammeRole",
    "ProgressScore",
    "PulseCount",
    "PulseResponse",
    "Reflection",
    "SkillProfile",
    "Team",
    "aim_measures",
    "pdsa_measures",
    "reflection_disciplines",
    "skill_ratings",
    "utcnow",
]
