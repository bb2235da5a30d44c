"""The scoring form as immutable data: facets › items › indicators › sub-indicators › questions.

Instances are built by :mod:`rubric.loader` from a year's YAML file and validated there; the
classes themselves only describe the shape.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class Band(_Frozen):
    """A score band (評分參考標準): an inclusive range of points and its criteria."""

    min: int
    max: int
    criteria: str = Field(min_length=1)
    measure_min: float | None = None

    @property
    def label(self) -> str:
        """The band as people write it: ``81-120分``."""
        return f"{self.min}-{self.max}分"

    def contains(self, score: int) -> bool:
        """Whether ``score`` lies in this band."""
        return self.min <= score <= self.max


class Measure(_Frozen):
    """An objective measure that implies a band (a phone-test score, a correctness rate)."""

    name: str = Field(min_length=1)
    unit: str = ""
    min: float = 0
    max: float | None = None
    kind: str | None = None  # "phone_courtesy_test": fed by the recorded phone tests


class Question(_Frozen):
    """One scored question: the unit staff answer with a score and evidence."""

    code: str = Field(min_length=1, max_length=16, pattern=r"^[0-9A-Za-z.\-]+$")
    name: str = Field(min_length=1)
    max: int
    bands: tuple[Band, ...] = ()
    criteria: tuple[str, ...] = ()
    guidance: str | None = None
    measure: Measure | None = None

    @property
    def lowest_band_min(self) -> int:
        """The least non-zero score allowed (1 when the question has no bands)."""
        return min((band.min for band in self.bands), default=1)


class SubIndicator(_Frozen):
    """次評核指標: a group of questions inside an indicator."""

    name: str = Field(min_length=1)
    max: int
    questions: tuple[Question, ...]


class Indicator(_Frozen):
    """評核指標: scored through sub-indicators, or directly through its own questions."""

    name: str = Field(min_length=1)
    max: int
    sub_indicators: tuple[SubIndicator, ...] | None = None
    questions: tuple[Question, ...] | None = None

    def all_questions(self) -> tuple[Question, ...]:
        """Questions of this indicator in form order."""
        if self.sub_indicators is not None:
            return tuple(q for sub in self.sub_indicators for q in sub.questions)
        return self.questions or ()


class Item(_Frozen):
    """評核項目: one of the seven columns of the quarterly results table."""

    code: str = Field(min_length=1, max_length=8)
    name: str = Field(min_length=1)
    max: int
    notes: tuple[str, ...] = ()
    indicators: tuple[Indicator, ...]

    def all_questions(self) -> tuple[Question, ...]:
        """Questions of this item in form order."""
        return tuple(q for ind in self.indicators for q in ind.all_questions())


class Facet(_Frozen):
    """構面: a group of items with a share of the 1,000 points."""

    code: str = Field(min_length=1, max_length=8)
    name: str = Field(min_length=1)
    max: int
    description: str = ""
    items: tuple[Item, ...]


class GradeStep(_Frozen):
    """A grade (等第) and the least total that earns it."""

    grade: str = Field(min_length=1)
    min: int


@dataclass(frozen=True)
class Placement:
    """Where a question sits in the form, for showing ``item › indicator › sub-indicator``."""

    number: int
    facet: Facet
    item: Item
    indicator: Indicator
    sub_indicator: SubIndicator | None

    @property
    def breadcrumb(self) -> str:
        """``服務流程 › 服務流程便捷性及案件處理透明度 › 案件處理流程查詢公開及簡化流程程度``."""
        parts = [self.item.name, self.indicator.name]
        if self.sub_indicator is not None and self.sub_indicator.name != self.indicator.name:
            parts.append(self.sub_indicator.name)
        return " › ".join(parts)


class Rubric(_Frozen):
    """A year's whole scoring form."""

    year: int
    title: str = Field(min_length=1)
    agency: str = ""
    total: int
    form_fields: tuple[str, ...] = ()
    closing_field: str = ""
    grades: tuple[GradeStep, ...]
    facets: tuple[Facet, ...]

    _questions: tuple[Question, ...] = PrivateAttr(default=())
    _by_code: dict[str, Question] = PrivateAttr(default_factory=dict)
    _placements: dict[str, Placement] = PrivateAttr(default_factory=dict)

    def model_post_init(self, __context: object) -> None:
        placements: dict[str, Placement] = {}
        questions: list[Question] = []
        for facet in self.facets:
            for item in facet.items:
                for indicator in item.indicators:
                    groups: list[tuple[SubIndicator | None, tuple[Question, ...]]]
                    if indicator.sub_indicators is not None:
                        groups = [(sub, sub.questions) for sub in indicator.sub_indicators]
                    else:
                        groups = [(None, indicator.questions or ())]
                    for sub, group in groups:
                        for question in group:
                            questions.append(question)
                            placements.setdefault(
                                question.code,
                                Placement(len(questions), facet, item, indicator, sub),
                            )
        self._questions = tuple(questions)
        self._by_code = {q.code: q for q in questions}
        self._placements = placements

    @property
    def questions(self) -> tuple[Question, ...]:
        """All scored questions in form order."""
        return self._questions

    @property
    def items(self) -> tuple[Item, ...]:
        """All items in form order."""
        return tuple(item for facet in self.facets for item in facet.items)

    def question(self, code: str) -> Question:
        """The question with ``code``; KeyError if there is none."""
        return self._by_code[code]

    def has_question(self, code: str) -> bool:
        """Whether ``code`` names a question of this rubric."""
        return code in self._by_code

    def question_measured_by(self, kind: str) -> Question | None:
        """The question whose objective measure is of ``kind`` (e.g. phone_courtesy_test)."""
        return next((q for q in self._questions if q.measure and q.measure.kind == kind), None)

    def placement(self, code: str) -> Placement:
        """Where the question ``code`` sits (1-based number, item, indicator, sub-indicator)."""
        return self._placements[code]
