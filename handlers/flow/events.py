"""What happened, as one union, so that routing is a single ``match``."""

from __future__ import annotations

from dataclasses import dataclass

from handlers.messages import Attachment, Incoming


@dataclass(frozen=True)
class Text:
    """Something typed."""

    text: str


@dataclass(frozen=True)
class Press:
    """A button pressed, or typed by its label (``typed`` then holds the text)."""

    action: str
    typed: str | None = None


@dataclass(frozen=True)
class File:
    """A photo, video, sound or document."""

    attachment: Attachment


@dataclass(frozen=True)
class Lifecycle:
    """The bot was followed, unfollowed, added to or removed from a group."""

    kind: str


Event = Text | Press | File | Lifecycle


def event_of(incoming: Incoming) -> Event:
    """The event an :class:`Incoming` carries."""
    if incoming.lifecycle is not None:
        return Lifecycle(incoming.lifecycle)
    if incoming.action is not None:
        return Press(incoming.action)
    if incoming.attachment is not None:
        return File(incoming.attachment)
    return Text(incoming.text or "")
