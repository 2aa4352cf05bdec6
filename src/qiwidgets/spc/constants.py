"""Every statistical constant the engine uses, defined once, with its source.

Where the two reference packages disagree, both values are here and each profile uses its own.
"""

from __future__ import annotations

# --- Shewhart / XmR ------------------------------------------------------------------------

#: d2 for subgroups of size 2: sigma = mean moving range / d2 (Montgomery, *Introduction to
#: Statistical Quality Control*, Appendix VI). qicharts2 0.8.1 uses 3 / 1.128 = 2.6596 x mR-bar.
D2_MR = 1.128

#: Width of Shewhart limits in sigma units (Shewhart 1931; qicharts2 `qic()`).
SIGMA_LIMIT = 3.0

#: Width of the inner ("2-sigma") lines in sigma units (qicharts2 `lcl.95` / `ucl.95`).
SIGMA_INNER = 2.0

#: D4 for n = 2: upper limit of the moving-range chart = 3.267 x mR-bar, and the screening
#: threshold for moving ranges (Nelson L.S. 1982, "Control charts for individual measurements",
#: J Qual Technol 14(3); qicharts2 `qic.screenedmr`; NHSRplotthedots `screen_outliers`).
D4_MR = 3.267

#: NHS "Making Data Count" / NHSRplotthedots 0.2.2 limit multiplier: mean +/- 2.66 x mR-bar
#: (Wheeler, *Understanding Variation*; NHSRplotthedots `ptd_spc` uses the rounded 2.66).
MDC_LIMIT_CONSTANT = 2.66

#: Fraction of the way to the limits that counts as "close" in the 2-of-3 rule
#: (NHSRplotthedots: mean +/- (2/3) x 2.66 x mR-bar).
MDC_NEAR_LIMIT_FRACTION = 2.0 / 3.0

# --- runs analysis --------------------------------------------------------------------------

#: Anhøj longest-run limit: round(log2(n_useful)) + LONGEST_RUN_OFFSET
#: (Anhøj J, Olesen AV (2014) "Run charts revisited", PLoS ONE 9(11): e113825).
LONGEST_RUN_OFFSET = 3

#: Anhøj crossings limit: the CROSSINGS_QUANTILE quantile of Binomial(n_useful - 1, 0.5) (ibid.).
CROSSINGS_QUANTILE = 0.05

#: Range of n_useful where qicharts2's experimental best-box / cut-box rules apply; Anhøj outside.
BOX_RULE_N_MIN = 10
BOX_RULE_N_MAX = 100

#: Best-box / cut-box design targets: the box must keep P(no signal | random data) at least
#: BOX_RULE_TARGET_SPECIFICITY and is chosen for the highest power against a persistent shift of
#: BOX_RULE_TARGET_SHIFT standard deviations, i.e. P(point above centre) = Phi(0.8)
#: (Anhøj J, Wentzel-Larsen T (2020) "Smooth operator: Modifying the Anhøj rules to improve runs
#: analysis in statistical process control", PLoS ONE 15(6): e0233920; see spc/boxrules.py).
BOX_RULE_TARGET_SPECIFICITY = 0.925
BOX_RULE_TARGET_SHIFT = 0.8

#: IHI run chart rules (Provost & Murray, *The Health Care Data Guide*, 2011; IHI QI Essentials):
#: a shift is IHI_SHIFT or more consecutive points on one side of the median, a trend IHI_TREND or
#: more consecutive points all going up or all going down.
IHI_SHIFT = 6
IHI_TREND = 5

# --- Making Data Count (NHSRplotthedots 0.2.2) ------------------------------------------------

#: Points in a row on one side of the mean, and points in a strictly monotone trend
#: (NHSRplotthedots `ptd_seven_point_one_side_mean`, `ptd_seven_point_trend`). The MDC Excel
#: tool offers 6 as an alternative (option `run_length`).
MDC_RUN_LENGTH = 7

#: A facet x rebase group with fewer points than this gets `short_group_warning`
#: (NHSRplotthedots code: getOption("ptd_spc.warning_threshold", 13); its docs say 12).
MDC_SHORT_GROUP_THRESHOLD = 13

#: `fix_after_n_points` must be at least this (NHSRplotthedots `ptd_validate_spc_options`).
MDC_MIN_FIX_AFTER = 12

# --- chart constants for subgroups -----------------------------------------------------------
# c4(n) and c5(n) are computed exactly from the gamma function in qiwidgets.spc.qic (Montgomery,
# Appendix VI; A3 = 3/(c4 sqrt n), B3/B4 = 1 -/+ 3 c5/c4).

#: G chart with a given centre line: the plotted centre is G_CL_MEDIAN_FACTOR x the given mean,
#: the theoretical median of the geometric distribution (median ~ ln 2 x mean; Provost & Murray,
#: *The Health Care Data Guide*, 2011, p. 228). qicharts2 0.8.1 `qic.g` uses the rounded 0.693;
#: without a given centre line it plots the median of the data instead.
G_CL_MEDIAN_FACTOR = 0.693

#: T chart transform exponent: y**(1/3.6) is close to normal for exponential times
#: (Nelson L.S. 1994, "A control chart for parts-per-million nonconforming items", JQT 26(3)).
T_CHART_EXPONENT = 3.6

# --- Funnel plots (FunnelPlotR 0.6.0; Spiegelhalter 2005) -----------------------------------

#: Normal quantiles for the 95 % and 99.8 % funnel limits. FunnelPlotR 0.6.0 hard-codes these
#: truncated values (not qnorm(0.975) = 1.959963985 and qnorm(0.999) = 3.090232306); the
#: reference cases in ../shared/reference/funnel were produced with them.
FUNNEL_Z95 = 1.959964
FUNNEL_Z998 = 3.090232

#: Tail probabilities of the exact Poisson limits for standardised ratios (Spiegelhalter 2005,
#: "Funnel plots for comparing institutional performance", Stat Med 24:1185-1202, section 3.3;
#: FunnelPlotR uses the chi-square form qchisq(p, 2O) / 2 and qchisq(1 - p, 2(O + 1)) / 2).
FUNNEL_P95 = 0.025
FUNNEL_P998 = 0.001

#: Number of evenly spaced denominators in the funnel limit curve, and where the curve starts:
#: 1.1 for standardised ratios, 3 for proportions and ratios of counts (FunnelPlotR 0.6.0
#: `build_limit_lookup`: seq(start, ceiling(max(denominator)), length.out = 1000), plus the units'
#: own denominators).
FUNNEL_GRID_POINTS = 1000
FUNNEL_GRID_START_SR = 1.1
FUNNEL_GRID_START_OTHER = 3.0

#: Decimal places the SHMI method rounds expected counts to before limits and z-scores are
#: computed (NHS Digital, SHMI methodology specification; FunnelPlotR `SHMI_rounding = TRUE`).
FUNNEL_SHMI_ROUND_DIGITS = 2

#: Continuity correction added to both counts of a ratio of counts before taking logs
#: (FunnelPlotR 0.6.0 RC z-scores: log((O + 0.5) / (D + 0.5))).
FUNNEL_RC_CONTINUITY = 0.5

#: Default share of units trimmed at each end before phi is estimated: the SHMI truncates the
#: top and bottom 10 % of z-scores, the other methods Winsorise at the 10 % / 90 % quantiles
#: (Spiegelhalter 2005, "Handling over-dispersion of performance indicators", Qual Saf Health
#: Care 14:347-351; FunnelPlotR `trim_by = 0.1`).
FUNNEL_TRIM_BY = 0.1

# --- Making Data Count: rule details (qiwidgets.spc.mdc) ---------------------------------------

#: Allowed `run_length` values for shifts and trends: 7 (NHSRplotthedots 0.2.2, MDC guidance
#: "Making Data Count: Getting Started", NHS England 2019) and 6 (the MDC Excel tool variants).
MDC_RUN_LENGTH_CHOICES = (6, 7)

#: Two-in-three rule: MDC_TWO_IN_THREE_NEEDED of MDC_TWO_IN_THREE_WINDOW consecutive points close
#: to a limit, on the same side (NHSRplotthedots `ptd_two_in_three`; Western Electric
#: *Statistical Quality Control Handbook*, 1956, rule 2).
MDC_TWO_IN_THREE_WINDOW = 3
MDC_TWO_IN_THREE_NEEDED = 2
