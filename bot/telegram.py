"""The Telegram channel: python-telegram-bot's Application in front of the dispatcher.

Updates become :class:`~handlers.messages.Incoming` events; replies become Bot API calls.
No flow logic lives here. An update counts as handled only once the dispatcher committed
it: the webhook answers 200 after that, and polling confirms an offset only past it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import hashlib
import html
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from datetime import timedelta
from typing import Any

import httpx
from sqlmodel import col, select
from telegram import (
    BotCommand,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    MenuButtonCommands,
    Message,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import AIORateLimiter, Application, ContextTypes, TypeHandler

from bot.delivery import DeliveryError, Progress, RetryLater, Unreachable
from bot.downloads import CHUNK, TooLarge, dispatching
from bot.textsplit import split_text
from handlers.dispatch import Dispatcher
from handlers.messages import Attachment, ChatKind, Choice, Incoming, Outgoing
from handlers.tokens import TokenError, parse_token
from storage.models import ChatBinding, ChatIdentity, Member, Role

logger = logging.getLogger(__name__)

CHANNEL = "telegram"
TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
ROW_LIMIT = 8
BUTTON_LIMIT = 100
ALLOWED_UPDATES = ["message", "callback_query", "my_chat_member"]
#: The menu of private chats (BotCommandScopeAllPrivateChats): a member's own work.
COMMANDS = [
    ("start", "開始／以邀請碼綁定帳號"),
    ("fill", "填寫自評（從上次停下的題目繼續）"),
    ("mine", "我的進度"),
    ("menu", "主選單"),
    ("back", "上一題"),
    ("skip", "略過這題"),
    ("review", "檢視小計與未答題目"),
    ("submit", "送出本季自評"),
    ("pause", "暫停，下次繼續"),
    ("propose", "創意提案"),
    ("cases", "年度案例"),
    ("form", "本課室評分表（ODT、DOCX）"),
    ("help", "使用說明"),
]
#: Groups not bound yet (BotCommandScopeAllGroupChats): only binding.
GROUP_COMMANDS = [
    ("bind", "以秘書室邀請碼綁定本群組（/bind 邀請碼）"),
    ("help", "使用說明"),
]
#: The secretariat's bound group (BotCommandScopeChat): the desk, nothing of a member's own.
DESK_COMMANDS = [
    ("progress", "各課室本季填寫進度"),
    ("verify", "審定送出的自評（/verify 課室）"),
    ("table", "考核結果總表（/table 115年第4季）"),
    ("followup", "考核結果處理情形（/followup 內容）"),
    ("annual", "年度成績、排名與獎勵"),
    ("proposals", "全局創意提案清單"),
    ("phonetest", "記錄電話禮貌測試（課室 受測人員 分數）"),
    ("report", "年度績效總報告"),
    ("form", "課室評分表（/form 課室 115年第4季）"),
    ("help", "秘書室群組說明"),
]
#: A secretariat member's private chat (BotCommandScopeChat): their own work and the desk.
SECRETARIAT_COMMANDS = [*(c for c in COMMANDS if c[0] != "help"),
                        *(c for c in DESK_COMMANDS if c[0] not in ("help", "form")),
                        ("help", "使用說明")]
#: Flood waits up to this many seconds are waited out in line (the rate limiter retries the
#: call, up to 3 times); a longer one is raised at once, so the message waits in the outbox
#: until Telegram allows it instead of holding up every call of the bot meanwhile.
INLINE_RETRY_AFTER = 5.0
#: Seconds a send may take to connect, to be written and to be answered before it is given up
#: (python-telegram-bot's own default for each; other calls keep that default).
REQUEST_TIMEOUT = 5.0
Dispatch = Callable[[Incoming], Awaitable[list[Outgoing]]]
#: Called with replies that could not be sent right after the commit, so they are kept
#: (the app wires it to the outbox) instead of being lost: (channel, chat id, replies, parts
#: of the first reply already delivered).
Fallback = Callable[[str, str, Sequence[Outgoing], int], Awaitable[None]]


def webhook_secret_for(token: str) -> str:
    """A stable secret for X-Telegram-Bot-Api-Secret-Token, derived from (not equal to) the
    bot token, so every worker and every restart agree without another setting."""
    return hashlib.sha256(b"sqbot-telegram-webhook:" + token.encode()).hexdigest()


def keyboard(choices: Sequence[Choice]) -> InlineKeyboardMarkup | None:
    """Choices as an inline keyboard: short labels share a row, long ones get their own."""
    if not choices:
        return None
    rows: list[list[InlineKeyboardButton]] = []
    row: list[InlineKeyboardButton] = []
    width = 0
    for choice in choices[:BUTTON_LIMIT]:
        cost = max(4, sum(2 if ord(ch) > 0x2E80 else 1 for ch in choice.label))
        if row and (width + cost > 24 or len(row) == ROW_LIMIT):
            rows.append(row)
            row, width = [], 0
        row.append(InlineKeyboardButton(choice.label, callback_data=choice.action))
        width += cost
    if row:
        rows.append(row)
    return InlineKeyboardMarkup(rows)


def _seconds(value: int | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class _LongFloodWait(Exception):
    """Carries a RetryAfter too long to wait out in line past AIORateLimiter's retries."""

    def __init__(self, original: RetryAfter) -> None:
        super().__init__(str(original))
        self.original = original


class RateLimiter(AIORateLimiter):
    """AIORateLimiter (30 calls a second, 20 a minute per group) that retries a call in line
    only for a short flood wait (``INLINE_RETRY_AFTER``).

    AIORateLimiter sleeps for every RetryAfter and retries, holding back every other call of
    the bot meanwhile. In trouble Telegram asks for a minute or more: waited out in line, that
    stalled the outbox three times as long for every message and kept a webhook update
    unanswered as long (so Telegram sends it again). The outbox already waits max(Telegram's
    wait, its own backoff) between attempts, and a reply that cannot go out falls back to it.
    """

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        async def call(*call_args: Any,
                       **call_kwargs: Any) -> bool | dict[str, Any] | list[dict[str, Any]]:
            try:
                return await callback(*call_args, **call_kwargs)
            except RetryAfter as exc:
                if _seconds(exc.retry_after) > INLINE_RETRY_AFTER:
                    raise _LongFloodWait(exc) from exc
                raise

        try:
            return await super().process_request(call, args, kwargs, endpoint, data,
                                                 rate_limit_args)
        except _LongFloodWait as wait:
            raise wait.original from None


class TelegramChannel:
    """The bot on Telegram: turns updates into events and replies into Bot API calls."""

    channel = CHANNEL

    def __init__(self, *, token: str, dispatch: Dispatch, max_evidence_bytes: int,
                 api_base_url: str | None = None, webhook_url: str | None = None,
                 rate_limiter: bool = True, fallback: Fallback | None = None,
                 commands_retry_delay: float = 5.0,
                 request_timeout: float = REQUEST_TIMEOUT,
                 bound_groups: Callable[[], list[str]] | None = None,
                 desk_members: Callable[[], list[str]] | None = None) -> None:
        if not token:
            raise ValueError("TELEGRAM_BOT_TOKEN is empty")
        builder = Application.builder().token(token).updater(None)
        if api_base_url:
            builder = builder.base_url(api_base_url).base_file_url(
                api_base_url.removesuffix("/bot") + "/file/bot")
        if rate_limiter:
            builder = builder.rate_limiter(RateLimiter(max_retries=3))  # type: ignore[arg-type]
        self.application: Application[Any, Any, Any, Any, Any, Any] = builder.build()
        self.application.add_handler(TypeHandler(Update, self._on_update))
        self.application.add_error_handler(self._on_error)
        self.dispatch = dispatch
        self.max_evidence_bytes = max_evidence_bytes
        self.webhook_url = webhook_url
        self.fallback = fallback
        self.webhook_secret = webhook_secret_for(token)
        # Update ids count per bot and start again after a token change or a week without
        # updates: the event key carries the bot's id so one bot's ids never shadow another's.
        self.bot_id = token.split(":", 1)[0]
        self.timeout = request_timeout
        #: BotFather's privacy mode (from getMe at start-up): in groups only commands, button
        #: presses and replies to the bot arrive, never a typed 進度 or 審定 工務課.
        self.privacy_mode: bool | None = None
        self.username: str | None = None
        self._failed: set[int] = set()
        self.ready = asyncio.Event()
        """Set once the Bot API answered at start-up (getMe and the webhook call)."""
        self._commands_task: asyncio.Task[None] | None = None
        self._commands_retry_delay = commands_retry_delay
        #: the Telegram chats bound as secretariat groups (read at start for their menus)
        self.bound_groups = bound_groups
        #: the private chats of the secretariat's members (their menu adds the desk's)
        self.desk_members = desk_members

    @classmethod
    def from_dispatcher(cls, dispatcher: Dispatcher, **kwargs: Any) -> TelegramChannel:
        """A channel whose events go to ``dispatcher`` (run in a worker thread)."""
        def bound_groups() -> list[str]:
            with dispatcher.database.transaction() as session:
                return [b.chat_id for b in session.exec(select(ChatBinding).where(
                    ChatBinding.channel == CHANNEL)).all()]

        def desk_members() -> list[str]:
            with dispatcher.database.transaction() as session:
                return list(session.exec(
                    select(ChatIdentity.platform_user_id)
                    .join(Member, col(ChatIdentity.member_id) == col(Member.id))
                    .where(ChatIdentity.channel == CHANNEL, col(Member.active),
                           col(Member.role).in_([Role.SECRETARIAT, Role.ADMIN]))).all())

        return cls(dispatch=dispatching(dispatcher), bound_groups=bound_groups,
                   desk_members=desk_members, **kwargs)

    @property
    def mode(self) -> str:
        """``webhook`` or ``polling``."""
        return "webhook" if self.webhook_url else "polling"

    # --- life cycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Initialise the bot; set or delete the webhook; register commands in the background."""
        await self.application.initialize()
        bot = self.application.bot
        me = bot.bot  # getMe, called by initialize()
        self.username = me.username
        self.privacy_mode = not me.can_read_all_group_messages
        if self.privacy_mode:
            logger.info("Telegram privacy mode is on: in groups the bot reads only commands; "
                        "the secretariat's group is told to type /progress@%s and the like",
                        me.username)
        if self.webhook_url:
            await bot.set_webhook(self.webhook_url, secret_token=self.webhook_secret,
                                  allowed_updates=ALLOWED_UPDATES)
        else:
            await bot.delete_webhook()
        self._commands_task = asyncio.create_task(self._register_commands())
        self.ready.set()

    async def start_retrying(self, stop: asyncio.Event, *, first_delay: float = 5.0) -> None:
        """:meth:`start`, again and again while Telegram cannot be reached, until ``stop``.

        sqbot starts without waiting for it: a Telegram outage at boot must not keep LINE and
        the outbox from working. Until Telegram answers, webhook updates get 500 (Telegram
        sends them again) and polling waits.
        """
        delay = first_delay
        while not stop.is_set():
            try:
                await self.start()
                logger.info("Telegram channel started (%s)", self.mode)
                return
            except (NetworkError, TelegramError) as exc:
                logger.warning("Telegram not reachable at start-up (%s); trying again in "
                               "%.0f s", exc.__class__.__name__, delay)
            await _sleep_or_stop(stop, delay)
            delay = min(delay * 2, 300)

    async def stop(self) -> None:
        """Stop background work and close the HTTP connections."""
        if self._commands_task is not None:
            self._commands_task.cancel()
        if self.ready.is_set():
            await self.application.shutdown()

    async def _register_commands(self) -> None:
        """setMyCommands per scope — private chats, unbound groups, each secretariat group,
        each secretariat member's private chat — so nobody is offered a command their chat
        or role cannot use, and the menu button opens that list. A convenience: a failure
        is logged and retried, never fatal."""
        delay = self._commands_retry_delay
        bot = self.application.bot
        while True:
            try:
                await bot.set_my_commands([BotCommand(n, t) for n, t in COMMANDS],
                                          scope=BotCommandScopeAllPrivateChats())
                await bot.set_my_commands([BotCommand(n, t) for n, t in GROUP_COMMANDS],
                                          scope=BotCommandScopeAllGroupChats())
                groups = await asyncio.to_thread(self.bound_groups) if self.bound_groups \
                    else []
                for chat_id in groups:
                    await self._desk_commands(chat_id)
                members = await asyncio.to_thread(self.desk_members) if self.desk_members \
                    else []
                for user_id in members:
                    await self._member_commands(user_id)
                await bot.set_chat_menu_button(menu_button=MenuButtonCommands())
                return
            except TelegramError as exc:
                logger.warning("setMyCommands failed (%s); retrying in %.0f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 600)

    async def _desk_commands(self, chat_id: str) -> None:
        await self.application.bot.set_my_commands(
            [BotCommand(n, t) for n, t in DESK_COMMANDS],
            scope=BotCommandScopeChat(int(chat_id)))

    async def _member_commands(self, user_id: str) -> None:
        await self.application.bot.set_my_commands(
            [BotCommand(n, t) for n, t in SECRETARIAT_COMMANDS],
            scope=BotCommandScopeChat(int(user_id)))

    async def _offer_member_desk(self, user_id: str) -> None:
        """A secretariat member just bound this private chat: its menu adds the desk's."""
        try:
            await self._member_commands(user_id)
        except TelegramError as exc:
            logger.warning("setMyCommands for a secretariat member failed (%s); it is set at "
                           "the next start", exc)

    async def _offer_desk(self, chat_id: str) -> None:
        """A group was just bound: its menu becomes the desk's."""
        try:
            await self._desk_commands(chat_id)
        except TelegramError as exc:
            logger.warning("setMyCommands for a bound group failed (%s); it is set at the "
                           "next start", exc)

    # --- receiving ---------------------------------------------------------------------------

    async def process(self, data: dict[str, Any]) -> bool:
        """Handle one Update's JSON; True once it is committed (or safely ignored)."""
        if not self.ready.is_set():
            return False  # not started yet (Telegram unreachable at boot): sent again later
        try:
            update = Update.de_json(data, self.application.bot)
        except (TypeError, KeyError, ValueError, AttributeError) as exc:
            # Authenticated but unreadable: answering 500 would have it sent again for ever.
            logger.warning("Telegram update %s rejected: it cannot be read (%s)",
                           data.get("update_id"), exc.__class__.__name__)
            return True
        return await self.process_update(update)

    async def process_update(self, update: Update) -> bool:
        """Run ``update`` through the Application; False if it must be delivered again."""
        await self.application.process_update(update)
        if update.update_id in self._failed:
            self._failed.discard(update.update_id)
            return False
        return True

    async def poll(self, stop: asyncio.Event, *, timeout: int = 25) -> None:
        """Long-poll getUpdates until ``stop``; confirm an offset only past handled updates."""
        ready = asyncio.create_task(self.ready.wait())
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait({ready, stopped}, return_when=asyncio.FIRST_COMPLETED)
        for task in (ready, stopped):
            task.cancel()
        bot = self.application.bot
        offset: int | None = None
        backoff = 1.0
        while not stop.is_set():
            try:
                updates = await bot.get_updates(offset=offset, timeout=timeout,
                                                allowed_updates=ALLOWED_UPDATES)
                backoff = 1.0
            except RetryAfter as exc:
                await _sleep_or_stop(stop, _seconds(exc.retry_after))
                continue
            except (NetworkError, TelegramError) as exc:
                logger.warning("getUpdates failed (%s); retrying in %.0f s", exc, backoff)
                await _sleep_or_stop(stop, backoff)
                backoff = min(backoff * 2, 60)
                continue
            for update in updates:
                if not await self.process_update(update):
                    logger.warning("update %s not committed; it will be fetched again",
                                   update.update_id)
                    await _sleep_or_stop(stop, 1.0)
                    break
                offset = update.update_id + 1

    async def _on_update(self, update: object,
                         context: ContextTypes.DEFAULT_TYPE) -> None:
        assert isinstance(update, Update)
        incoming = await self.to_incoming(update)
        if incoming is None:
            return
        query = update.callback_query
        if query is not None:
            await self._answer(query)
        replies = await self.dispatch(incoming)
        if any(reply.meta.get("kind") == "group_bound" for reply in replies):
            await self._offer_desk(incoming.chat_id)
        if any(reply.meta.get("kind") == "member_bound"
               and reply.meta.get("role") in (Role.SECRETARIAT, Role.ADMIN) for reply in replies):
            await self._offer_member_desk(incoming.chat_id)
        if query is not None:
            replies = await self._edit_in_place(query, replies)
        await self._reply(incoming.chat_id, replies)

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        if isinstance(update, Update):
            self._failed.add(update.update_id)
        logger.error("update %s was not handled: %r",
                     update.update_id if isinstance(update, Update) else "?", context.error)

    async def to_incoming(self, update: Update) -> Incoming | None:
        """The neutral event of ``update``; None for updates sqbot does not act on."""
        incoming = await self._to_incoming(update)
        if incoming is not None and incoming.chat_kind == ChatKind.GROUP and self.privacy_mode:
            incoming = dataclasses.replace(incoming, command_suffix=f"@{self.username}")
        return incoming

    async def _to_incoming(self, update: Update) -> Incoming | None:
        event_id = f"{self.bot_id}:u{update.update_id}"
        query = update.callback_query
        if query is not None:
            if query.message is None or query.data is None:
                return None
            chat = query.message.chat
            return Incoming(channel=CHANNEL, user_id=str(query.from_user.id),
                            chat_id=str(chat.id), event_id=event_id,
                            chat_kind=ChatKind.PRIVATE if chat.type == "private"
                            else ChatKind.GROUP,
                            action=query.data, display_name=query.from_user.full_name)
        change = update.my_chat_member
        if change is not None:  # the bot was added to / removed from a chat, or (un)blocked
            chat = change.chat
            gone = change.new_chat_member.status in ("left", "kicked")
            if chat.type == "private":
                lifecycle, kind = ("unfollow" if gone else "follow"), ChatKind.PRIVATE
            else:
                lifecycle, kind = ("leave" if gone else "join"), ChatKind.GROUP
            return Incoming(channel=CHANNEL, user_id=str(change.from_user.id),
                            chat_id=str(chat.id), event_id=event_id, chat_kind=kind,
                            lifecycle=lifecycle, display_name=change.from_user.full_name)
        message = update.message
        if message is None or message.from_user is None:
            return None  # edited messages, channel posts …
        kind = ChatKind.PRIVATE if message.chat.type == "private" else ChatKind.GROUP
        base = {"channel": CHANNEL, "user_id": str(message.from_user.id),
                "chat_id": str(message.chat.id), "event_id": event_id, "chat_kind": kind,
                "display_name": message.from_user.full_name}
        if kind == ChatKind.GROUP and message.text is None:
            return None
        attachment = await self._attachment(message) if kind == ChatKind.PRIVATE else None
        if attachment is not None:
            return Incoming(**base, attachment=attachment)  # type: ignore[arg-type]
        return Incoming(**base, text=message.text or "")  # type: ignore[arg-type]

    async def _attachment(self, message: Message) -> Attachment | None:
        if message.photo:
            largest = max(message.photo, key=lambda p: (p.file_size or 0, p.width * p.height))
            return await self._fetch("photo", largest.file_id, largest.file_size, "image/jpeg",
                                     None)
        if message.document is not None:
            doc = message.document
            return await self._fetch("document", doc.file_id, doc.file_size,
                                     doc.mime_type or "application/octet-stream", doc.file_name)
        return None

    async def _fetch(self, kind: str, file_id: str, size: int | None, mime: str,
                     name: str | None) -> Attachment:
        if size is not None and size > self.max_evidence_bytes:
            return Attachment(kind, b"", mime, name, file_id, declared_size=size)
        # Fetched only if the sender's conversation keeps a file (bot.downloads).
        return Attachment(kind, b"", mime, name, file_id, declared_size=size,
                          fetch=self._content(file_id))

    def _content(self, file_id: str) -> Callable[[], AsyncIterator[bytes]]:
        """getFile, then the file streamed from the Bot API's file host (PTB's own download
        reads the whole file into memory). The URL carries the token: it is never logged."""
        async def chunks() -> AsyncIterator[bytes]:
            file = await self.application.bot.get_file(file_id)
            if file.file_size is not None and file.file_size > self.max_evidence_bytes:
                raise TooLarge(file.file_size)
            if not file.file_path:
                raise NetworkError("getFile gave no file_path")
            async with httpx.AsyncClient(timeout=httpx.Timeout(self.timeout)) as client, \
                    client.stream("GET", file._get_encoded_url()) as response:
                if response.status_code != 200:
                    raise NetworkError(f"file download answered {response.status_code}")
                async for chunk in response.aiter_bytes(CHUNK):
                    yield chunk

        return chunks

    async def _answer(self, query: CallbackQuery) -> None:
        """Answer the press at once (the client stops its spinner)."""
        try:
            await query.answer()
        except TelegramError as exc:
            logger.info("answerCallbackQuery failed: %s", exc)

    async def _edit_in_place(self, query: CallbackQuery,
                             replies: list[Outgoing]) -> list[Outgoing]:
        """A press of a conversation's button redraws its window in the pressed message (text
        and keyboard), as people expect of a Telegram bot, instead of sending the window again
        below; what else the press answers is sent as usual. Returns what is left to send.

        A notice's or a menu's button (step 0) is left as it is: the message is shared (a
        notice in the secretariat's group, whose buttons anyone there can press, authorised or
        not) or a menu whose buttons stay valid. A conversation's message whose first reply
        carries a file, a card or more text than one message holds has its keyboard taken off.
        """
        if not _conversation_button(query.data):
            return replies
        first = replies[0] if replies else None
        if first is not None and _editable(query.data, first):
            try:
                await query.edit_message_text(
                    html.escape(first.text, quote=False), parse_mode=ParseMode.HTML,
                    reply_markup=keyboard(first.choices),
                    connect_timeout=self.timeout, read_timeout=self.timeout,
                    write_timeout=self.timeout)
                return replies[1:]
            except BadRequest as exc:
                if "not modified" in str(exc).lower():
                    return replies[1:]
                logger.info("editMessageText failed (%s); sending the reply instead", exc)
            except TelegramError as exc:
                logger.info("editMessageText failed (%s); sending the reply instead", exc)
        try:
            await query.edit_message_reply_markup(reply_markup=None)  # its buttons are used up
        except BadRequest as exc:
            if "not modified" not in str(exc).lower() and "not found" not in str(exc).lower():
                raise
        return replies

    # --- sending -----------------------------------------------------------------------------

    async def _reply(self, chat_id: str, replies: Sequence[Outgoing]) -> None:
        """Send the replies; what fails now goes to the fallback (the outbox) to retry —
        from the part that failed, so what arrived is not sent again."""
        for index, outgoing in enumerate(replies):
            delivered = 0

            async def count(parts: int) -> None:
                nonlocal delivered
                delivered = parts

            try:
                await self.send(chat_id, outgoing, key="", progress=count)
            except (DeliveryError, TelegramError) as exc:
                logger.warning("reply to a %s chat failed (%s); queued for retry", CHANNEL, exc)
                if self.fallback is None:
                    raise
                await self.fallback(CHANNEL, chat_id, replies[index:], delivered)
                return

    async def send(self, destination: str, message: Outgoing, *, key: str, skip: int = 0,
                   progress: Progress | None = None) -> None:
        """Render ``message`` for Telegram and send it: its text (split at 4,096 characters),
        then its document and its picture, each a part of its own (see ChannelSender)."""
        bot = self.application.bot
        texts = split_text(message.text, TEXT_LIMIT)
        calls: list[Callable[[], Awaitable[object]]] = []
        for index, text in enumerate(texts):
            last = index == len(texts) - 1
            calls.append(functools.partial(
                bot.send_message, destination, html.escape(text, quote=False),
                parse_mode=ParseMode.HTML,
                reply_markup=keyboard(message.choices) if last else None,
                connect_timeout=self.timeout, read_timeout=self.timeout,
                write_timeout=self.timeout))
        for doc, upload in ((message.document, bot.send_document),
                            (message.picture, bot.send_photo)):
            if doc is not None:  # uploads keep python-telegram-bot's longer write timeout
                calls.append(functools.partial(
                    upload, destination, InputFile(doc.content, filename=doc.filename),
                    connect_timeout=self.timeout, read_timeout=self.timeout))
        try:
            for index, call in enumerate(calls):
                if index < skip:
                    continue
                await call()
                if progress is not None:
                    await progress(index + 1)
        except RetryAfter as exc:
            raise RetryLater(f"Telegram asked to wait: {exc}", _seconds(exc.retry_after)) \
                from exc
        except Forbidden as exc:
            raise Unreachable(f"Telegram refused: {exc}") from exc
        except BadRequest as exc:
            if "chat not found" in str(exc).lower():
                raise Unreachable(f"Telegram: {exc}") from exc
            raise
        except NetworkError as exc:
            raise RetryLater(f"Telegram not reachable: {exc}") from exc


def _conversation_button(data: str | None) -> bool:
    """Whether ``data`` is a button of one person's conversation (its token has a step)."""
    try:
        return parse_token(data or "").step > 0
    except TokenError:
        return False


def _editable(data: str | None, reply: Outgoing) -> bool:
    """Whether ``reply`` may replace the message whose button carried ``data``."""
    return (_conversation_button(data) and bool(reply.text.strip()) and reply.document is None
            and reply.picture is None and reply.card is None
            and len(html.escape(reply.text, quote=False)) <= TEXT_LIMIT)


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
