"""What the proposal-decision dialog shows (no database)."""

from __future__ import annotations

from dataclasses import dataclass

from handlers.messages import Outgoing


@dataclass(frozen=True)
class NoteView:
    """The reason, address or request being asked for."""

    named: str  # 115-P-0003「河川公地線上預審」
    label: str  # 不採用
    prompt: str


def note(view: NoteView) -> Outgoing:
    return Outgoing(f"{view.named}：{view.label}。\n{view.prompt}")
