"""The neutral message model: what flows receive and what they say, in no platform's terms.

Adapters turn platform updates into :class:`Incoming` and render :class:`Outgoing` onto their
platform's limits (buttons per row, quick-reply count, text length). Flows never see a
platform type.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

MAX_ACTION_BYTES = 64  # Telegram callback_data; LINE postback data allows 300


class ChatKind(StrEnum):
    """Where a message was said."""

    PRIVATE = "private"
    GROUP = "group"


@dataclass(frozen=True)
class Attachment:
    """A file a user sent: the adapter has already fetched its bytes from the platform."""

    kind: str  # photo | document | video | audio
    content: bytes
    mime_type: str = "application/octet-stream"
    filename: str | None = None
    platform_file_id: str | None = None
    declared_size: int | None = None  # set, with empty content, when too large to fetch

    @property
    def size(self) -> int:
        """Size in bytes (the platform's declared size when the bytes were not fetched)."""
        if not self.content and self.declared_size is not None:
            return self.declared_size
        return len(self.content)


@dataclass(frozen=True)
class Incoming:
    """One event from a user: text, a chosen action, or an attachment."""

    channel: str
    user_id: str
    chat_id: str
    event_id: str
    chat_kind: ChatKind = ChatKind.PRIVATE
    text: str | None = None
    action: str | None = None
    attachment: Attachment | None = None
    display_name: str | None = None
    lifecycle: str | None = None  # follow | unfollow | join | leave (the bot was added/removed)
    #: Set in a group where typed words do not reach the bot (Telegram's privacy mode): what
    #: a command must carry there, e.g. ``@sqbot_bot`` for ``/progress@sqbot_bot``.
    command_suffix: str | None = None


@dataclass(frozen=True)
class Choice:
    """A button: what it says and the action token it sends back."""

    label: str
    action: str

    def __post_init__(self) -> None:
        if len(self.action.encode("utf-8")) > MAX_ACTION_BYTES:
            raise ValueError(f"action token over {MAX_ACTION_BYTES} bytes: {self.action!r}")
        if not self.label:
            raise ValueError("a choice needs a label")


@dataclass(frozen=True)
class Document:
    """A file or picture to send."""

    filename: str
    content: bytes
    mime_type: str


@dataclass(frozen=True)
class Card:
    """A summary that a channel may draw as a card (LINE Flex); the text says the same."""

    title: str
    rows: tuple[tuple[str, str], ...] = ()
    footer: str | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON-safe form."""
        return {"title": self.title, "rows": [list(r) for r in self.rows], "footer": self.footer}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Card:
        """Inverse of :meth:`to_json`."""
        return cls(data["title"], tuple((str(a), str(b)) for a, b in data.get("rows", [])),
                   data.get("footer"))


@dataclass(frozen=True)
class Outgoing:
    """One message to send: text, ordered choices, and optionally a document or picture."""

    text: str
    choices: tuple[Choice, ...] = ()
    document: Document | None = None
    picture: Document | None = None
    card: Card | None = None
    meta: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_payload(self) -> dict[str, Any]:
        """JSON-safe form, for the outbox."""
        payload: dict[str, Any] = {
            "text": self.text,
            "choices": [{"label": c.label, "action": c.action} for c in self.choices],
        }
        for name in ("document", "picture"):
            doc: Document | None = getattr(self, name)
            if doc is not None:
                payload[name] = {"filename": doc.filename, "mime_type": doc.mime_type,
                                 "content": base64.b64encode(doc.content).decode("ascii")}
        if self.card is not None:
            payload["card"] = self.card.to_json()
        if self.meta:
            payload["meta"] = self.meta
        return payload

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Outgoing:
        """Inverse of :meth:`to_payload`."""
        docs: dict[str, Document | None] = {}
        for name in ("document", "picture"):
            raw = payload.get(name)
            docs[name] = None if raw is None else Document(
                raw["filename"], base64.b64decode(raw["content"]), raw["mime_type"])
        return cls(
            text=payload["text"],
            choices=tuple(Choice(c["label"], c["action"]) for c in payload.get("choices", [])),
            document=docs["document"],
            picture=docs["picture"],
            card=Card.from_json(payload["card"]) if payload.get("card") else None,
            meta=dict(payload.get("meta", {})),
        )
