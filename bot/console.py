"""The console channel: the same flows in a terminal, over the real database.

Replies are printed with their choices numbered ``[1] …``; typing ``#1`` picks choice 1,
``/file PATH`` sends a file as evidence, anything else is a message. Without a terminal on
standard input it reads one message per line and prints every reply, so a whole
conversation can be scripted.
"""

from __future__ import annotations

import mimetypes
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path

from sqlmodel import col, select

from handlers.dispatch import Dispatcher
from handlers.messages import Attachment, ChatKind, Choice, Incoming, Outgoing
from storage.db import Database
from storage.models import OutboxMessage, OutboxStatus

CHANNEL = "console"


def render(replies: Iterable[Outgoing]) -> tuple[str, list[Choice]]:
    """Replies as terminal text, with every choice numbered across the batch."""
    blocks: list[str] = []
    choices: list[Choice] = []
    for reply in replies:
        lines = [reply.text]
        for choice in reply.choices:
            choices.append(choice)
            lines.append(f"  [{len(choices)}] {choice.label}")
        if reply.document is not None:
            lines.append(f"  （附件：{reply.document.filename}）")
        if reply.picture is not None:
            lines.append(f"  （圖片：{reply.picture.filename}）")

        blocks.append("\n".join(lines))
    return "\n\n".join(blocks), choices


class ConsoleChat:
    """One person chatting from the terminal as a console chat identity."""

    def __init__(self, dispatcher: Dispatcher, database: Database, user_id: str, *,
                 new_event_id: Callable[[], str] = lambda: uuid.uuid4().hex,
                 group: str | None = None, save_files: Path | None = None) -> None:
        self.dispatcher = dispatcher
        self.database = database
        self.user_id = user_id
        self.group = group  # speak in this group chat (a console stand-in for the real one)
        self.save_files = save_files
        self.choices: list[Choice] = []
        self._new_event_id = new_event_id

    def send(self, line: str) -> str:
        """Handle one typed line; return what to print."""
        stripped = line.strip()
        incoming: Incoming
        if stripped.startswith("#") and stripped[1:].isdigit():
            number = int(stripped[1:])
            if not 1 <= number <= len(self.choices):
                return f"（沒有第 {number} 個選項，請輸入 #1 到 #{len(self.choices)}）" \
                    if self.choices else "（目前沒有可選的選項）"
            incoming = self._incoming(action=self.choices[number - 1].action)
        elif stripped.startswith("/file"):
            path = Path(stripped.removeprefix("/file").strip()).expanduser()
            try:
                content = path.read_bytes()
            except OSError as exc:
                return f"（無法讀取檔案 {path}：{exc.strerror}）"
            mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            kind = "photo" if mime.startswith("image/") else "document"
            incoming = self._incoming(attachment=Attachment(kind, content, mime, path.name))
        else:
            incoming = self._incoming(text=line.rstrip("\n"))
        replies = self.dispatcher.dispatch(incoming)
        text, choices = render(replies)
        saved = self._save(replies)
        if saved:
            text = f"{text}\n" + "\n".join(f"  （已存檔：{path}）" for path in saved)
        if choices:
            self.choices = choices
        notices = self._deliver_own_outbox()
        return "\n\n".join(part for part in (text, notices) if part)

    def _notice(self, notice: Outgoing) -> str:
        """A notice with its buttons (開始審定 …), numbered after the reply's: they stay valid
        however old the notice is, so #N presses them too."""
        lines = ["📨 " + notice.text]
        for choice in notice.choices:
            self.choices = [*self.choices, choice]
            lines.append(f"  [{len(self.choices)}] {choice.label}")
        return "\n".join(lines)

    def _save(self, replies: list[Outgoing]) -> list[Path]:
        """Files the bot sent, written under ``save_files`` (the console cannot show them)."""
        if self.save_files is None:
            return []
        saved = []
        for reply in replies:
            for doc in (reply.document, reply.picture):
                if doc is not None:
                    self.save_files.mkdir(parents=True, exist_ok=True)
                    path = self.save_files / Path(doc.filename).name
                    path.write_bytes(doc.content)
                    saved.append(path)
        return saved

    def _incoming(self, **content: object) -> Incoming:
        kind = ChatKind.GROUP if self.group else ChatKind.PRIVATE
        return Incoming(channel=CHANNEL, user_id=self.user_id, chat_id=self.group or self.user_id,
                        chat_kind=kind, event_id=self._new_event_id(),
                        **content)  # type: ignore[arg-type]

    def _deliver_own_outbox(self) -> str:
        """Notices queued for this console identity are shown here and marked sent."""
        with self.database.transaction() as session:
            rows = session.exec(
                select(OutboxMessage).where(OutboxMessage.channel == CHANNEL,
                                            col(OutboxMessage.destination).in_(
                                                [self.user_id, self.group or self.user_id]),
                                            OutboxMessage.status == OutboxStatus.PENDING)
                .order_by(col(OutboxMessage.id)).with_for_update()
            ).all()
            shown = []
            for row in rows:
                shown.append(self._notice(Outgoing.from_payload(row.payload)))
                row.status = OutboxStatus.SENT
                row.sent_at = self.dispatcher.clock()
                session.add(row)
        return "\n\n".join(shown)
