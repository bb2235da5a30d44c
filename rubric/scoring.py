"""Scoring: which scores a question allows, bands, subtotals, the total and the grade."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from rubric.errors import ScoreError
from rubric.model import Band, Question, Rubric


def allowed_scores(question: Question) -> str:
    """The allowed scores of ``question`` in words, for messages: ``0, or 1-120``."""
    low = question.lowest_band_min
    if low <= 1:
        return f"0-{question.max}"
    return f"0, or {low}-{question.max}"


def check_score(question: Question, score: int) -> int:
    """Return ``score`` if ``question`` allows it, else raise :class:`ScoreError`.

    Allowed: 0 (nothing done), and any whole number from the lowest band's minimum up to the
    question's maximum (bands of a valid rubric leave no gap above the lowest band).
    """
    if isinstance(score, bool) or not isinstance(score, int):
        raise ScoreError(question.code, score, "a whole number of points")
    if score == 0 or question.lowest_band_min <= score <= question.max:
        return score
    raise ScoreError(question.code, score, allowed_scores(question))


def band_for(question: Question, score: int) -> Band | None:
    """The band ``score`` falls in; None for 0 or for a question scored by criteria only."""
    check_score(question, score)
    for band in question.bands:
        if band.contains(score):
            return band
    return None


def band_for_measure(question: Question, value: float) -> Band | None:
    """The band an objective measure implies (phone-test 92 → 16-20); None below every band.

    Raises ScoreError when the question has no measure or ``value`` is outside its range.
    """
    measure = question.measure
    if measure is None:
        raise ScoreError(question.code, value, "this question has no objective measure")
    if value < measure.min or (measure.max is not None and value > measure.max):
        upper = "" if measure.max is None else f"-{measure.max:g}"
        raise ScoreError(question.code, value, f"{measure.name} {measure.min:g}{upper}")
    qualifying = [b for b in question.bands if b.measure_min is not None and value >= b.measure_min]
    return max(qualifying, key=lambda band: band.min, default=None)


def grade_for(rubric: Rubric, total: int) -> str:
    """The grade (等第) of ``total`` on ``rubric``'s scale: 900 → 優, 899 → 甲 on the 105 form."""
    if total < 0 or total > rubric.total:
        raise ScoreError("total", total, f"0-{rubric.total}")
    for step in rubric.grades:
        if total >= step.min:
            return step.grade
    raise AssertionError("a validated rubric's lowest grade starts at 0")


@dataclass(frozen=True)
class Scorecard:
    """Subtotals of a set of answers: per item, per facet, the total and the grade.

    ``total`` and ``grade`` count what is answered so far; ``complete`` says whether every
    question has a score.
    """

    rubric_year: int
    item_scores: Mapping[str, int]
    facet_scores: Mapping[str, int]
    total: int
    grade: str
    answered: tuple[str, ...]
    unanswered: tuple[str, ...]

    @property
    def complete(self) -> bool:
        """Whether every question has a score."""
        return not self.unanswered


def score_card(rubric: Rubric, scores: Mapping[str, int]) -> Scorecard:
    """Compute subtotals from ``{question code: score}``; unknown codes or bad scores raise."""
    for code, score in scores.items():
        if not rubric.has_question(code):
            raise ScoreError(code, score, f"no question {code!r} in the {rubric.year} rubric")
        check_score(rubric.question(code), score)
    item_scores: dict[str, int] = {}
    facet_scores: dict[str, int] = {}
    for facet in rubric.facets:
        for item in facet.items:
            item_scores[item.code] = sum(scores.get(q.code, 0) for q in item.all_questions())
        facet_scores[facet.code] = sum(item_scores[item.code] for item in facet.items)
    total = sum(facet_scores.values())
    codes = [q.code for q in rubric.questions]
    return Scorecard(
        rubric_year=rubric.year,
        item_scores=item_scores,
        facet_scores=facet_scores,
        total=total,
        grade=grade_for(rubric, total),
        answered=tuple(c for c in codes if c in scores),
        unanswered=tuple(c for c in codes if c not in scores),
    )
