"""The scoring form as data: models, loader/validator, scoring and ROC periods.

Pure: reads its own data files and nothing else; imports nothing else of sqbot.
"""

from rubric.errors import RubricError, RubricFileError, ScoreError
from rubric.loader import available_years, latest_rubric_year, load_rubric, load_year
from rubric.model import Band, Facet, Indicator, Item, Measure, Question, Rubric, SubIndicator
from rubric.periods import (
    TAIPEI,
    Period,
    PeriodError,
    format_roc_date,
    format_roc_date_short,
    format_roc_year_month,
    parse_period,
    parse_roc_date,
    to_gregorian_year,
    to_halfwidth,
    to_roc_year,
)
from rubric.scoring import (
    Scorecard,
    allowed_scores,
    band_for,
    band_for_measure,
    check_score,
    grade_for,
    score_card,
)

__all__ = [
    "TAIPEI",
    "Band",
    "Facet",
    "Indicator",
    "Item",
    "Measure",
    "Period",
    "PeriodError",
    "Question",
    "Rubric",
    "RubricError",
    "RubricFileError",
    "ScoreError",
    "Scorecard",
    "SubIndicator",
    "allowed_scores",
    "available_years",
    "band_for",
    "band_for_measure",
    "check_score",
    "format_roc_date",
    "format_roc_date_short",
    "format_roc_year_month",
    "grade_for",
    "latest_rubric_year",
    "load_rubric",
    "load_year",
    "parse_period",
    "parse_roc_date",
    "score_card",
    "to_gregorian_year",
    "to_halfwidth",
    "to_roc_year",
]
