"""What the 審定 dialog shows: pure functions of its view models (no database)."""

from __future__ import annotations

from dataclasses import dataclass

from handlers.messages import Outgoing


@dataclass(frozen=True)
class QuestionView:
    """One question of a submitted assessment, as the secretariat verifies it."""

    section: str
    number: int
    total: int
    code: str
    name: str
    max: int
    breadcrumb: str
    self_score: int | None
    evidence_text: str | None
    files: int
    verified_score: int | None
    comment: str | None
    returned: bool
    bands: tuple[str, ...]
    phone_hint: tuple[str, ...]
    measured: str | None = None  # the section's own figure: 電話禮貌測試分數 92分


@dataclass(frozen=True)
class SheetView:
    """The assessment as a whole: for the last window and the prompts."""

    section: str
    period: str
    reference: str | None
    first_code: str
    last_code: str
    #: questions not yet confirmed or scored since the (re)submission, in form order
    unreviewed: tuple[str, ...] = ()


def question(view: QuestionView) -> Outgoing:
    """【審定】規劃課 第 1/25 題 …: self score, evidence, bands and what to do."""
    lines = [f"【審定】{view.section} 第 {view.number}/{view.total} 題　"
             f"{view.code} {view.name}（滿分 {view.max} 分）", view.breadcrumb,
             f"自評：{view.self_score if view.self_score is not None else '未作答'} 分"
             + (f"（課室填報{view.measured}）" if view.measured else "")]
    if view.files:
        lines.append(f"佐證檔案：{view.files} 件")
    if view.evidence_text:
        lines.append(f"佐證：{view.evidence_text}")
    if view.verified_score is not None:
        lines.append(f"審定分數：{view.verified_score} 分"
                     + (f"（{view.comment}）" if view.comment else ""))
    if view.returned:
        lines.append("（已標記退回）")
    if view.bands:
        lines.append("級距：" + "；".join(view.bands))
    lines += view.phone_hint
    lines.append("請按「確認」採用自評分數，或輸入審定分數（可加說明，例如：15 缺少佐證）。")
    return Outgoing("\n".join(lines))


def end(view: SheetView) -> Outgoing:
    """After the last question."""
    return Outgoing("已看完全部題目。請按「完成審定」或「退回課室」。")


def notes(view: SheetView) -> Outgoing:
    """The 優點、建議改進事項 asked before the verification is locked — and, when questions
    were not looked at since the (re)submission, which ones keep the self score."""
    ask = "請輸入本次考核的「優點、建議改進事項」（輸入「略過」則留白）。"
    if not view.unreviewed:
        return Outgoing(ask)
    return Outgoing(f"注意：尚有 {len(view.unreviewed)} 題未逐題審定："
                    f"{'、'.join(view.unreviewed)}；完成審定後這些題目以自評分數審定。"
                    f"要先看過，請按「返回審定」。\n\n{ask}")


def reason(view: SheetView) -> Outgoing:
    """Why the assessment goes back."""
    return Outgoing("請輸入退回原因（會通知該課室）。")


def opening(view: SheetView) -> str:
    """The line above the first question."""
    return f"開始審定 {view.section} {view.period} 自評（收件編號 {view.reference}）。"
