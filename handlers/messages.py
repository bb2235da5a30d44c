"""The neutral message model: what flows receive and what they say, in no platform's terms.

Adapters turn platform updates into :class:`Incoming` and render :class:`Outgoing` onto their
platform's limits (buttons per row, quick-reply count, text length). Flows never see a
platform type.
"""

from __future__ import annotations

import base64
import dataclasses
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

MAX_ACTION_BYTES = 64  # Telegram callback_data; LINE postback data allows 300
MAX_NAME = 100  # display names (the members' name column)
MAX_FILENAME = 255  # the attachments' filename column on PostgreSQL

#: Bidirectional controls: an override turns 「…\u202egpj.exe」 into a name shown as …exe.jpg.
_BIDI = dict.fromkeys([*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C])
#: C0 controls but tab and newline, DEL, and the C1 block: never meant in a message.
_CONTROLS = dict.fromkeys([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F,
                           *range(0x80, 0xA0)])
_SURROGATES = re.compile("[\ud800-\udfff]")
_UNSAFE_IN_NAME = re.compile(r'[/\\:*?"<>|\t\n]')


def clean_text(text: str) -> str:
    """Text as both databases keep it and every platform sends it: no NUL or other control
    (tab and newline stay; CR LF becomes LF), no lone surrogate, no bidirectional control."""
    if text.isascii() and text.isprintable():
        return text  # the common case, untouched
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _SURROGATES.sub("", text).translate(_CONTROLS).translate(_BIDI)


def clean_name(name: str | None, limit: int = MAX_NAME) -> str | None:
    """A person's or a chat's name on one line, bounded; None when nothing is left."""
    if name is None:
        return None
    cleaned = " ".join(clean_text(name).split())[:limit].strip()
    return cleaned or None


def clean_filename(name: str | None) -> str | None:
    """A file's name safe in a link and on disk: no path, separator or control, no leading
    dot, at most 255 characters with its extension kept; None when nothing is left."""
    cleaned = clean_name(name, limit=10_000)
    if cleaned is None:
        return None
    cleaned = _UNSAFE_IN_NAME.sub("_", cleaned).lstrip(". ")
    if len(cleaned) > MAX_FILENAME:
        stem, dot, extension = cleaned.rpartition(".")
        if dot and 0 < len(extension) <= 16:
            cleaned = stem[:MAX_FILENAME - len(extension) - 1] + "." + extension
        else:
            cleaned = cleaned[:MAX_FILENAME]
    return cleaned or None


class ChatKind(StrEnum):
    """Where a message was said."""

    PRIVATE = "private"
    GROUP = "group"


#: The platform's bytes of a file, chunk by chunk (fetched only when the flow takes a file).
Fetch = Callable[[], AsyncIterator[bytes]]


@dataclass(frozen=True)
class Attachment:
    """A file a user sent.

    Its bytes are either ``content`` (the console), or ``spooled``: streamed by the adapter
    to a file of the evidence store's spool (``digest`` its sha256), never held in memory.
    An adapter first builds it with ``fetch`` and no bytes; the bytes are fetched only for a
    member whose conversation takes a file (``bot.downloads``). ``too_large`` says the
    stream passed the evidence limit and was stopped.
    """

    kind: str  # photo | document | video | audio
    content: bytes = b""
    mime_type: str = "application/octet-stream"
    filename: str | None = None
    platform_file_id: str | None = None
    declared_size: int | None = None  # set, with empty content, when too large to fetch
    spooled: Path | None = None
    digest: str | None = None
    spooled_size: int = 0
    too_large: bool = False
    store_failed: bool = False  # the spool could not be written (disk full, permissions)
    fetch: Fetch | None = field(default=None, compare=False, repr=False)

    @property
    def size(self) -> int:
        """Size in bytes (the platform's declared size when the bytes were not fetched)."""
        if self.spooled is not None:
            return self.spooled_size
        if not self.content and self.declared_size is not None:
            return self.declared_size
        return len(self.content)

    @property
    def received(self) -> bool:
        """Whether the bytes are here: spooled, or given in ``content`` with nothing to fetch."""
        return self.spooled is not None or self.fetch is None


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

    def __post_init__(self) -> None:
        # One normalisation for every adapter and both databases (PostgreSQL refuses NUL,
        # SQLite keeps it; a lone surrogate cannot be encoded to send back).
        if self.text is not None:
            object.__setattr__(self, "text", clean_text(self.text))
        object.__setattr__(self, "display_name", clean_name(self.display_name))
        if self.attachment is not None and self.attachment.filename is not None:
            object.__setattr__(self, "attachment", dataclasses.replace(
                self.attachment, filename=clean_filename(self.attachment.filename)))


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
    """A summary that a channel may draw as a card (LINE Flex) in place of the text.

    A channel that draws the card sends it alone, so the card must say all the text says:
    its title, its rows, then ``note`` — what the text says beyond the rows (``""``: the rows
    and the footer say it all; ``None``: the whole text is shown below the rows).
    """

    title: str
    rows: tuple[tuple[str, str], ...] = ()
    footer: str | None = None
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON-safe form."""
        return {"title": self.title, "rows": [list(r) for r in self.rows], "footer": self.footer,
                "note": self.note}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Card:
        """Inverse of :meth:`to_json`."""
        return cls(data["title"], tuple((str(a), str(b)) for a, b in data.get("rows", [])),
                   data.get("footer"), data.get("note"))


@dataclass(frozen=True)
class Outgoing:
    """One message to send: text, ordered choices, and optionally a document or picture."""

    text: str
    choices: tuple[Choice, ...] = ()
    document: Document | None = None
    picture: Document | None = None
    card: Card | None = None
    meta: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if not self.text.isascii() or "\x00" in self.text:  # nothing unsendable goes out
            object.__setattr__(self, "text", _SURROGATES.sub("", self.text).replace("\x00", ""))

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
