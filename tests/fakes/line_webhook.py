"""Builders of LINE webhook request bodies, in the shapes of LINE's ``webhook.yml``.

Each builder returns one webhook event object (a dict) and validates it against the spec's
``Event`` schema, so a builder bug fails loudly. ``body(*events)`` makes the request body
exactly as LINE sends it (compact UTF-8 JSON) and ``signature(body, secret)`` its
``X-Line-Signature``::

    event = text_event(user_id("alice"), "你好", reply_token=line.issue_reply_token(...))
    payload = body(event)
    client.post("/line/webhook", content=payload,
                headers={"X-Line-Signature": signature(payload, SECRET)})

Reply tokens are random unless given: pass one from ``FakeLine.issue_reply_token`` for the
fake Messaging API to accept the reply.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from typing import Any

from tests.fakes.line_api import CHAT_ID, USER_ID, spec_schemas

DESTINATION = "U" + "0" * 32
"""The bot's user ID in ``destination`` unless a test gives another."""

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def user_id(name: str) -> str:
    """A stable LINE user ID (``U`` + 32 hex digits) for a readable name."""
    return "U" + hashlib.md5(f"user:{name}".encode()).hexdigest()


def group_id(name: str) -> str:
    """A stable LINE group ID (``C`` + 32 hex digits) for a readable name."""
    return "C" + hashlib.md5(f"group:{name}".encode()).hexdigest()


def new_message_id() -> str:
    """A fresh message ID: a decimal string, as LINE's are."""
    return str(secrets.randbelow(9 * 10**17) + 10**17)


def new_event_id(timestamp_ms: int | None = None) -> str:
    """A fresh webhook event ID: a 26-character ULID (Crockford base32)."""
    stamp = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
    value = (stamp << 80) | secrets.randbits(80)
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def _quote_token() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(96)).decode().rstrip("=")


def _check_id(value: str, pattern: Any, what: str) -> None:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise ValueError(f"{what} {value!r} is not a LINE ID (use user_id()/group_id())")


def validate_event(event: dict[str, Any]) -> dict[str, Any]:
    """Raise ValueError unless ``event`` satisfies webhook.yml's ``Event`` schema."""
    errors = spec_schemas("webhook", strict=False).errors("Event", event)
    if errors:
        details = "; ".join(f"{prop or '<event>'}: {message}" for prop, message in errors)
        raise ValueError(f"webhook event violates webhook.yml: {details}")
    if len(event["webhookEventId"]) != 26:
        raise ValueError("webhookEventId must be a 26-character ULID")
    return event


def _source(user: str | None, group: str | None) -> dict[str, str]:
    if group is not None:
        _check_id(group, CHAT_ID, "group ID")
        source = {"type": "room" if group.startswith("R") else "group"}
        source["roomId" if group.startswith("R") else "groupId"] = group
        if user is not None:
            _check_id(user, USER_ID, "user ID")
            source["userId"] = user
        return source
    _check_id(user or "", USER_ID, "user ID")
    return {"type": "user", "userId": user or ""}


def _event(kind: str, source: dict[str, str], *, replyable: bool, reply_token: str | None,
           redelivery: bool, event_id_: str | None, timestamp: int | None,
           **fields: Any) -> dict[str, Any]:
    stamp = int(time.time() * 1000) if timestamp is None else timestamp
    event: dict[str, Any] = {"type": kind, **fields}
    if replyable:
        event["replyToken"] = reply_token if reply_token is not None else secrets.token_hex(16)
    event.update({
        "webhookEventId": event_id_ if event_id_ is not None else new_event_id(stamp),
        "deliveryContext": {"isRedelivery": redelivery},
        "timestamp": stamp,
        "source": source,
        "mode": "active",
    })
    return validate_event(event)


def _message_event(user: str, message: dict[str, Any], *, group_id: str | None,
                   redelivery: bool, event_id: str | None, reply_token: str | None,
                   timestamp: int | None) -> dict[str, Any]:
    return _event("message", _source(user, group_id), replyable=True, reply_token=reply_token,
                  redelivery=redelivery, event_id_=event_id, timestamp=timestamp,
                  message=message)


def text_event(user_id: str, text: str, *, group_id: str | None = None,
               redelivery: bool = False, event_id: str | None = None,
               reply_token: str | None = None, message_id: str | None = None,
               timestamp: int | None = None) -> dict[str, Any]:
    """A user sent ``text`` (in a one-on-one chat, or in group/room ``group_id``)."""
    message = {"type": "text", "id": message_id or new_message_id(),
               "quoteToken": _quote_token(), "text": text}
    return _message_event(user_id, message, group_id=group_id, redelivery=redelivery,
                          event_id=event_id, reply_token=reply_token, timestamp=timestamp)


def postback_event(user_id: str, data: str, *, params: dict[str, str] | None = None,
                   group_id: str | None = None, redelivery: bool = False,
                   event_id: str | None = None, reply_token: str | None = None,
                   timestamp: int | None = None) -> dict[str, Any]:
    """A user tapped a postback action carrying ``data`` (``params`` of a datetime picker)."""
    postback: dict[str, Any] = {"data": data}
    if params is not None:
        postback["params"] = params
    return _event("postback", _source(user_id, group_id), replyable=True,
                  reply_token=reply_token, redelivery=redelivery, event_id_=event_id,
                  timestamp=timestamp, postback=postback)


def image_event(user_id: str, message_id: str, *, group_id: str | None = None,
                redelivery: bool = False, event_id: str | None = None,
                reply_token: str | None = None, timestamp: int | None = None
                ) -> dict[str, Any]:
    """A user sent an image, stored by LINE (fetch it from the content endpoint)."""
    message = {"type": "image", "id": message_id, "quoteToken": _quote_token(),
               "contentProvider": {"type": "line"}}
    return _message_event(user_id, message, group_id=group_id, redelivery=redelivery,
                          event_id=event_id, reply_token=reply_token, timestamp=timestamp)


def file_event(user_id: str, message_id: str, file_name: str, file_size: int, *,
               group_id: str | None = None, redelivery: bool = False,
               event_id: str | None = None, reply_token: str | None = None,
               timestamp: int | None = None) -> dict[str, Any]:
    """A user sent a file of ``file_size`` bytes named ``file_name``."""
    message = {"type": "file", "id": message_id, "fileName": file_name, "fileSize": file_size}
    return _message_event(user_id, message, group_id=group_id, redelivery=redelivery,
                          event_id=event_id, reply_token=reply_token, timestamp=timestamp)


def video_event(user_id: str, message_id: str, duration: int, *, group_id: str | None = None,
                redelivery: bool = False, event_id: str | None = None,
                reply_token: str | None = None, timestamp: int | None = None
                ) -> dict[str, Any]:
    """A user sent a video of ``duration`` milliseconds."""
    message = {"type": "video", "id": message_id, "quoteToken": _quote_token(),
               "duration": duration, "contentProvider": {"type": "line"}}
    return _message_event(user_id, message, group_id=group_id, redelivery=redelivery,
                          event_id=event_id, reply_token=reply_token, timestamp=timestamp)


def audio_event(user_id: str, message_id: str, duration: int, *, group_id: str | None = None,
                redelivery: bool = False, event_id: str | None = None,
                reply_token: str | None = None, timestamp: int | None = None
                ) -> dict[str, Any]:
    """A user sent a voice message of ``duration`` milliseconds."""
    message = {"type": "audio", "id": message_id, "duration": duration,
               "contentProvider": {"type": "line"}}
    return _message_event(user_id, message, group_id=group_id, redelivery=redelivery,
                          event_id=event_id, reply_token=reply_token, timestamp=timestamp)


def follow_event(user_id: str, *, unblocked: bool = False, redelivery: bool = False,
                 event_id: str | None = None, reply_token: str | None = None,
                 timestamp: int | None = None) -> dict[str, Any]:
    """A user added the bot as a friend (or unblocked it)."""
    return _event("follow", _source(user_id, None), replyable=True, reply_token=reply_token,
                  redelivery=redelivery, event_id_=event_id, timestamp=timestamp,
                  follow={"isUnblocked": unblocked})


def unfollow_event(user_id: str, *, redelivery: bool = False, event_id: str | None = None,
                   timestamp: int | None = None) -> dict[str, Any]:
    """A user blocked the bot (no reply token)."""
    return _event("unfollow", _source(user_id, None), replyable=False, reply_token=None,
                  redelivery=redelivery, event_id_=event_id, timestamp=timestamp)


def join_event(group_id: str, *, redelivery: bool = False, event_id: str | None = None,
               reply_token: str | None = None, timestamp: int | None = None
               ) -> dict[str, Any]:
    """The bot joined group (or room) ``group_id``."""
    return _event("join", _source(None, group_id), replyable=True, reply_token=reply_token,
                  redelivery=redelivery, event_id_=event_id, timestamp=timestamp)


def leave_event(group_id: str, *, redelivery: bool = False, event_id: str | None = None,
                timestamp: int | None = None) -> dict[str, Any]:
    """The bot left, or was removed from, group ``group_id`` (no reply token)."""
    return _event("leave", _source(None, group_id), replyable=False, reply_token=None,
                  redelivery=redelivery, event_id_=event_id, timestamp=timestamp)


def member_joined_event(group_id: str, user_ids: list[str], *, redelivery: bool = False,
                        event_id: str | None = None, reply_token: str | None = None,
                        timestamp: int | None = None) -> dict[str, Any]:
    """Users ``user_ids`` joined group ``group_id``, where the bot is."""
    for user in user_ids:
        _check_id(user, USER_ID, "user ID")
    members = [{"type": "user", "userId": user} for user in user_ids]
    return _event("memberJoined", _source(None, group_id), replyable=True,
                  reply_token=reply_token, redelivery=redelivery, event_id_=event_id,
                  timestamp=timestamp, joined={"members": members})


def unknown_event(user_id: str, *, kind: str = "futureThing", redelivery: bool = False,
                  event_id: str | None = None, timestamp: int | None = None
                  ) -> dict[str, Any]:
    """An event of a type LINE may add later: only the common event properties are known."""
    return _event(kind, _source(user_id, None), replyable=False, reply_token=None,
                  redelivery=redelivery, event_id_=event_id, timestamp=timestamp,
                  **{kind: {"detail": "something new"}})


def body(*events: dict[str, Any], destination: str = DESTINATION) -> bytes:
    """The webhook request body exactly as LINE sends it: compact UTF-8 JSON."""
    payload = {"destination": destination, "events": list(events)}
    errors = spec_schemas("webhook", strict=False).errors("CallbackRequest", payload)
    if errors:
        details = "; ".join(f"{prop}: {message}" for prop, message in errors)
        raise ValueError(f"webhook body violates webhook.yml: {details}")
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def signature(body: bytes, channel_secret: str) -> str:
    """The ``X-Line-Signature`` of ``body``: base64 of HMAC-SHA256 keyed by the secret."""
    digest = hmac.new(channel_secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def headers(body: bytes, channel_secret: str) -> dict[str, str]:
    """The headers LINE sends with ``body``."""
    return {"Content-Type": "application/json; charset=utf-8",
            "X-Line-Signature": signature(body, channel_secret),
            "User-Agent": "LineBotWebhook/2.0"}
