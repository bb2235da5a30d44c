"""The LINE channel: a signed webhook in, the Messaging API (line-bot-sdk v3) out.

Events become :class:`~handlers.messages.Incoming`; replies go out with the reply token
first (free and fastest) and fall back to push when the token is used up or expired.
Pushes from the outbox carry an ``X-Line-Retry-Key`` derived from the row's idempotency
key, so a retry is never delivered twice. No flow logic lives here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any
from urllib.parse import quote

import aiohttp
from linebot.v3 import WebhookParser
from linebot.v3.exceptions import InvalidSignatureError
from linebot.v3.messaging import (
    ApiException,
    AsyncApiClient,
    AsyncMessagingApi,
    AsyncMessagingApiBlob,
    Configuration,
    FlexContainer,
    FlexMessage,
    ImageMessage,
    Message,
    MulticastRequest,
    PostbackAction,
    PushMessageRequest,
    QuickReply,
    QuickReplyItem,
    ReplyMessageRequest,
    TextMessage,
)
from linebot.v3.webhooks import (
    AudioMessageContent,
    Event,
    FileMessageContent,
    FollowEvent,
    ImageMessageContent,
    JoinEvent,
    LeaveEvent,
    MessageEvent,
    PostbackEvent,
    TextMessageContent,
    UnfollowEvent,
    VideoMessageContent,
)
from sqlmodel import col, select

from bot.delivery import DeliveryError, Progress, RetryLater, Unreachable
from bot.downloads import CHUNK, DOWNLOAD_TIMEOUT, dispatching
from bot.files import FileLinks, mime_type
from bot.richmenu import RichMenus
from bot.textsplit import split_text, utf16_units
from handlers.dispatch import Dispatcher
from handlers.messages import Attachment, Card, ChatKind, Choice, Incoming, Outgoing
from handlers.onboarding import code_in
from storage.models import ChatIdentity, Member

logger = logging.getLogger(__name__)

CHANNEL = "line"
TEXT_LIMIT = 5000  # UTF-16 code units
ALT_TEXT_LIMIT = 1500
#: a Flex bubble's JSON may be 30 KB; kept well under, since LINE counts after its own
#: serialisation. A card whose text is longer goes as text instead.
BUBBLE_BYTES = 24 * 1024
BUBBLE_PARAGRAPHS = 40
QUICK_REPLY_LIMIT = 13
LABEL_LIMIT = 20
MESSAGES_PER_REQUEST = 5
MULTICAST_LIMIT = 500
FILE_NOT_ON_LINE = ("（檔案「{name}」無法經由 LINE 傳送：請在 Telegram 或終端機（sqbot chat、"
                    "sqbot report）取得。）")
FILE_LINK = "檔案「{name}」請由此下載（{days} 天內有效）：\n{url}"
PREVIEW_LIMIT = 1024 * 1024  # LINE shows a picture's preview only up to 1 MB
RETRY_NAMESPACE = uuid.UUID("5b0f3c9e-6a51-4d0e-9a53-2f1c0b7e9d11")
#: Seconds before a Messaging API request is given up (the SDK's own default is 5 minutes,
#: which would stall the outbox behind one unanswered request).
REQUEST_TIMEOUT = 10.0
#: What the SDK's aiohttp transport raises when LINE cannot be reached or does not answer.
NETWORK_ERRORS = (aiohttp.ClientError, TimeoutError)
Dispatch = Callable[[Incoming], Awaitable[list[Outgoing]]]
DispatchBatch = Callable[[list[Incoming]], Awaitable[list[list[Outgoing]]]]
#: Queues replies that failed: (channel, chat id, replies, parts of the first one delivered).
Fallback = Callable[[str, str, Sequence[Outgoing], int], Awaitable[None]]


class MalformedBody(ValueError):
    """A correctly signed webhook body that is not a LINE webhook payload."""


def _is_code(text: str) -> bool:
    """Whether ``text`` carries an invitation code (as the onboarding reads one)."""
    return code_in(text) is not None


def retry_key(idempotency_key: str) -> str:
    """The X-Line-Retry-Key for an outbox row: the same UUID on every retry of that row."""
    return str(uuid.uuid5(RETRY_NAMESPACE, idempotency_key))


def _label(text: str) -> str:
    return text if len(text) <= LABEL_LIMIT else text[: LABEL_LIMIT - 1] + "…"


def quick_reply(choices: Sequence[Choice]) -> QuickReply | None:
    """Up to 13 choices as quick-reply postback buttons (the label is echoed as the user's)."""
    if not choices or len(choices) > QUICK_REPLY_LIMIT:
        return None
    return QuickReply(items=[
        QuickReplyItem(action=PostbackAction(label=_label(c.label), data=c.action,
                                             displayText=c.label))
        for c in choices])


def button_carousel(choices: Sequence[Choice]) -> FlexMessage:
    """More than 13 choices: a carousel of bubbles with up to 10 buttons each."""
    bubbles = []
    for start in range(0, len(choices), 10):
        buttons = [{"type": "button", "style": "secondary", "height": "sm",
                    "action": {"type": "postback", "label": _label(c.label), "data": c.action,
                               "displayText": c.label}}
                   for c in choices[start:start + 10]]
        bubbles.append({"type": "bubble", "size": "kilo",
                        "body": {"type": "box", "layout": "vertical", "spacing": "sm",
                                 "contents": buttons}})
    return FlexMessage(altText="請選擇：" + "、".join(c.label for c in choices)[:200],
                       contents=FlexContainer.from_dict({"type": "carousel",
                                                         "contents": bubbles[:12]}))


def card_bubble(card: Card, alt_text: str) -> FlexMessage | None:
    """A :class:`Card` as a Flex bubble that stands for the whole message: its title, rows
    and note (the message's text when the card has none); ``alt_text`` is what
    notifications and old clients show. None when it is too large for a bubble."""
    rows = [{"type": "box", "layout": "horizontal", "contents": [
        {"type": "text", "text": name, "size": "sm", "color": "#555555", "flex": 5,
         "wrap": True},
        {"type": "text", "text": value, "size": "sm", "align": "end", "flex": 3,
         "wrap": True}]} for name, value in card.rows]
    note = alt_text if card.note is None else card.note
    paragraphs = [part for part in note.split("\n\n") if part.strip()]
    if len(paragraphs) > BUBBLE_PARAGRAPHS:
        return None
    notes: list[dict[str, Any]] = [{"type": "separator"}] if paragraphs and rows else []
    notes += [{"type": "text", "text": part.strip("\n"), "size": "sm", "wrap": True}
              for part in paragraphs]
    body: dict[str, Any] = {"type": "box", "layout": "vertical", "spacing": "sm",
                            "contents": [{"type": "text", "text": card.title, "weight": "bold",
                                          "wrap": True}, {"type": "separator"}, *rows, *notes]}
    bubble: dict[str, Any] = {"type": "bubble", "body": body}
    if card.footer:
        bubble["footer"] = {"type": "box", "layout": "vertical", "contents": [
            {"type": "text", "text": card.footer, "size": "xs", "wrap": True,
             "color": "#888888"}]}
    if len(json.dumps(bubble, ensure_ascii=False, separators=(",", ":")).encode()) \
            > BUBBLE_BYTES:
        return None
    short = split_text(alt_text, ALT_TEXT_LIMIT, utf16_units)[0]
    return FlexMessage(altText=short or card.title, contents=FlexContainer.from_dict(bubble))


def render(outgoing: Outgoing, links: FileLinks | None = None) -> list[Message]:
    """One neutral message as LINE messages (text split at 5,000 UTF-16 units); files and
    pictures as download links when ``links`` is set, else named."""
    messages: list[Message] = []
    # One message per card: the bubble stands for the text, or the text comes alone when
    # it is too long for a bubble — never both.
    bubble = card_bubble(outgoing.card, outgoing.text) if outgoing.card is not None else None
    if bubble is not None:
        messages.append(bubble)
    elif outgoing.text:
        messages += [TextMessage(text=part)
                     for part in split_text(outgoing.text, TEXT_LIMIT, utf16_units)]
    # The Messaging API takes files and pictures only from an HTTPS address: sqbot's own
    # (PUBLIC_BASE_URL), or, without one, the file is named instead of dropped silently.
    for doc in (outgoing.document, outgoing.picture):
        if doc is None:
            continue
        if links is None:
            messages.append(TextMessage(text=FILE_NOT_ON_LINE.format(name=doc.filename)))
            continue
        url = links.link(doc)
        if doc is outgoing.picture and len(doc.content) <= PREVIEW_LIMIT \
                and mime_type(doc.filename) in ("image/png", "image/jpeg"):
            messages.append(ImageMessage(originalContentUrl=url, previewImageUrl=url))
        else:
            messages.append(TextMessage(text=FILE_LINK.format(name=doc.filename, url=url,
                                                              days=links.days)))
    choices = list(outgoing.choices)
    if choices:
        replies = quick_reply(choices)
        if replies is not None and messages:
            messages[-1].quick_reply = replies
        else:
            messages.append(button_carousel(choices))
    return messages


class LineChannel:
    """The bot on LINE."""

    channel = CHANNEL

    def __init__(self, *, channel_secret: str, access_token: str, dispatch: Dispatch,
                 max_evidence_bytes: int, api_base_url: str | None = None,
                 fallback: Fallback | None = None,
                 request_timeout: float = REQUEST_TIMEOUT,
                 links: FileLinks | None = None, office: str | None = None,
                 members: Callable[[], list[tuple[str, str]]] | None = None,
                 dispatch_batch: DispatchBatch | None = None) -> None:
        if not channel_secret or not access_token:
            raise ValueError("LINE_CHANNEL_SECRET and LINE_CHANNEL_ACCESS_TOKEN are both needed")
        self.parser = WebhookParser(channel_secret)
        api_host = api_base_url or "https://api.line.me"
        data_host = api_base_url or "https://api-data.line.me"
        self._client = AsyncApiClient(Configuration(host=api_host, access_token=access_token))
        self._data_client = AsyncApiClient(Configuration(host=data_host,
                                                         access_token=access_token))
        self._access_token = access_token
        self.api = AsyncMessagingApi(self._client)
        self.blob = AsyncMessagingApiBlob(self._data_client)
        self.dispatch = dispatch
        #: several events of one body in one transaction (None: one by one)
        self.dispatch_batch = dispatch_batch
        self.max_evidence_bytes = max_evidence_bytes
        self.fallback = fallback
        self.timeout = request_timeout
        self.links = links
        self._replies: set[asyncio.Task[None]] = set()
        #: the reply task sent last to each chat (the next one waits for it)
        self._last_reply: dict[str, asyncio.Task[None]] = {}
        #: the rich menus per role (None: not set up by this process)
        self.menus = RichMenus(self.api, self.blob, office, timeout=request_timeout) \
            if office else None
        #: (LINE user id, role) of every bound member, for linking their menus
        self.members = members

    @classmethod
    def from_dispatcher(cls, dispatcher: Dispatcher, **kwargs: Any) -> LineChannel:
        """A channel whose events go to ``dispatcher`` (run in a worker thread)."""
        def members() -> list[tuple[str, str]]:
            with dispatcher.database.transaction() as session:
                return [(user_id, str(role)) for user_id, role in session.exec(
                    select(ChatIdentity.platform_user_id, Member.role)
                    .join(Member, col(ChatIdentity.member_id) == col(Member.id))
                    .where(ChatIdentity.channel == CHANNEL, col(Member.active))).all()]

        async def batch(incomings: list[Incoming]) -> list[list[Outgoing]]:
            return await asyncio.to_thread(dispatcher.dispatch_many, incomings)

        return cls(dispatch=dispatching(dispatcher), members=members, dispatch_batch=batch,
                   **kwargs)

    async def keep_menus(self, stop: asyncio.Event, *, every: float = 3600.0,
                         retry: float = 30.0) -> None:
        """Set the rich menus up, link every member to their role's, and link again every
        ``every`` seconds (a role changed in the database is followed). A convenience: a
        failure is logged and retried, never fatal."""
        if self.menus is None:
            return
        wait = every
        while not stop.is_set():
            try:
                if not self.menus.ids:
                    await self.menus.ensure()
                members = await asyncio.to_thread(self.members) if self.members else []
                await self.menus.link_all(members)
                wait = every
            except (ApiException, *NETWORK_ERRORS, TimeoutError) as exc:
                logger.warning("LINE rich menus not set (%s); retrying in %.0f s",
                               exc.__class__.__name__, retry)
                wait = retry
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=wait)

    async def _link_menu(self, user_id: str, role: str) -> None:
        """A member was just bound: their role's menu at once."""
        if self.menus is None:
            return
        try:
            if not self.menus.ids:  # set up by another worker: find them
                await self.menus.ensure(create=False)
            if not self.menus.ids:
                return  # linked when the menus are set up
            await self.menus.link(user_id, role)
        except (ApiException, *NETWORK_ERRORS, TimeoutError) as exc:
            logger.warning("LINE rich menu not linked (%s); linked at the next round",
                           exc.__class__.__name__)

    async def close(self) -> None:
        """Wait for replies in flight, then close the HTTP clients."""
        if self._replies:
            await asyncio.gather(*self._replies, return_exceptions=True)
        await self._client.close()
        await self._data_client.close()

    async def drain_replies(self) -> None:
        """Wait until every reply started so far has been sent (for tests and shutdown)."""
        while self._replies:
            await asyncio.gather(*list(self._replies), return_exceptions=True)

    # --- the webhook -------------------------------------------------------------------------

    def verify(self, body: bytes, signature: str) -> list[Event] | None:
        """The events of a correctly signed body; None when the signature is wrong.

        Raises MalformedBody for a correctly signed body that is not a webhook payload.
        """
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return None
        try:
            return list(self.parser.parse(text, signature))
        except InvalidSignatureError:
            return None
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise MalformedBody(str(exc)) from None

    async def handle(self, events: Sequence[Event]) -> bool:
        """Dispatch each event (committed before this returns); replies go out afterwards.

        Consecutive events without a file are dispatched together, in one transaction
        (``dispatch_batch``), each still with its own id and replies, in order.
        Returns False if some event could not be committed, so LINE should redeliver.
        """
        pending: list[tuple[Event, Incoming]] = []
        for event in events:
            incoming = await self.to_incoming(event)
            if incoming is None:
                continue
            if incoming.attachment is None and self.dispatch_batch is not None:
                pending.append((event, incoming))
                continue
            await self._dispatch_pending(pending)
            try:
                replies = await self.dispatch(incoming)
            except (ApiException, *NETWORK_ERRORS, TimeoutError) as exc:  # a file not fetched
                logger.warning("LINE content not fetched (%s); LINE will redeliver",
                               exc.__class__.__name__)
                return False
            await self._replied(event, incoming, replies)
        await self._dispatch_pending(pending)
        return True

    async def _dispatch_pending(self, pending: list[tuple[Event, Incoming]]) -> None:
        """The events gathered so far, in one transaction (or one by one without a batch)."""
        if not pending:
            return
        batch = list(pending)
        pending.clear()
        if self.dispatch_batch is not None and len(batch) > 1:
            results = await self.dispatch_batch([incoming for _, incoming in batch])
        else:
            results = [await self.dispatch(incoming) for _, incoming in batch]
        for (event, incoming), replies in zip(batch, results, strict=True):
            await self._replied(event, incoming, replies)

    async def _replied(self, event: Event, incoming: Incoming, replies: list[Outgoing]) -> None:
        """After an event's commit: the member's menu when just bound, then its replies."""
        for reply in replies:
            if reply.meta.get("kind") == "member_bound" and incoming.user_id:
                await self._link_menu(incoming.user_id, str(reply.meta.get("role")))
        if replies:
            token = getattr(event, "reply_token", None)
            chat_id = incoming.chat_id
            earlier = self._last_reply.get(chat_id)

            async def in_order() -> None:
                if earlier is not None:  # a chat's replies arrive in the order of its events
                    await asyncio.gather(earlier, return_exceptions=True)
                await self._reply(chat_id, token, replies)

            task = asyncio.create_task(in_order())
            self._replies.add(task)
            self._last_reply[chat_id] = task
            task.add_done_callback(self._replies.discard)
            task.add_done_callback(lambda done: self._last_reply.pop(chat_id, None)
                                   if self._last_reply.get(chat_id) is done else None)

    async def to_incoming(self, event: Event) -> Incoming | None:
        """The neutral event of a LINE event; None for events sqbot does not act on."""
        source = getattr(event, "source", None)
        user_id = getattr(source, "user_id", None) or ""
        group_id = getattr(source, "group_id", None) or getattr(source, "room_id", None)
        chat_kind = ChatKind.GROUP if group_id else ChatKind.PRIVATE
        base: dict[str, Any] = {"channel": CHANNEL, "user_id": user_id,
                                "chat_id": group_id or user_id,
                                "event_id": event.webhook_event_id, "chat_kind": chat_kind}
        if isinstance(event, MessageEvent):
            content = event.message
            if isinstance(content, TextMessageContent):
                # Someone typing an invitation code in a private chat is about to be bound:
                # the LINE profile's name is the member's name when the code names nobody.
                name = await self._display_name(user_id) \
                    if chat_kind == ChatKind.PRIVATE and _is_code(content.text) else None
                return Incoming(**base, text=content.text, display_name=name)
            if chat_kind == ChatKind.GROUP:
                return None
            attachment = await self._attachment(content)
            if attachment is not None:
                return Incoming(**base, attachment=attachment)
            return Incoming(**base, text="")  # stickers, locations: the flow asks again
        if isinstance(event, PostbackEvent):
            return Incoming(**base, action=event.postback.data)
        if isinstance(event, FollowEvent):  # a member still unnamed takes the profile's
            return Incoming(**base, lifecycle="follow",
                            display_name=await self._display_name(user_id))
        if isinstance(event, UnfollowEvent):
            return Incoming(**base, lifecycle="unfollow")
        if isinstance(event, JoinEvent):
            return Incoming(**base, lifecycle="join")
        if isinstance(event, LeaveEvent):
            return Incoming(**base, lifecycle="leave")
        return None  # memberJoined, unsend, unknown types: acknowledged, ignored

    async def _display_name(self, user_id: str) -> str | None:
        """The LINE profile's display name; None when LINE will not give it (the user has
        not added the bot as a friend, or LINE is unreachable): binding goes on without."""
        try:
            profile = await self.api.get_profile(user_id, _request_timeout=self.timeout)
        except (ApiException, *NETWORK_ERRORS) as exc:
            logger.info("LINE profile not read (%s)", exc.__class__.__name__)
            return None
        return profile.display_name or None

    async def _attachment(self, content: object) -> Attachment | None:
        kinds = {ImageMessageContent: ("photo", "image/jpeg"),
                 VideoMessageContent: ("video", "video/mp4"),
                 AudioMessageContent: ("audio", "audio/m4a"),
                 FileMessageContent: ("document", "application/octet-stream")}
        for cls, (kind, mime) in kinds.items():
            if isinstance(content, cls):
                name = getattr(content, "file_name", None)
                size = getattr(content, "file_size", None)
                message_id = str(getattr(content, "id", ""))
                if size is not None and size > self.max_evidence_bytes:
                    return Attachment(kind, b"", mime, name, message_id, declared_size=size)
                # Fetched only if the sender's conversation keeps a file (bot.downloads).
                return Attachment(kind, b"", _guess_mime(name) or mime, name, message_id,
                                  declared_size=size, fetch=self._content(message_id))
        return None

    def _content(self, message_id: str) -> Callable[[], AsyncIterator[bytes]]:
        """The content of a message, streamed from LINE's content host.

        The SDK's own call reads the whole body into memory (and its no-preload path does
        not work with the async client), so its REST layer is asked for the raw response.
        """
        url = f"{self._data_client.configuration.host}/v2/bot/message/{quote(message_id)}/content"

        async def chunks() -> AsyncIterator[bytes]:
            response = await self._data_client.rest_client.request(
                "GET", url, headers={"Authorization": f"Bearer {self._access_token}",
                                     "User-Agent": self._data_client.user_agent},
                _preload_content=False, _request_timeout=DOWNLOAD_TIMEOUT)
            try:
                if not 200 <= response.status <= 299:
                    raise ApiException(status=response.status, reason=response.reason)
                async for chunk in response.content.iter_chunked(CHUNK):
                    yield chunk
            finally:
                response.close()  # the connection too: the rest of a refused file stays unread

        return chunks

    # --- sending -----------------------------------------------------------------------------

    async def _reply(self, chat_id: str, token: str | None,
                     replies: Sequence[Outgoing]) -> None:
        messages = [m for outgoing in replies for m in render(outgoing, self.links)]
        first, rest = messages[:MESSAGES_PER_REQUEST], messages[MESSAGES_PER_REQUEST:]
        if token:
            try:
                await self.api.reply_message(ReplyMessageRequest(replyToken=token,
                                                                 messages=first),
                                             _request_timeout=self.timeout)
                first = []
            except NETWORK_ERRORS as exc:
                logger.warning("LINE reply failed (%s); pushing instead", exc.__class__.__name__)
            except ApiException as exc:
                if exc.status != 400:
                    logger.warning("LINE reply failed with %s; pushing instead", exc.status)
                else:
                    logger.info("LINE reply token unusable; pushing instead")
        remaining = first + rest
        for start in range(0, len(remaining), MESSAGES_PER_REQUEST):
            batch = remaining[start:start + MESSAGES_PER_REQUEST]
            key = str(uuid.uuid4())
            try:
                await self._push(chat_id, batch, key)
            except DeliveryError as exc:
                logger.warning("LINE push of a reply failed (%s); queued in the outbox", exc)
                if self.fallback is not None:
                    pending = [Outgoing(text=_message_text(m)) for m in remaining[start:]]
                    await self.fallback(CHANNEL, chat_id, pending, 0)
                return

    async def send(self, destination: str, message: Outgoing, *, key: str, skip: int = 0,
                   progress: Progress | None = None) -> None:
        """Push one outbox message: a request of up to five messages is a part, each with a
        stable retry key (so even a part sent again arrives once)."""
        messages = render(message, self.links)
        for part, start in enumerate(range(0, len(messages), MESSAGES_PER_REQUEST)):
            if part < skip:
                continue
            await self._push(destination, messages[start:start + MESSAGES_PER_REQUEST],
                             retry_key(f"{key}:{start}"))
            if progress is not None:
                await progress(part + 1)

    async def send_multicast(self, destinations: Sequence[str], message: Outgoing, *,
                             key: str) -> None:
        """The same message to up to 500 users in one request."""
        if not 1 <= len(destinations) <= MULTICAST_LIMIT:
            raise ValueError(f"multicast takes 1-{MULTICAST_LIMIT} users")
        messages = render(message, self.links)[:MESSAGES_PER_REQUEST]
        try:
            await self.api.multicast(MulticastRequest(to=list(destinations), messages=messages),
                                     x_line_retry_key=retry_key(key),
                                     _request_timeout=self.timeout)
        except ApiException as exc:
            _raise_delivery(exc)
        except NETWORK_ERRORS as exc:
            raise RetryLater(f"LINE not reachable: {exc.__class__.__name__}: {exc}") from exc

    async def _push(self, to: str, messages: list[Message], key: str) -> None:
        try:
            await self.api.push_message(PushMessageRequest(to=to, messages=messages),
                                        x_line_retry_key=key, _request_timeout=self.timeout)
        except ApiException as exc:
            _raise_delivery(exc)
        except NETWORK_ERRORS as exc:
            raise RetryLater(f"LINE not reachable: {exc.__class__.__name__}: {exc}") from exc

    async def quota_left(self) -> int | None:
        """Messages left this month (None: no limit)."""
        quota = await self.api.get_message_quota(_request_timeout=self.timeout)
        if quota.type != "limited" or quota.value is None:
            return None
        used = await self.api.get_message_quota_consumption(_request_timeout=self.timeout)
        return max(quota.value - used.total_usage, 0)


def _raise_delivery(exc: ApiException) -> None:
    status = exc.status or 0
    if status == 409:
        return  # this retry key was accepted before: delivered already, nothing to do
    if status == 429 or status >= 500:
        raise RetryLater(f"LINE answered {status}", 30.0 if status == 429 else None) from exc
    message = _error_message(exc)
    if status in (403, 404) or (status == 400 and "'to'" in message):
        raise Unreachable(f"LINE answered {status}: {message}") from exc
    raise DeliveryError(f"LINE refused the request ({status}): {message}") from exc


def _error_message(exc: ApiException) -> str:
    try:
        return str(json.loads(exc.body or "{}").get("message", "")).lower()
    except (TypeError, ValueError):
        return ""


def _message_text(message: Message) -> str:
    if isinstance(message, TextMessage):
        return message.text
    if isinstance(message, FlexMessage):
        return message.alt_text
    if isinstance(message, ImageMessage):
        return f"（圖片）{message.original_content_url}"
    return ""


def _guess_mime(name: str | None) -> str | None:
    if not name:
        return None
    import mimetypes

    return mimetypes.guess_type(name)[0]
