"""Colours, shapes and sizes: each defined once, with where it comes from.

Point categories follow the Making Data Count (MDC) vocabulary for every chart, so that a team
reads a qicharts2-style chart and an MDC chart the same way (*shared language*):

* common cause (no signal at this point),
* special cause improvement, special cause concern (when an improvement direction is known),
* special cause high / low with no direction set (MDC "neutral").

Each category has a colour **and** a shape, so readers who do not tell blue from orange still see
the difference.
"""

from __future__ import annotations

# --- Making Data Count colours -----------------------------------------------------------------
# Source: NHSRplotthedots 0.2.2 `ptd_spc_colours()` defaults, the R package that implements NHS
# England's "Making Data Count" guidance ("Making Data Count: Strengthening your decisions",
# NHS England / NHS Improvement 2019): grey for common cause, blue for improvement, orange for
# concern, purple for special cause with no improvement direction.
COMMON_CAUSE = "#a6a6a6"  # MDC grey: common cause variation
IMPROVEMENT = "#00b0f0"  # MDC blue: special cause improvement
CONCERN = "#e46c0a"  # MDC orange: special cause concern
NEUTRAL = "#490092"  # MDC purple: special cause, no improvement direction set
TARGET = "#de1b1b"  # MDC target line (NHSRplotthedots `target`)

# --- Lines (our choice, tuned on rendered PNGs for contrast on white) --------------------------
DATA_LINE = "#8c8c8c"  # the line joining the points: MDC grey, darkened for 3:1 contrast on white
CENTRE_LINE = "#1a1a1a"  # centre line: NHSRplotthedots `mean_line` is black; near-black here
LIMIT_LINE = "#6e6e6e"  # process / control limits: MDC grey, darkened so dashes stay visible
INNER_LINE = "#a6a6a6"  # 2-sigma (qicharts2) or "near" lines (MDC): lighter than the limits
RUNS_SIGNAL_LINE = NEUTRAL  # qicharts2 marks a runs signal on the centre line, not the points
BASELINE_FILL = "#e8eef5"  # frozen baseline band: a pale tint that keeps the points readable
LABEL_TEXT = "#3d3d3d"  # line labels at the right of a chart: dark grey, 10:1 on white
POINT_STROKE = "#ffffff"  # thin white ring around filled points so overlapping points separate

# Annotation rules by kind (pdsa_start, event, rebase, anything else).
ANNOTATION_COLOURS = {
    "pdsa_start": "#00703c",  # dark green: NHS identity "dark green", a start of a test of change
    "pdsa_end": "#00703c",
    "event": "#425563",  # NHS identity "dark grey": something that happened
    "rebase": "#1a1a1a",  # black: the limits were recalculated from here
}
ANNOTATION_DEFAULT_COLOUR = "#425563"
ANNOTATION_DASHES = {"pdsa_start": [4, 3], "pdsa_end": [2, 3], "event": [1, 0], "rebase": [8, 3]}
ANNOTATION_DEFAULT_DASH = [1, 0]

# --- Point categories: (key, colour, Vega shape) -----------------------------------------------
# Shapes: circle for "nothing to see", filled square for improvement, diamond for concern,
# triangles pointing the way the special cause went when no direction is set.
POINT_CATEGORIES = {
    "common_cause": (COMMON_CAUSE, "circle"),
    "special_cause_improvement": (IMPROVEMENT, "square"),
    "special_cause_concern": (CONCERN, "diamond"),
    "special_cause_neutral_high": (NEUTRAL, "triangle-up"),
    "special_cause_neutral_low": (NEUTRAL, "triangle-down"),
}

#: Legend wording for each category: Making Data Count charts, and qicharts2-style charts (where
#: a runs signal belongs to the whole part, so a point without its own signal is not called
#: "common cause").
POINT_LABELS_MDC = {
    "common_cause": "Common cause",
    "special_cause_improvement": "Special cause: improvement",
    "special_cause_concern": "Special cause: concern",
    "special_cause_neutral_high": "Special cause: high (no direction set)",
    "special_cause_neutral_low": "Special cause: low (no direction set)",
}
POINT_LABELS_QIC = {
    "common_cause": "No signal at this point",
    "special_cause_improvement": "Signal: improvement",
    "special_cause_concern": "Signal: concern",
    "special_cause_neutral_high": "Signal: high (no direction set)",
    "special_cause_neutral_low": "Signal: low (no direction set)",
}

# --- Funnel plot ---------------------------------------------------------------------------------
FUNNEL_CATEGORIES = {
    "within_limits": (COMMON_CAUSE, "circle", "Within the limits"),
    "above_limit": (NEUTRAL, "triangle-up", "Above the limit"),
    "below_limit": (NEUTRAL, "triangle-down", "Below the limit"),
    "not_judged": (COMMON_CAUSE, "cross", "Not judged"),
}
FUNNEL_LIMIT_COLOURS = {"adjusted": "#3d3d3d", "unadjusted": "#8c8c8c"}
FUNNEL_LIMIT_DASHES = {95: [5, 3], 99.8: [1, 0]}

# --- Sizes ---------------------------------------------------------------------------------------
POINT_SIZE = 64  # Vega symbol area in px^2 (about 8 px across)
AXIS_LABEL_SEPARATION = 10  # px: date labels closer than this are thinned out
POINT_SIZE_SMALL = 22  # small multiples
SPECIAL_SIZE_FACTOR = 2.0  # special-cause points: twice the area of common-cause points
LINE_WIDTH = 1.5
LIMIT_WIDTH = 1.2
FONT = "DejaVu Sans, Arial, Helvetica, sans-serif"  # DejaVu ships with Debian: same on every box
WIDTH = 560
HEIGHT = 260
PANEL_WIDTH = 190
PANEL_HEIGHT = 110
ICON_SIZE = 40  # px, as the MDC icons are shown beside a chart
ANNOTATION_ROWS = 4  # label rows used to stagger annotation labels that are close together
ANNOTATION_CHAR_PX = 5.5  # px: estimated width of one character of an annotation label (10 px font)
ANNOTATION_GAP_PX = 6  # px: least space between two labels in one row
ANNOTATION_ROW_HEIGHT = 12  # px between staggered annotation label rows
ANNOTATION_LABEL_LIMIT = 170  # px: longer annotation labels are cut with an ellipsis
