"""What the 創意提案 writing dialog shows: pure functions of its view models (no database)."""

from __future__ import annotations

from dataclasses import dataclass

from handlers import texts
from handlers.messages import Outgoing


@dataclass(frozen=True)
class DraftsView:
    """The member's drafts (and proposals sent back for more), to choose one."""

    lines: tuple[str, ...]  # 1. 「…」草稿，已填 3/10 項
    #: (label, proposal id) of the 繼續 buttons
    buttons: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class FieldView:
    """One field of the 附錄1 template being asked."""

    index: int  # 0-based
    count: int
    name: str
    label: str
    prompt: str
    kinds: tuple[str, ...]  # the 8 kinds, for 創新服務類型 only
    current: str  # its content so far, quoted
    files: tuple[str, ...]  # 附件: the names of the files kept
    onward: str  # 略過 / 保留原內容 / 完成


@dataclass(frozen=True)
class MoreView:
    """Benefits written without numbers: an invitation to add some."""

    index: int
    note: str  # what was just recorded (已記錄外部效益。), said in the same breath


@dataclass(frozen=True)
class ReviewView:
    """The whole proposal as 附錄1 lays it out, and what it needs before 送出提案."""

    text: str
    ready: bool  # nothing it needs is missing: 送出提案 instead of 繼續填寫
    first_missing: int  # where 繼續填寫 goes


@dataclass(frozen=True)
class EditView:
    labels: tuple[str, ...]  # every field of the template, in order


def drafts(view: DraftsView) -> Outgoing:
    return Outgoing("\n".join((f"您有 {len(view.lines)} 份尚未送出的創意提案：", *view.lines,
                               "請選擇要繼續的提案，或提出新提案。")))


def field(view: FieldView) -> Outgoing:
    lines = [f"第 {view.index + 1}/{view.count} 項　{view.label}", view.prompt]
    lines += [f"{n}. {kind}" for n, kind in enumerate(view.kinds, start=1)]
    if view.current:
        lines.append(f"目前內容：{view.current}")
    if view.name == "evidence_note":
        if view.files:
            lines.append(f"已附檔案 {len(view.files)} 件：{'、'.join(view.files)}")
    elif view.current:
        lines.append(f"（輸入新內容會取代目前內容；按「{texts.PROPOSAL_KEEP}」不變。）")
    else:
        lines.append(f"（不確定可先按「{texts.SKIP}」，之後再補。）")
    return Outgoing("\n".join(lines))


def more(view: MoreView) -> Outgoing:
    return Outgoing(view.note + texts.PROPOSAL_NEEDS_NUMBERS.format(next=texts.PROPOSAL_NEXT))


def review(view: ReviewView) -> Outgoing:
    return Outgoing(view.text)


def edit(view: EditView) -> Outgoing:
    return Outgoing(f"要修改哪一項？（也可以輸入「跳到 N」，N 為 1-{len(view.labels)} 的項次）")
