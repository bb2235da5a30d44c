"""The self-assessment's windows as pure functions: a view model in, the message out.

The getters in ``assess.py`` read everything (the rubric's question, who answered, last
quarter's answer, the adopted proposals) into these models; nothing here touches the
database, so each render is tested and read on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from handlers import texts
from handlers.messages import Card, Outgoing
from rubric import Band, Question
from storage.assessments import EarlierAnswer

_CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩"


@dataclass(frozen=True)
class Cite:
    """An adopted proposal offered as evidence of the question answered last (6.1–6.3)."""

    code: str
    reference: str
    proposal_id: int

    @property
    def label(self) -> str:
        """「6.1 引用 115-P-0003」."""
        return f"{self.code} 引用 {self.reference}"


@dataclass(frozen=True)
class QuestionView:
    """One question being asked."""

    question: Question
    number: int
    total: int
    breadcrumb: str
    notes: tuple[str, ...]
    citations: tuple[str, ...]  # the section's adopted proposals, 6.1–6.3
    current: str | None  # 目前答案：85 分（王小明，12/3）
    earlier: EarlierAnswer | None  # 沿用上季 offered
    answered: bool
    first: bool  # the first question of a sitting: the pace is explained once
    brief: bool  # just redrawn after evidence: the heading only
    cites: tuple[Cite, ...] = ()

    @property
    def measure_label(self) -> str | None:
        """「輸入電話禮貌測試成績」 for a question with a measured figure."""
        measure = self.question.measure
        return f"輸入{measure.name}"[:20] if measure is not None else None


@dataclass(frozen=True)
class BandView:
    """The exact score inside a chosen band."""

    question: Question
    band: Band
    picks: tuple[int, ...]


@dataclass(frozen=True)
class MeasureView:
    """The question's measured figure (a phone-test score, 正確率, 件數)."""

    question: Question


@dataclass(frozen=True)
class LowView:
    """A measured figure below the lowest band."""

    question: Question
    shown: str  # 電話禮貌測試成績 55分
    lowest: str  # 60分以上


@dataclass(frozen=True)
class ReviewView:
    """The review of an editable sheet."""

    text: str  # heading, figures and every question (assessment.review_text)
    card: Card | None  # the figures as a card (None: the brief form)
    unanswered: tuple[str, ...]
    cites: tuple[Cite, ...] = ()


@dataclass(frozen=True)
class ConfirmView:
    """送出 asked: the totals before the confirmation."""

    section: str
    period: str
    items: tuple[tuple[str, int, int], ...] = field(default=())  # name, score, max
    total: int = 0
    grade: str = ""


def earlier_line(earlier: EarlierAnswer) -> str:
    """``上季（115年第3季）：100 分（審定）；檔案 2 件``."""
    kind = "審定" if earlier.verified else "自評"
    files = f"；檔案 {len(earlier.attachments)} 件" if earlier.attachments else ""
    return f"上季（{earlier.period_label}）：{earlier.score} 分（{kind}）{files}"


def carry_label(earlier: EarlierAnswer) -> str:
    """The button that takes last quarter's answer: 「沿用上季 100 分」."""
    return f"{texts.CARRY} {earlier.score} 分"


def question(view: QuestionView) -> Outgoing:
    """The question as shown to staff: place, progress, maximum, bands and criteria."""
    q = view.question
    if view.brief:
        return Outgoing(f"目前在第 {view.number}/{view.total} 題　{q.code} {q.name}"
                        f"（滿分 {q.max} 分），請評分；若還有佐證，可繼續傳送。")
    lines = [f"第 {view.number}/{view.total} 題　{q.code} {q.name}（滿分 {q.max} 分）",
             view.breadcrumb, ""]
    if q.bands:
        lines.append("評分參考標準：")
        lines += [f"{_CIRCLED[i]} {band.label}：{band.criteria}" for i, band in enumerate(q.bands)]
        lines.append("未辦理者可給 0 分。")
    else:
        if q.guidance:
            lines.append(q.guidance)
        lines.append("評分參考：")
        lines += [f"{n}. {criterion}" for n, criterion in enumerate(q.criteria, start=1)]
    if view.notes:
        lines.append("評分注意事項：")
        lines += [f"{n}. {note}" for n, note in enumerate(view.notes, start=1)]
    if view.citations:
        lines.append("本課室已採用的創意提案（可作為佐證）：")
        lines += [f"・{citation}" for citation in view.citations]
    if view.current:
        lines += ["", view.current]
    if view.earlier is not None:
        lines += ["", earlier_line(view.earlier)]
        if view.earlier.evidence_text:
            lines.append(f"上季佐證：「{texts.quote(view.earlier.evidence_text)}」")
        lines.append(f"按「{carry_label(view.earlier)}」採用（佐證一併沿用，檔案以參照保留），"
                     "或直接輸入本季分數。")
    lines.append("")
    if q.bands:
        lines.append(f"請選擇級距，或直接輸入分數（0-{q.max} 的整數）。")
    else:
        lines.append(f"請直接輸入分數（0-{q.max} 的整數）。")
    if view.first:
        lines.append("評分後直接進入下一題，接著傳的文字、照片或檔案都列為本題的佐證；"
                     "也可寫在分數後（例如：85 受理後即寄發收件確認）。")
    return Outgoing("\n".join(lines))


def band(view: BandView) -> Outgoing:
    """The band chosen: its criteria and the scores inside it."""
    q, chosen = view.question, view.band
    return Outgoing("\n".join([f"{q.code} {q.name}：{chosen.label}", chosen.criteria, "",
                               f"請選擇 {chosen.min} 到 {chosen.max} 之間的分數，或直接輸入。"]))


def measure_range(q: Question) -> str:
    """What a measured figure may be: ``0-100分``, ``0件以上``."""
    measure = q.measure
    assert measure is not None
    if measure.max is not None:
        return f"{measure.min:g}-{measure.max:g}{measure.unit}"
    return f"{measure.min:g}{measure.unit}以上"


def measure(view: MeasureView) -> Outgoing:
    """Asks for the measured figure, with the bands it leads to."""
    q = view.question
    assert q.measure is not None
    thresholds = "；".join(f"{b.measure_min:g}{q.measure.unit}以上 → {b.label}"
                          for b in q.bands if b.measure_min is not None)
    return Outgoing(f"請輸入{q.measure.name}（{measure_range(q)}）。\n對照：{thresholds}。")


def low(view: LowView) -> Outgoing:
    """Below every band: 0 is suggested."""
    return Outgoing(f"{view.shown}，未達最低級距（{view.lowest}），本題建議給 0 分。")


def review(view: ReviewView) -> Outgoing:
    """檢視: the figures (as a card where the channel draws one) and every answer."""
    return Outgoing(view.text, card=view.card)


def confirm(view: ConfirmView) -> Outgoing:
    """送出 asked: the item subtotals, total and grade, and what submitting means."""
    lines = [f"即將送出 {view.section} {view.period} 自評：", ""]
    lines += [f"{name}：{score}/{top} 分" for name, score, top in view.items]
    lines += ["", f"總分：{view.total} 分", f"等第：{view.grade}", "",
              "送出後將無法修改（秘書室退回後才能再修改）。確定送出嗎？"]
    return Outgoing("\n".join(lines))
