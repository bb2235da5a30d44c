"""What the documents show, as plain data: built from storage + rubric by reports.build,
written by the writers (ODS, XLSX, CSV, JSON, PNG, ODT, DOCX). Writers know nothing of the
database."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ItemColumn:
    """One 評核項目 column of the results table: ``服務流程`` (280分)."""

    code: str
    name: str
    max: int


@dataclass(frozen=True)
class TableRow:
    """One section's line in the quarterly results table."""

    number: int  # 編號
    section: str  # 受考核單位名稱
    item_scores: tuple[int | None, ...]  # per item column; None: nothing submitted
    total: int | None  # 總分
    grade: str | None  # 等第
    verified: bool  # True: the secretariat's verified scores; False: the section's own
    status: str  # 未送出 / 自評已送出 / 已審定 …
    assessed_month: str | None  # 考核年月, e.g. 115年12月


@dataclass(frozen=True)
class QuarterTable:
    """第N季提升服務品質自行考核結果統計表."""

    title: str  # 經濟部水利署第十河川局115年度第4季（10-12月）提升服務品質自行考核結果統計表
    agency: str  # 實施考核機關
    period_label: str  # 115年第4季
    items: tuple[ItemColumn, ...]
    grade_scale: str  # 優=900分以上；甲=899-800分；乙=799-700分；丙=699-600分；丁=599分以下
    grade_bands: tuple[tuple[str, int], ...]  # (grade, least total), highest first
    total_max: int
    rows: tuple[TableRow, ...]
    follow_up: str = ""  # 考核結果處理情形
    #: 附件: the quarter's adopted 創意服務 plans, 「115-P-0003「河川公地線上預審」（規劃課）」
    attachments: tuple[str, ...] = ()


@dataclass(frozen=True)
class AnnualRow:
    """One section across the year's four quarters."""

    section: str
    quarter_totals: tuple[int | None, int | None, int | None, int | None]
    aggregate: float | None  # average (default) or sum of the four quarters; None if one is missing
    rank: int | None  # only when all four quarters are verified (see ``standing``)
    grade: str | None
    #: which quarters' totals the secretariat verified (the others are self scores)
    verified: tuple[bool, bool, bool, bool] = (True, True, True, True)
    #: why the section has no rank: 未完成（缺第3季）, 含自評（第4季）; empty when ranked
    standing: str = ""


@dataclass(frozen=True)
class AnnualTable:
    """The year's results: the aggregate, the ranking and the three commendations."""

    title: str
    agency: str
    roc_year: int
    method: str  # "average" or "sum"
    rows: tuple[AnnualRow, ...]  # ranked
    best_sections: tuple[str, ...]  # 成績最優課室 (ties share it)
    #: (person, section, the year's average test score, number of tests)
    best_phone: tuple[tuple[str, str, float, int], ...]
    adopted_proposals: tuple[tuple[str, str, str], ...]  # (title, proposer, section)
    #: how the ranking and the commendations were decided, printed on the sheet
    rules: str = ""
    #: (grade, least total) from the best grade down, for the trend chart's bands
    grade_bands: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class FormQuestion:
    """One question of the scoring form: its 評分參考標準 and what was scored."""

    code: str
    name: str
    max: int
    #: "※ 提供案件承辦資訊種類（120分）：" where the question is one of several in its cell
    #: or named otherwise than it; empty where the cell's name is the question's
    heading: str
    #: the 評分參考標準 as the seed prints them: "81-120分" then each line of that band's
    #: criteria, and so on; or the lead sentence and the numbered criteria list
    criteria: tuple[str, ...]
    self_score: int | None = None
    verified_score: int | None = None
    reason: str = ""  # the secretariat's reason for the verified score
    returned: bool = False
    evidence: str = ""  # summary: text and how many files


@dataclass(frozen=True)
class FormSubIndicator:
    """次評核指標, or the indicator's questions directly when it has no such level."""

    name: str | None  # "1.案件處理流程查詢公開及簡化流程程度"; None: no 次評核指標
    max: int
    questions: tuple[FormQuestion, ...]


@dataclass(frozen=True)
class FormIndicator:
    """評核指標 with its ﹡得分."""

    name: str
    max: int
    score: int | None  # ﹡得分; None on a blank or unsubmitted form
    sub_indicators: tuple[FormSubIndicator, ...]


@dataclass(frozen=True)
class FormItem:
    """評核項目 with its ＊小計 and, for 創新加值, its 評分注意事項."""

    code: str
    name: str
    max: int
    subtotal: int | None  # ＊小計
    notes: tuple[str, ...]
    indicators: tuple[FormIndicator, ...]


@dataclass(frozen=True)
class FormFacet:
    """構面: a table of its own on the form, with its name, points and description."""

    name: str  # 優質便民服務構面
    max: int
    description: str
    items: tuple[FormItem, ...]


@dataclass(frozen=True)
class SectionForm:
    """自行考核項目及評分表: filled in for one section and quarter, or blank for printing."""

    title: str  # 經濟部水利署第十河川局115年度提升服務品質自行考核項目及評分表
    number: int | None  # 編號
    section: str | None  # 課室名稱
    period_label: str  # 115年第4季, or 115年度 on a blank form for the whole year
    assessed_on: str | None  # 考核日期 (ROC)
    total: int | None  # 總分
    grade: str | None
    assessor: str | None  # 考核人員
    facets: tuple[FormFacet, ...]
    full_marks: int = 1000
    strengths_and_suggestions: str = ""  # 優點、建議改進事項
    blank: bool = False  # no scores at all: for printing and inspections on site

    @property
    def questions(self) -> tuple[FormQuestion, ...]:
        """Every question in the form's order."""
        return tuple(question for facet in self.facets for item in facet.items
                     for indicator in item.indicators for sub in indicator.sub_indicators
                     for question in sub.questions)

    @property
    def items(self) -> tuple[FormItem, ...]:
        return tuple(item for facet in self.facets for item in facet.items)
