"""What the documents show, as plain data: built from storage + rubric by reports.build,
written by the writers (ODS, XLSX, CSV, JSON, PNG, ODT, DOCX). Writers know nothing of the
database."""

from __future__ import annotations

from dataclasses import dataclass, field


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
class FormLine:
    """One question on a section's scoring form."""

    code: str
    path: str  # item › indicator › sub-indicator
    question: str
    max: int
    self_score: int | None
    verified_score: int | None
    evidence: str  # summary: text and how many files


@dataclass(frozen=True)
class SectionForm:
    """自行考核項目及評分表, filled in for one section and quarter."""

    title: str
    number: int  # 編號
    section: str  # 課室名稱
    period_label: str
    assessed_on: str | None  # 考核日期 (ROC)
    total: int | None  # 總分
    grade: str | None
    assessor: str | None  # 考核人員
    lines: tuple[FormLine, ...]
    item_subtotals: tuple[tuple[str, int, int], ...] = field(default=())  # (item, score, max)
    strengths_and_suggestions: str = ""  # 優點、建議改進事項
