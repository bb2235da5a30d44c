"""A fake Telegram Bot API server for tests.

The fake serves the Bot API over real HTTP on 127.0.0.1, so python-telegram-bot's real ``Bot``
and ``Application`` run against it unchanged::

    with FakeTelegram() as fake:
        bot = telegram.Bot(fake.token, base_url=fake.base_url,
                           base_file_url=fake.base_file_url)

Every request is validated against the Bot API described as data in
``tests/fakes/specs/telegram/bot-api.json``, vendored unmodified (override the path with
``SQBOT_TELEGRAM_SPEC``):
unknown methods answer 404, unknown or missing parameters and values of the wrong type answer
400, and the documented limits (text length after entity parsing, caption length, callback data
size, keyboard size, command syntax...) are enforced. ``parse_mode`` HTML, MarkdownV2 and
Markdown are parsed the way TDLib (the library behind the Bot API server) parses them, with the
same error messages.

Deliberate differences from the real server. Stricter: unknown parameters and unknown fields
inside JSON objects are rejected (Telegram ignores them), a Boolean must be spelled true/false,
yes/no or 1/0, and a button may carry only one action. More lenient: plain-HTTP webhook URLs
are accepted for loopback hosts, so tests can receive webhooks.

``sent_texts`` returns what the user sees (HTML tags removed, entities decoded); the raw
parameters of every request are in ``calls``.

Inside an ``async`` test, never call the blocking helpers (``wait_for_calls``,
``deliver_webhook``) while the code under test runs on the same event loop; use
``await_calls`` and ``adeliver_webhook`` instead.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import copy
import functools
import hashlib
import json
import math
import mimetypes
import os
import re
import socket
import struct
import threading
import time
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse as _StarletteJSON
from starlette.responses import Response
from starlette.routing import Route


class JSONResponse(_StarletteJSON):
    """The Bot API's JSON: UTF-8, except a lone surrogate (which a client may send in a
    text, UTF-16 being Telegram's unit) goes as a ``\\udXXX`` escape, as real JSON does."""

    def render(self, content: Any) -> bytes:
        try:
            return super().render(content)
        except UnicodeEncodeError:
            return json.dumps(content, ensure_ascii=True, separators=(",", ":")).encode()

__all__ = [
    "ApiError",
    "BackgroundServer",
    "BotApiSpec",
    "Call",
    "EntityParseError",
    "FakeTelegram",
    "Invalid",
    "SpecValidator",
    "format_text",
    "load_spec",
    "parse_html",
    "parse_markdown",
    "parse_markdown_v2",
    "utf16_len",
]

SPEC_PATH = Path(
    os.environ.get("SQBOT_TELEGRAM_SPEC")
    or Path(__file__).resolve().parent / "specs" / "telegram" / "bot-api.json"
)
DEFAULT_TOKEN = "123456:" + "A" * 35

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_LIMIT = 64
CALLBACK_ANSWER_LIMIT = 200
BUTTONS_PER_ROW_LIMIT = 8
BUTTONS_LIMIT = 100
COMMANDS_LIMIT = 100
GET_FILE_LIMIT = 20 * 1024 * 1024
UPLOAD_LIMIT = 50 * 1024 * 1024

NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the "
    "same as a current content and reply markup of the message"
)
WEBHOOK_ACTIVE = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to "
    "delete the webhook first"
)
POLL_TERMINATED = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance "
    "is running"
)
CALLBACK_EXPIRED = "query is too old and response timeout expired or query ID is invalid"
FAILURE_KINDS = ("429", "403", "400-chat", "500")
CHAT_ACTIONS = frozenset({
    "typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
    "upload_document", "choose_sticker", "find_location", "record_video_note",
    "upload_video_note",
})
# Update types that Telegram only sends when asked for explicitly in allowed_updates.
OPT_IN_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})


# ---------------------------------------------------------------------------------------------
# The Bot API as data
# ---------------------------------------------------------------------------------------------

_PRIMITIVES = frozenset({"Integer", "String", "Boolean", "Float", "InputFile"})
_DISCRIMINATOR_FIELDS = ("type", "status", "source")
_DISCRIMINATOR_VALUE = re.compile(r"(?:must be|always)\s+[“\"]?([a-z0-9_]+)")


@dataclass(frozen=True)
class FieldSpec:
    name: str
    types: tuple[str, ...]
    required: bool
    description: str


@dataclass(frozen=True)
class MethodSpec:
    name: str
    fields: dict[str, FieldSpec]
    returns: tuple[str, ...]


@dataclass(frozen=True)
class TypeSpec:
    name: str
    fields: dict[str, FieldSpec] | None
    subtypes: tuple[str, ...]
    discriminator: tuple[str, str] | None  # (field, constant) that selects this subtype


def _field_specs(raw_fields: list[dict[str, Any]]) -> dict[str, FieldSpec]:
    return {
        f["name"]: FieldSpec(f["name"], tuple(f["types"]), bool(f.get("required")),
                             f.get("description", ""))
        for f in raw_fields
    }


def _discriminator(fields: dict[str, FieldSpec] | None) -> tuple[str, str] | None:
    for key in _DISCRIMINATOR_FIELDS:
        spec = (fields or {}).get(key)
        if spec is not None and spec.required and spec.types == ("String",):
            match = _DISCRIMINATOR_VALUE.search(spec.description)
            if match:
                return key, match.group(1)
    return None


class BotApiSpec:
    """Methods and types of the Bot API, loaded from the JSON description."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.version: str = str(data.get("version", "unknown"))
        self.methods: dict[str, MethodSpec] = {}
        for name, raw in data["methods"].items():
            self.methods[name.lower()] = MethodSpec(
                name, _field_specs(raw.get("fields", [])), tuple(raw.get("returns", []))
            )
        self.types: dict[str, TypeSpec] = {}
        for name, raw in data["types"].items():
            fields = _field_specs(raw["fields"]) if "fields" in raw else None
            self.types[name] = TypeSpec(
                name, fields, tuple(raw.get("subtypes", [])), _discriminator(fields)
            )

    def method(self, name: str) -> MethodSpec | None:
        """The method called ``name``; like Telegram, method names are case-insensitive."""
        return self.methods.get(name.lower())

    def update_kinds(self) -> list[str]:
        fields = self.types["Update"].fields or {}
        return [name for name in fields if name != "update_id"]


@functools.lru_cache(maxsize=4)
def load_spec(path: str | None = None) -> BotApiSpec:
    """Load (once) the Bot API description."""
    spec_path = Path(path) if path is not None else SPEC_PATH
    with spec_path.open(encoding="utf-8") as fh:
        return BotApiSpec(json.load(fh))


class Invalid(ValueError):
    """A value does not match the Bot API spec; the message says where and why."""


class SpecValidator:
    """Checks JSON values against the spec's types, field by field, recursively."""

    def __init__(self, spec: BotApiSpec) -> None:
        self.spec = spec

    def check(self, value: Any, types: Sequence[str], where: str) -> None:
        """Raise ``Invalid`` unless ``value`` is of one of ``types``."""
        if len(types) == 1:
            self._check_one(value, types[0], where)
            return
        errors: list[tuple[str, Invalid]] = []
        for type_name in types:
            try:
                self._check_one(value, type_name, where)
                return
            except Invalid as exc:
                errors.append((type_name, exc))
        if isinstance(value, dict):
            # Report against the variant whose required fields are all there, if any.
            for type_name, error in errors:
                spec = self.spec.types.get(type_name)
                if spec is not None and spec.fields is not None and all(
                    name in value for name, f in spec.fields.items() if f.required
                ):
                    raise error
        raise errors[0][1]

    def _check_one(self, value: Any, type_name: str, where: str) -> None:
        if type_name.startswith("Array of "):
            if not isinstance(value, list):
                raise Invalid(f"{where} must be of type {type_name}")
            inner = type_name[len("Array of "):]
            for index, item in enumerate(value):
                self.check(item, [inner], f"{where}[{index}]")
            return
        if type_name == "Integer":
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif type_name == "Float":
            ok = isinstance(value, int | float) and not isinstance(value, bool)
        elif type_name == "Boolean":
            ok = isinstance(value, bool)
        elif type_name in ("String", "InputFile"):
            ok = isinstance(value, str)
        else:
            self._check_object(value, type_name, where)
            return
        if not ok:
            raise Invalid(f"{where} must be of type {type_name}")

    def _check_object(self, value: Any, type_name: str, where: str) -> None:
        spec = self.spec.types.get(type_name)
        if spec is None:
            return  # a type the spec does not describe: nothing to check
        if spec.subtypes:
            candidates: list[str] = []
            key: str | None = None
            for sub_name in spec.subtypes:
                sub = self.spec.types.get(sub_name)
                if sub is None or sub.discriminator is None:
                    candidates.append(sub_name)
                    continue
                key, constant = sub.discriminator
                if isinstance(value, dict) and value.get(key) == constant:
                    candidates.append(sub_name)
            if not candidates:
                if not isinstance(value, dict):
                    raise Invalid(f"{where} must be an Object of type {type_name}")
                shown = json.dumps(value.get(key or "type"), ensure_ascii=False)
                raise Invalid(f'{where}: unsupported {type_name} {key} {shown}')
            self.check(value, candidates, where)
            return
        if not isinstance(value, dict):
            raise Invalid(f"{where} must be an Object of type {type_name}")
        if spec.fields is None:
            return  # a placeholder type without fields (e.g. CallbackGame)
        for name, required in spec.fields.items():
            if required.required and value.get(name) is None:
                raise Invalid(f'{where}: can\'t find field "{name}" of {type_name}')
        for name, item in value.items():
            field_spec = spec.fields.get(name)
            if field_spec is None:
                raise Invalid(
                    f'{where}: unknown field "{name}" of {type_name} (Bot API {self.spec.version})'
                )
            if item is not None:
                self.check(item, field_spec.types, f"{where}.{name}")

    def decode(self, raw: str, types: Sequence[str], where: str) -> Any:
        """Decode a form-encoded parameter (always a string) into a value of one of ``types``."""
        errors: list[Invalid] = []
        for type_name in types:
            if type_name in ("Integer", "Float", "Boolean"):
                try:
                    return _decode_scalar(raw, type_name, where)
                except Invalid as exc:
                    errors.append(exc)
        structured = [t for t in types if t not in _PRIMITIVES]
        if structured:
            try:
                value = json.loads(raw)
            except ValueError:
                errors.append(Invalid(f"can't parse {where} JSON object"))
            else:
                try:
                    self.check(value, structured, where)
                    return value
                except Invalid as exc:
                    errors.append(exc)
        if "String" in types or "InputFile" in types:
            return raw
        raise errors[-1] if structured else errors[0]


def _decode_scalar(raw: str, type_name: str, where: str) -> Any:
    text = raw.strip()
    if type_name == "Integer":
        # Like TDLib's to_integer: "0.5" is read as 0 (PTB sends fractional timeouts so).
        match = re.fullmatch(r"([-+]?\d+)(?:\.\d*)?", text)
        if match:
            return int(match.group(1))
    elif type_name == "Float":
        with contextlib.suppress(ValueError):
            number = float(text)
            if math.isfinite(number):
                return number
    elif type_name == "Boolean":
        lowered = text.lower()
        if lowered in ("true", "yes", "1"):
            return True
        if lowered in ("false", "no", "0"):
            return False
    raise Invalid(f"{where} must be of type {type_name}")


# ---------------------------------------------------------------------------------------------
# Formatted text, parsed like TDLib does
# ---------------------------------------------------------------------------------------------


class EntityParseError(ValueError):
    """The text could not be parsed in the requested parse_mode (TDLib's message)."""


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram entity offsets."""
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def _is_space(char: str) -> bool:
    return char in (" ", "\t", "\r", "\n", "\0", "\v")


def _checked_link(url: str) -> str | None:
    url = url.strip()
    if not url:
        return None
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", url):
        return url
    return "http://" + url


def _link_entity(offset: int, length: int, url: str) -> dict[str, Any] | None:
    match = re.fullmatch(r"tg://user\?id=(\d+)", url.strip())
    if match:
        user = {"id": int(match.group(1)), "is_bot": False, "first_name": ""}
        return {"type": "text_mention", "offset": offset, "length": length, "user": user}
    checked = _checked_link(url)
    if checked is None:
        return None
    return {"type": "text_link", "offset": offset, "length": length, "url": checked}


def _sorted_entities(entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(entities, key=lambda e: (e["offset"], -e["length"]))


_HTML_TAGS = frozenset({
    "a", "b", "strong", "i", "em", "s", "strike", "del", "u", "ins", "tg-spoiler", "tg-emoji",
    "span", "pre", "code", "blockquote",
})
_HTML_SIMPLE = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline",
    "ins": "underline", "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough",
    "tg-spoiler": "spoiler", "span": "spoiler",
}


def _decode_html_entity(text: str, pos: int) -> tuple[str | None, int]:
    """Decode ``&...;`` at ``pos`` like TDLib (the ``;`` is optional); None when unsupported."""

    def at(i: int) -> str:
        return text[i] if i < len(text) else "\0"

    end = pos + 1
    if at(pos + 1) == "#":
        end += 1
        code = 0
        if at(pos + 2) == "x":
            end += 1
            while at(end) in "0123456789abcdefABCDEF" and at(end) != "\0":
                code = code * 16 + int(at(end), 16)
                end += 1
                if code >= 0x10FFFF:
                    return None, pos
        else:
            while "0" <= at(end) <= "9":
                code = code * 10 + int(at(end))
                end += 1
                if code >= 0x10FFFF:
                    return None, pos
        if code == 0 or end - pos >= 10:
            return None, pos
        decoded = chr(code)
    else:
        while at(end).isascii() and at(end).isalpha():
            end += 1
        named = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}.get(text[pos + 1:end])
        if named is None:
            return None, pos
        decoded = named
    if at(end) == ";":
        end += 1
    return decoded, end


@dataclass
class _OpenTag:
    tag: str
    argument: str
    offset: int  # UTF-16 offset in the result
    start: int  # index in the result string
    extra: dict[str, str] = field(default_factory=dict)


def parse_html(text: str) -> tuple[str, list[dict[str, Any]]]:
    """Parse Bot API HTML into (plain text, entities); raises ``EntityParseError``."""
    n = len(text)

    def at(i: int) -> str:
        return text[i] if i < n else "\0"

    out: list[str] = []
    out_len = 0  # characters in ``out``
    u16 = 0
    entities: list[dict[str, Any]] = []
    stack: list[_OpenTag] = []
    i = 0
    while i < n:
        char = text[i]
        if char == "&":
            decoded, new_i = _decode_html_entity(text, i)
            if decoded is not None:
                if 0xD800 <= ord(decoded) <= 0xDFFF:
                    raise EntityParseError(
                        "Text contains invalid Unicode characters after decoding HTML "
                        "entities, check for unmatched surrogate code units"
                    )
                out.append(decoded)
                out_len += 1
                u16 += utf16_len(decoded)
                i = new_i
                continue
        if char != "<":
            out.append(char)
            out_len += 1
            u16 += utf16_len(char)
            i += 1
            continue

        begin = i
        i += 1
        if at(i) != "/":
            while not _is_space(at(i)) and at(i) != ">":
                i += 1
            if i >= n:
                raise EntityParseError(
                    f"Unclosed start tag at byte offset {_byte_offset(text, begin)}"
                )
            tag = text[begin + 1:i].lower()
            if tag not in _HTML_TAGS:
                raise EntityParseError(
                    f'Unsupported start tag "{tag}" at byte offset {_byte_offset(text, begin)}'
                )
            argument = ""
            extra: dict[str, str] = {}
            while at(i) != ">":
                while i < n and _is_space(at(i)):
                    i += 1
                if at(i) == ">":
                    break
                name_begin = i
                while not _is_space(at(i)) and at(i) not in "=>":
                    i += 1
                name = text[name_begin:i]
                if not name:
                    raise EntityParseError(
                        f'Empty attribute name in the tag "{tag}" at byte offset '
                        f"{_byte_offset(text, begin)}"
                    )
                while i < n and _is_space(at(i)):
                    i += 1
                if at(i) != "=":
                    if tag == "blockquote" and name == "expandable" and i < n:
                        extra["expandable"] = "1"
                        continue
                    raise EntityParseError(
                        f'Expected equal sign in declaration of an attribute of the tag "{tag}" '
                        f"at byte offset {_byte_offset(text, begin)}"
                    )
                i += 1
                while i < n and _is_space(at(i)):
                    i += 1
                if i >= n:
                    raise EntityParseError(
                        f'Unclosed start tag "{tag}" at byte offset {_byte_offset(text, begin)}'
                    )
                if at(i) not in ("'", '"'):
                    token_begin = i
                    while at(i).isascii() and (at(i).isalnum() or at(i) in ".-"):
                        i += 1
                    value = text[token_begin:i].lower()
                    if not _is_space(at(i)) and at(i) != ">":
                        raise EntityParseError(
                            "Unexpected end of name token at byte offset "
                            f"{_byte_offset(text, token_begin)}"
                        )
                else:
                    quote = at(i)
                    i += 1
                    parts: list[str] = []
                    while i < n and text[i] != quote:
                        if text[i] == "&":
                            decoded, new_i = _decode_html_entity(text, i)
                            if decoded is not None:
                                parts.append(decoded)
                                i = new_i
                                continue
                        parts.append(text[i])
                        i += 1
                    if i < n:
                        i += 1
                    value = "".join(parts)
                if i >= n:
                    raise EntityParseError(
                        f"Unclosed start tag at byte offset {_byte_offset(text, begin)}"
                    )
                if tag == "a" and name == "href":
                    argument = value
                elif tag == "code" and name == "class" and value.startswith("language-"):
                    argument = value[len("language-"):]
                elif tag == "span" and name == "class" and value.startswith("tg-"):
                    argument = value[3:]
                elif tag == "tg-emoji" and name == "emoji-id":
                    argument = value
            if tag == "span" and argument != "spoiler":
                raise EntityParseError(
                    'Tag "span" must have class "tg-spoiler" at byte offset '
                    f"{_byte_offset(text, begin)}"
                )
            stack.append(_OpenTag(tag, argument, u16, out_len, extra))
            i += 1  # the '>'
            continue

        # An end tag.
        if not stack:
            raise EntityParseError(f"Unexpected end tag at byte offset {_byte_offset(text, begin)}")
        while not _is_space(at(i)) and at(i) != ">":
            i += 1
        end_tag = text[begin + 2:i].lower()
        while i < n and _is_space(at(i)):
            i += 1
        if at(i) != ">":
            raise EntityParseError(f"Unclosed end tag at byte offset {_byte_offset(text, begin)}")
        top = stack[-1]
        if end_tag and end_tag != top.tag:
            raise EntityParseError(
                f"Unmatched end tag at byte offset {_byte_offset(text, begin)}, expected "
                f'"</{top.tag}>", found "</{end_tag}>"'
            )
        if u16 > top.offset:
            _close_html_entity(top, u16 - top.offset, "".join(out[top.start:]), entities)
        stack.pop()
        i += 1
    if stack:
        raise EntityParseError(
            f"Can't find end tag corresponding to start tag {stack[-1].tag}"
        )
    for entity in entities:
        if entity["type"] == "code":
            entity.pop("language", None)
    return "".join(out), _sorted_entities(entities)


def _close_html_entity(
    top: _OpenTag, length: int, inner: str, entities: list[dict[str, Any]]
) -> None:
    offset = top.offset
    tag = top.tag
    if tag in _HTML_SIMPLE:
        entities.append({"type": _HTML_SIMPLE[tag], "offset": offset, "length": length})
    elif tag == "tg-emoji":
        if not top.argument.isdigit() or int(top.argument) == 0:
            raise EntityParseError("Invalid custom emoji identifier specified")
        entities.append({"type": "custom_emoji", "offset": offset, "length": length,
                         "custom_emoji_id": top.argument})
    elif tag == "a":
        link = _link_entity(offset, length, top.argument or inner)
        if link is not None:
            entities.append(link)
    elif tag == "pre":
        last = entities[-1] if entities else None
        if (last is not None and last["type"] == "code" and last["offset"] == offset
                and last["length"] == length and last.get("language")):
            last["type"] = "pre"
        else:
            entities.append({"type": "pre", "offset": offset, "length": length})
    elif tag == "code":
        last = entities[-1] if entities else None
        if (last is not None and last["type"] == "pre" and last["offset"] == offset
                and last["length"] == length and top.argument):
            last["language"] = top.argument
        else:
            entity = {"type": "code", "offset": offset, "length": length}
            if top.argument:
                entity["language"] = top.argument  # dropped later unless it becomes a pre
            entities.append(entity)
    elif tag == "blockquote":
        kind = "expandable_blockquote" if top.extra.get("expandable") else "blockquote"
        entities.append({"type": kind, "offset": offset, "length": length})


_MDV2_ENTITY_TYPES = {
    "Bold": "bold", "Italic": "italic", "Underline": "underline",
    "Strikethrough": "strikethrough", "Spoiler": "spoiler", "Code": "code", "Pre": "pre",
    "PreCode": "pre", "BlockQuote": "blockquote",
}


@dataclass
class _OpenMarkdown:
    kind: str
    argument: str
    offset: int
    byte_offset: int
    start: int


def parse_markdown_v2(text: str) -> tuple[str, list[dict[str, Any]]]:
    """Parse MarkdownV2 into (plain text, entities); raises ``EntityParseError``."""
    n = len(text)

    def at(i: int) -> str:
        return text[i] if i < n else "\0"

    def reserved_error(char: str) -> EntityParseError:
        return EntityParseError(
            f"Character '{char}' is reserved and must be escaped with the preceding '\\'"
        )

    out: list[str] = []
    u16 = 0
    entities: list[dict[str, Any]] = []
    stack: list[_OpenMarkdown] = []
    have_blockquote = False
    i = 0
    while i < n:
        char = text[i]
        if char == "\\" and i + 1 < n and 0 < ord(text[i + 1]) <= 126:
            out.append(text[i + 1])
            u16 += 1
            i += 2
            continue
        reserved = "_*[]()~`>#+-=|{}.!\n"
        if stack and stack[-1].kind in ("Code", "Pre", "PreCode"):
            reserved = "`"
        if char not in reserved:
            out.append(char)
            u16 += utf16_len(char)
            i += 1
            continue

        is_end = False
        if stack:
            kind = stack[-1].kind
            if have_blockquote and char == "\n" and (i + 1 == n or text[i + 1] != ">"):
                is_end = True
            elif kind == "Bold":
                is_end = char == "*"
            elif kind == "Italic":
                is_end = char == "_" and at(i + 1) != "_"
            elif kind == "Code":
                is_end = char == "`"
            elif kind in ("Pre", "PreCode"):
                is_end = char == "`" and at(i + 1) == "`" and at(i + 2) == "`"
            elif kind in ("TextUrl", "CustomEmoji"):
                is_end = char == "]"
            elif kind == "Underline":
                is_end = char == "_" and at(i + 1) == "_"
            elif kind == "Strikethrough":
                is_end = char == "~"
            elif kind == "Spoiler":
                is_end = char == "|" and at(i + 1) == "|"

        if not is_end:
            begin_byte = _byte_offset(text, i)
            argument = ""
            new_kind: str | None
            if char == "_":
                if at(i + 1) == "_":
                    new_kind = "Underline"
                    i += 1
                else:
                    new_kind = "Italic"
            elif char == "*":
                new_kind = "Bold"
            elif char == "~":
                new_kind = "Strikethrough"
            elif char == "|":
                if at(i + 1) != "|":
                    raise reserved_error(char)
                i += 1
                new_kind = "Spoiler"
            elif char == "[":
                new_kind = "TextUrl"
            elif char == "`":
                if at(i + 1) == "`" and at(i + 2) == "`":
                    i += 3
                    new_kind = "Pre"
                    language_end = i
                    while not _is_space(at(language_end)) and at(language_end) != "`":
                        language_end += 1
                    if i != language_end and language_end < n and at(language_end) != "`":
                        new_kind = "PreCode"
                        argument = text[i:language_end]
                        i = language_end
                    if i < n and at(i) in "\n\r":
                        if at(i + 1) in "\n\r" and at(i + 1) != "\0" and at(i) != at(i + 1):
                            i += 2
                        else:
                            i += 1
                    i -= 1
                else:
                    new_kind = "Code"
            elif char == "!":
                if at(i + 1) != "[":
                    raise reserved_error(char)
                i += 1
                new_kind = "CustomEmoji"
            elif char == "\n":
                out.append("\n")
                u16 += 1
                new_kind = None
                if i + 1 < n and text[i + 1] == ">":
                    i += 1
                    if not have_blockquote:
                        new_kind = "BlockQuote"
                        have_blockquote = True
            elif char == ">":
                if i != 0:
                    raise reserved_error(char)
                new_kind = "BlockQuote"
                have_blockquote = True
            else:
                raise reserved_error(char)
            if new_kind is not None:
                stack.append(_OpenMarkdown(new_kind, argument, u16, begin_byte, len(out)))
            i += 1
            continue

        # The end of an entity.
        top = stack[-1]
        kind = top.kind
        if char == "\n" and kind != "BlockQuote":
            raise EntityParseError(
                f"Can't find end of {kind} entity at byte offset {top.byte_offset}"
            )
        skip = u16 == top.offset
        entity: dict[str, Any] | None = None
        if kind in ("Underline", "Spoiler"):
            i += 1
        elif kind in ("Pre", "PreCode"):
            i += 2
        elif kind == "TextUrl":
            if at(i + 1) != "(":
                url = "".join(out[top.start:])
            else:
                i += 2
                url_begin = i
                url_chars: list[str] = []
                while i < n and text[i] != ")":
                    if text[i] == "\\" and i + 1 < n and 0 < ord(text[i + 1]) <= 126:
                        url_chars.append(text[i + 1])
                        i += 2
                        continue
                    url_chars.append(text[i])
                    i += 1
                if at(i) != ")":
                    raise EntityParseError(
                        f"Can't find end of a URL at byte offset {_byte_offset(text, url_begin)}"
                    )
                url = "".join(url_chars)
            entity = _link_entity(top.offset, u16 - top.offset, url)
            skip = skip or entity is None
        elif kind == "CustomEmoji":
            if at(i + 1) != "(":
                raise EntityParseError("Custom emoji entity must contain a tg://emoji URL")
            i += 2
            url_begin = i
            while i < n and text[i] != ")":
                i += 1
            if at(i) != ")":
                raise EntityParseError(
                    "Can't find end of a custom emoji URL at byte offset "
                    f"{_byte_offset(text, url_begin)}"
                )
            match = re.fullmatch(r"tg://emoji\?id=(\d+)", text[url_begin:i])
            if match is None:
                raise EntityParseError("Custom emoji URL must have an emoji identifier")
            entity = {"type": "custom_emoji", "offset": top.offset,
                      "length": u16 - top.offset, "custom_emoji_id": match.group(1)}
        elif kind == "BlockQuote":
            have_blockquote = False
            out.append(char)
            u16 += 1
        if not skip:
            if entity is None:
                entity = {"type": _MDV2_ENTITY_TYPES[kind], "offset": top.offset,
                          "length": u16 - top.offset}
                if kind == "PreCode":
                    entity["language"] = top.argument
            entities.append(entity)
        stack.pop()
        i += 1
    if have_blockquote and stack and stack[-1].kind == "BlockQuote":
        top = stack.pop()
        if u16 != top.offset:
            entities.append({"type": "blockquote", "offset": top.offset,
                             "length": u16 - top.offset})
    if stack:
        top = stack[-1]
        raise EntityParseError(
            f"Can't find end of {top.kind} entity at byte offset {top.byte_offset}"
        )
    return "".join(out), _sorted_entities(entities)


def parse_markdown(text: str) -> tuple[str, list[dict[str, Any]]]:
    """Parse legacy Markdown into (plain text, entities); raises ``EntityParseError``."""
    n = len(text)

    def at(i: int) -> str:
        return text[i] if i < n else "\0"

    out: list[str] = []
    u16 = 0
    entities: list[dict[str, Any]] = []
    i = 0
    while i < n:
        char = text[i]
        if char == "\\" and at(i + 1) in ("_", "*", "`", "["):
            out.append(text[i + 1])
            u16 += 1
            i += 2
            continue
        if char not in "_*`[":
            out.append(char)
            u16 += utf16_len(char)
            i += 1
            continue
        begin = i
        end_char = "]" if char == "[" else char
        is_pre = False
        language = ""
        i += 1
        if char == "`" and at(i) == "`" and at(i + 1) == "`":
            i += 2
            is_pre = True
            language_end = i
            while not _is_space(at(language_end)) and at(language_end) != "`":
                language_end += 1
            if i != language_end and language_end < n and at(language_end) != "`":
                language = text[i:language_end]
                i = language_end
            if i < n and at(i) in "\n\r":
                if at(i + 1) in "\n\r" and at(i + 1) != "\0" and at(i) != at(i + 1):
                    i += 2
                else:
                    i += 1
        offset = u16
        start = len(out)
        while i < n and (text[i] != end_char
                         or (is_pre and not (at(i + 1) == "`" and at(i + 2) == "`"))):
            out.append(text[i])
            u16 += utf16_len(text[i])
            i += 1
        if i >= n:
            raise EntityParseError(
                "Can't find end of the entity starting at byte offset "
                f"{_byte_offset(text, begin)}"
            )
        if offset != u16:
            length = u16 - offset
            if char == "_":
                entities.append({"type": "italic", "offset": offset, "length": length})
            elif char == "*":
                entities.append({"type": "bold", "offset": offset, "length": length})
            elif char == "[":
                url = "".join(out[start:])
                if at(i + 1) == "(":
                    i += 2
                    url_chars: list[str] = []
                    while i < n and text[i] != ")":
                        url_chars.append(text[i])
                        i += 1
                    url = "".join(url_chars)
                link = _link_entity(offset, length, url)
                if link is not None:
                    entities.append(link)
            elif is_pre:
                entity: dict[str, Any] = {"type": "pre", "offset": offset, "length": length}
                if language:
                    entity["language"] = language
                entities.append(entity)
            else:
                entities.append({"type": "code", "offset": offset, "length": length})
        if is_pre:
            i += 2
        i += 1
    return "".join(out), _sorted_entities(entities)


_BOT_COMMAND = re.compile(r"(?<![\w/<>])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w/<>])")
_TRIMMED = " \t\r\n"


def bot_command_entities(text: str) -> list[dict[str, Any]]:
    """The bot_command entities Telegram detects in a message text."""
    return [
        {"type": "bot_command", "offset": utf16_len(text[:m.start()]),
         "length": utf16_len(m.group())}
        for m in _BOT_COMMAND.finditer(text)
    ]


def _trim(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Strip surrounding whitespace like Telegram does, keeping entities in place."""
    left = utf16_len(text[:len(text) - len(text.lstrip(_TRIMMED))])
    trimmed = text.strip(_TRIMMED)
    total = utf16_len(trimmed)
    result = []
    for entity in entities:
        start = max(0, entity["offset"] - left)
        end = min(total, entity["offset"] + entity["length"] - left)
        if end > start:
            result.append({**entity, "offset": start, "length": end - start})
    return trimmed, result


def format_text(
    text: str, parse_mode: str | None, entities: list[dict[str, Any]] | None = None
) -> tuple[str, list[dict[str, Any]]]:
    """Text and entities of a message as Telegram stores it; raises ``ApiError`` (400)."""
    mode = (parse_mode or "").lower()
    if text and mode and mode != "none":
        parser = {"html": parse_html, "markdownv2": parse_markdown_v2,
                  "markdown": parse_markdown}.get(mode)
        if parser is None:
            raise bad_request("unsupported parse_mode")
        try:
            plain, found = parser(text)
        except EntityParseError as exc:
            raise bad_request(f"can't parse entities: {exc}") from None
    else:
        plain, found = text, [dict(e) for e in entities or []]
    plain, found = _trim(plain, found)
    taken = [(e["offset"], e["offset"] + e["length"]) for e in found
             if e["type"] in ("code", "pre", "text_link", "text_mention", "custom_emoji")]
    for command in bot_command_entities(plain):
        start, end = command["offset"], command["offset"] + command["length"]
        if all(end <= a or start >= b for a, b in taken):
            found.append(command)
    return plain, _sorted_entities(found)


# ---------------------------------------------------------------------------------------------
# Requests, answers, records
# ---------------------------------------------------------------------------------------------


class ApiError(Exception):
    """An error answer of the Bot API."""

    def __init__(self, status: int, description: str,
                 parameters: dict[str, Any] | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": False, "error_code": self.status,
                                "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad_request(message: str) -> ApiError:
    return ApiError(400, f"Bad Request: {message}")


@dataclass
class Call:
    """One request the fake received, valid or not."""

    method: str
    params: dict[str, Any]
    files: dict[str, bytes]
    status: int
    result: Any = None
    description: str | None = None
    filenames: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == 200


@dataclass
class _Upload:
    filename: str
    content_type: str
    data: bytes


@dataclass
class _Reply:
    result: Any
    description: str | None = None


@dataclass
class _FileRecord:
    file_id: str
    file_unique_id: str
    kind: str  # "photo" or "document"
    data: bytes
    file_path: str
    file_name: str | None = None
    mime_type: str | None = None
    width: int = 0
    height: int = 0


def _header_param(header: str, key: str) -> str | None:
    match = re.search(r'(?:^|;)\s*' + re.escape(key) + r'\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)',
                      header, re.IGNORECASE)
    if match is None:
        return None
    value = match.group(1).strip()
    if value.startswith('"') and value.endswith('"') and len(value) >= 2:
        value = value[1:-1].replace("%22", '"').replace('\\"', '"').replace("\\\\", "\\")
    return value


def _parse_multipart(body: bytes, content_type: str) -> tuple[dict[str, str], dict[str, _Upload]]:
    boundary = _header_param(content_type, "boundary")
    if not boundary:
        raise bad_request("multipart boundary is missing")
    fields: dict[str, str] = {}
    uploads: dict[str, _Upload] = {}
    for part in body.split(b"--" + boundary.encode("latin-1"))[1:]:
        if part.startswith(b"--"):
            break
        if part.startswith(b"\r\n"):
            part = part[2:]
        if part.endswith(b"\r\n"):
            part = part[:-2]
        head, separator, data = part.partition(b"\r\n\r\n")
        if not separator:
            continue
        headers: dict[str, str] = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        disposition = headers.get("content-disposition", "")
        name = _header_param(disposition, "name")
        if name is None:
            continue
        filename = _header_param(disposition, "filename")
        extended = _header_param(disposition, "filename*")
        if extended is not None:
            filename = urllib.parse.unquote(extended.split("''", 1)[-1])
        if filename is not None:
            uploads[name] = _Upload(
                filename, headers.get("content-type", "application/octet-stream"), data
            )
        else:
            fields[name] = data.decode("utf-8", "replace")
    return fields, uploads


def _loose(value: Any) -> Any:
    """Best-effort JSON decoding of a raw parameter, for the record of an invalid request."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        with contextlib.suppress(ValueError):
            return json.loads(value)
    return value


def _attach_names(value: Any) -> set[str]:
    if isinstance(value, str):
        return {value[len("attach://"):]} if value.startswith("attach://") else set()
    if isinstance(value, dict):
        return set().union(*(_attach_names(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_attach_names(v) for v in value)) if value else set()
    return set()


def _update_kind(update: dict[str, Any]) -> str | None:
    for key in update:
        if key != "update_id":
            return key
    return None


def _image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of a PNG, GIF or JPEG image; None when unknown."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return int(width), int(height)
    if data[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                i += 1
                continue
            marker = data[i + 1]
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                height, width = struct.unpack(">HH", data[i + 5:i + 9])
                return int(width), int(height)
            (segment,) = struct.unpack(">H", data[i + 2:i + 4])
            i += 2 + segment
    return None


def _is_image(data: bytes) -> bool:
    return (data[:8] == b"\x89PNG\r\n\x1a\n" or data[:3] == b"\xff\xd8\xff"
            or data[:6] in (b"GIF87a", b"GIF89a") or data[:2] == b"BM"
            or (data[:4] == b"RIFF" and data[8:12] == b"WEBP"))


# ---------------------------------------------------------------------------------------------
# A uvicorn server in a thread
# ---------------------------------------------------------------------------------------------


class _PromptServer(uvicorn.Server):
    """A uvicorn server whose main loop notices an exit request at once (uvicorn polls every
    0.1 s, which adds up over a test suite)."""

    exit_requested: asyncio.Event | None = None

    async def main_loop(self) -> None:
        self.exit_requested = asyncio.Event()
        counter = 0
        should_exit = await self.on_tick(counter)
        while not should_exit:
            counter = (counter + 1) % 864000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.exit_requested.wait(), 0.1)
            should_exit = await self.on_tick(counter)

    def request_exit(self) -> None:
        """Ask the server to stop (runs in its event loop)."""
        self.should_exit = True
        if self.exit_requested is not None:
            self.exit_requested.set()


class BackgroundServer:
    """Serves an ASGI app with uvicorn on 127.0.0.1 (an OS-chosen port) in a thread that runs
    its own event loop. ``start`` returns once the server accepts connections."""

    def __init__(self, app: Any, *, name: str = "background-asgi") -> None:
        self.app = app
        self.name = name
        self.port = 0
        self.loop: asyncio.AbstractEventLoop | None = None
        self._server: _PromptServer | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 10.0) -> None:
        if self._thread is not None:
            raise RuntimeError(f"{self.name} is already started")
        # proto=IPPROTO_TCP makes asyncio set TCP_NODELAY on accepted connections; without it
        # every response waits ~40 ms for a delayed ACK (Nagle).
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, log_config=None, log_level="warning", lifespan="off",
                                access_log=False, timeout_graceful_shutdown=2)
        server = _PromptServer(config)
        self._server = server

        def run() -> None:
            loop = asyncio.new_event_loop()
            self.loop = loop
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(server.serve(sockets=[sock]))
            except BaseException as exc:  # reported by start()
                self._error = exc
            finally:
                with contextlib.suppress(Exception):
                    loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()
                sock.close()

        self._thread = threading.Thread(target=run, name=self.name, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not self._thread.is_alive():
                raise RuntimeError(f"{self.name} failed to start: {self._error!r}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not start within {timeout} s")
            time.sleep(0.005)

    def call_soon(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` in the server's event loop (from any thread)."""
        loop = self.loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(callback)

    def stop(self, timeout: float = 10.0) -> None:
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self.call_soon(self._server.request_exit)
        self._thread.join(timeout)
        self._server = None
        self._thread = None


# ---------------------------------------------------------------------------------------------
# The fake
# ---------------------------------------------------------------------------------------------


class FakeTelegram:
    """A fake Telegram Bot API server (see the module docstring)."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        strict_chats: bool = False,
        clock: Callable[[], float] = time.time,
        spec_path: str | None = None,
        privacy_mode: bool = False,
    ) -> None:
        if not re.fullmatch(r"\d+:[A-Za-z0-9_-]{30,}", token):
            raise ValueError(f"not a Telegram bot token: {token!r}")
        self.token = token
        # When True, sending to a chat no update ever mentioned fails like Telegram does
        # ("bot can't initiate conversation with a user" / "chat not found").
        self.strict_chats = strict_chats
        # BotFather's privacy mode: in groups the bot receives only commands and replies to its
        # own messages (getMe says so with can_read_all_group_messages). Off by default here,
        # as most tests type the secretariat's words in the group.
        self.privacy_mode = privacy_mode
        self.clock = clock
        self.spec = load_spec(spec_path)
        self.validator = SpecValidator(self.spec)
        self.bot_id = int(token.split(":", 1)[0])
        user_fields = self.spec.types["User"].fields or {}
        me = {
            "id": self.bot_id, "is_bot": True, "first_name": "服務品質小幫手",
            "username": "sqbot_test_bot", "can_join_groups": True,
            "can_read_all_group_messages": not privacy_mode, "supports_inline_queries": False,
            "can_connect_to_business": False, "has_main_web_app": False,
            "has_topics_enabled": False, "allows_users_to_create_topics": False,
        }
        self.bot_user: dict[str, Any] = {k: v for k, v in me.items() if k in user_fields}
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._server: BackgroundServer | None = None
        self._wake_event: asyncio.Event | None = None
        self._closing = False
        self._poll_generation = 0  # never reset: a stale long poll must not match a new one
        self._handlers: dict[str, Callable[[dict[str, Any], dict[str, _Upload]], Any]] = {
            "getme": self._api_get_me,
            "setwebhook": self._api_set_webhook,
            "deletewebhook": self._api_delete_webhook,
            "getwebhookinfo": self._api_get_webhook_info,
            "sendmessage": self._api_send_message,
            "editmessagetext": self._api_edit_message_text,
            "editmessagereplymarkup": self._api_edit_message_reply_markup,
            "deletemessage": self._api_delete_message,
            "answercallbackquery": self._api_answer_callback_query,
            "senddocument": self._api_send_document,
            "sendphoto": self._api_send_photo,
            "sendchataction": self._api_send_chat_action,
            "getfile": self._api_get_file,
            "setmycommands": self._api_set_my_commands,
            "getmycommands": self._api_get_my_commands,
            "deletemycommands": self._api_delete_my_commands,
            "setmydescription": self._api_set_my_description,
            "getmydescription": self._api_get_my_description,
            "setmyshortdescription": self._api_set_my_short_description,
            "getmyshortdescription": self._api_get_my_short_description,
            "setmyname": self._api_set_my_name,
            "getmyname": self._api_get_my_name,
            "setchatmenubutton": self._api_set_chat_menu_button,
            "getchatmenubutton": self._api_get_chat_menu_button,
            "close": self._api_true,
            "logout": self._api_true,
        }
        self.reset()

    # -- lifecycle -----------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget every call, update, message, file, webhook and setting (keeps the server)."""
        with self._lock:
            self.calls: list[Call] = []
            self.downloads: list[str] = []
            self.dropped_updates: list[dict[str, Any]] = []
            self.webhook_url: str | None = None
            self.webhook_secret: str | None = None
            self._webhook_options: dict[str, Any] = {}
            self._webhook_error: tuple[int, str] | None = None
            self._updates: list[dict[str, Any]] = []
            self._next_update_id = 1000
            self._allowed_updates: list[str] | None = None
            self._messages: dict[tuple[int, int], dict[str, Any]] = {}
            self._message_ids: dict[int, int] = {}
            self._chats: dict[int, dict[str, Any]] = {}
            self._users: dict[int, dict[str, Any]] = {}
            self._blocked: set[int] = set()
            self._removed: dict[int, str] = {}
            self._files: dict[str, _FileRecord] = {}
            self._files_by_path: dict[str, _FileRecord] = {}
            self._photo_sets: dict[str, list[dict[str, Any]]] = {}
            self._file_counter = 0
            self._callback_counter = 0
            self._open_callbacks: set[str] = set()
            self._failures: dict[str, collections.deque[tuple[str, int]]] = {}
            self._commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
            #: the menu button per private chat id ("" for the bot's default)
            self._menu_buttons: dict[str, dict[str, Any]] = {}
            self._texts: dict[tuple[str, str], str] = {}
            self._cond.notify_all()

    def start(self) -> None:
        """Serve on 127.0.0.1 (an OS-chosen port) in a background thread."""
        if self._server is not None:
            raise RuntimeError("FakeTelegram is already started")
        self._closing = False
        server = BackgroundServer(self._build_app(), name="fake-telegram")
        server.start()
        self._server = server

    def stop(self) -> None:
        server = self._server
        if server is None:
            return
        self._closing = True
        server.call_soon(self._wake)  # pending long polls answer at once
        server.stop()
        self._server = None
        self._wake_event = None

    def __enter__(self) -> FakeTelegram:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FakeTelegram is not started")
        return self._server.port

    @property
    def base_url(self) -> str:
        """python-telegram-bot's ``base_url`` (the token is appended by PTB)."""
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    def __repr__(self) -> str:
        where = f"port {self._server.port}" if self._server else "stopped"
        return f"<FakeTelegram {where}, {len(self.calls)} calls>"

    # -- inspection ----------------------------------------------------------------------------

    def calls_to(self, method: str) -> list[Call]:
        """Successful calls of ``method`` (case-insensitive), in order."""
        wanted = method.lower()
        with self._lock:
            return [c for c in self.calls if c.ok and c.method.lower() == wanted]

    def _chat_matches(self, message: Any, chat_id: int | str) -> bool:
        if not isinstance(message, dict) or not isinstance(message.get("chat"), dict):
            return False
        chat = message["chat"]
        if isinstance(chat_id, str):
            if chat_id.startswith("@"):
                return str(chat.get("username", "")).lower() == chat_id[1:].lower()
            if re.fullmatch(r"-?\d+", chat_id):
                chat_id = int(chat_id)
        return bool(chat.get("id") == chat_id)

    def sent_texts(self, chat_id: int | str) -> list[str]:
        """Texts of successful sendMessage/editMessageText calls to the chat, in order, as the
        user sees them (after entity parsing, e.g. HTML tags removed)."""
        with self._lock:
            return [
                c.result["text"] for c in self.calls
                if c.ok and c.method.lower() in ("sendmessage", "editmessagetext")
                and self._chat_matches(c.result, chat_id)
            ]

    def sent_messages(self, chat_id: int | str) -> list[dict[str, Any]]:
        """Messages the bot sent to the chat (any send* method), as returned at the time."""
        with self._lock:
            return [
                copy.deepcopy(c.result) for c in self.calls
                if c.ok and c.method.lower().startswith("send")
                and self._chat_matches(c.result, chat_id)
            ]

    def message(self, chat_id: int, message_id: int) -> dict[str, Any] | None:
        """The current state of a message (after edits), or None."""
        with self._lock:
            found = self._messages.get((chat_id, message_id))
            return copy.deepcopy(found) if found is not None else None

    def last_sent(self, chat_id: int) -> dict[str, Any] | None:
        """The current state of the last message the bot sent to the chat, or None."""
        with self._lock:
            found = self._last_bot_message(chat_id)
            return copy.deepcopy(found) if found is not None else None

    def pending_updates(self) -> list[dict[str, Any]]:
        """Updates not yet confirmed by the bot."""
        with self._lock:
            return copy.deepcopy(self._updates)

    def take_update(self, update_id: int) -> dict[str, Any]:
        """Remove pending update ``update_id`` and return it, for a test that delivers it to
        a webhook itself (at any address, and as often as it likes)."""
        with self._cond:
            for index, update in enumerate(self._updates):
                if update["update_id"] == update_id:
                    del self._updates[index]
                    return copy.deepcopy(update)
        raise LookupError(f"no pending update {update_id}")

    def file_content(self, file_id: str) -> bytes:
        with self._lock:
            return self._files[file_id].data

    def commands(self, scope: dict[str, Any] | None = None, language_code: str = "") -> list[
            dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._commands.get(self._commands_key(scope, language_code), []))

    def check_against_spec(self, value: Any, type_name: str) -> None:
        """Raise ``Invalid`` unless ``value`` is a valid ``type_name`` of the Bot API spec."""
        self.validator.check(value, [type_name], type_name)

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        """Block until ``predicate()`` holds (checked after every request); TimeoutError."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"condition not met within {timeout} s; {self!r}")
                self._cond.wait(remaining)

    def wait_for_calls(self, method: str, count: int = 1, timeout: float = 5.0) -> list[Call]:
        """Block until ``count`` successful calls of ``method`` were made; returns them all."""
        self.wait_for(lambda: len(self.calls_to(method)) >= count, timeout)
        return self.calls_to(method)

    async def await_calls(self, method: str, count: int = 1, timeout: float = 5.0) -> list[Call]:
        """Like ``wait_for_calls`` without blocking the event loop."""
        deadline = time.monotonic() + timeout
        while len(self.calls_to(method)) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"fewer than {count} {method} calls within {timeout} s")
            await asyncio.sleep(0.01)
        return self.calls_to(method)

    # -- failure injection ---------------------------------------------------------------------

    def fail_next(self, method: str, *, kind: str, times: int = 1, retry_after: int = 1) -> None:
        """Answer the next ``times`` calls of ``method`` with an error instead of doing anything.

        kind: "429" (flood control, ``retry_after`` seconds), "403" (bot blocked by the user),
        "400-chat" (chat not found) or "500" (internal server error).
        """
        if kind not in FAILURE_KINDS:
            raise ValueError(f"kind must be one of {FAILURE_KINDS}, not {kind!r}")
        spec = self.spec.method(method)
        if spec is None:
            raise ValueError(f"{method!r} is not a Bot API {self.spec.version} method")
        with self._lock:
            queue = self._failures.setdefault(spec.name.lower(), collections.deque())
            queue.extend([(kind, retry_after)] * times)

    def clear_failures(self) -> None:
        """Drop every failure ``fail_next`` arranged that has not been used up yet."""
        with self._lock:
            self._failures.clear()

    def _take_failure(self, method: str) -> ApiError | None:
        with self._lock:
            queue = self._failures.get(method.lower())
            if not queue:
                return None
            kind, retry_after = queue.popleft()
        if kind == "429":
            return ApiError(429, f"Too Many Requests: retry after {retry_after}",
                            {"retry_after": retry_after})
        if kind == "403":
            return ApiError(403, "Forbidden: bot was blocked by the user")
        if kind == "400-chat":
            return bad_request("chat not found")
        return ApiError(500, "Internal Server Error")

    # -- HTTP ----------------------------------------------------------------------------------

    def _build_app(self) -> Starlette:
        every = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]
        return Starlette(routes=[
            Route("/bot{token}/{method}", self._handle_api, methods=["GET", "POST"]),
            Route("/file/bot{token}/{file_path:path}", self._handle_file, methods=["GET"]),
            Route("/{rest:path}", self._handle_unknown, methods=every),
        ])

    async def _handle_unknown(self, request: Request) -> Response:
        return JSONResponse(ApiError(404, "Not Found").body(), status_code=404)

    async def _handle_file(self, request: Request) -> Response:
        if request.path_params["token"] != self.token:
            return JSONResponse(ApiError(401, "Unauthorized").body(), status_code=401)
        path = request.path_params["file_path"]
        with self._lock:
            record = self._files_by_path.get(path)
            if record is not None:
                self.downloads.append(path)
        if record is None:
            return JSONResponse(ApiError(404, "Not Found").body(), status_code=404)
        media_type = record.mime_type or ("image/jpeg" if record.kind == "photo"
                                          else "application/octet-stream")
        return Response(record.data, media_type=media_type)

    async def _read_request(
        self, request: Request
    ) -> tuple[dict[str, Any], dict[str, _Upload], bool]:
        raw: dict[str, Any] = dict(request.query_params)
        uploads: dict[str, _Upload] = {}
        body = await request.body()
        content_type = request.headers.get("content-type", "")
        main_type = content_type.split(";", 1)[0].strip().lower()
        from_json = False
        if main_type == "application/json":
            try:
                data = json.loads(body) if body.strip() else {}
            except ValueError:
                raise bad_request("can't parse JSON request body") from None
            if not isinstance(data, dict):
                raise bad_request("JSON request body must be an Object")
            raw.update(data)
            from_json = True
        elif main_type == "multipart/form-data":
            fields, uploads = _parse_multipart(body, content_type)
            raw.update(fields)
        elif body:
            try:
                raw.update(urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True))
            except UnicodeDecodeError:
                raise bad_request("request body must be UTF-8") from None
        return raw, uploads, from_json

    async def _handle_api(self, request: Request) -> Response:
        method_spec = self.spec.method(request.path_params["method"])
        name = method_spec.name if method_spec is not None else request.path_params["method"]
        params: dict[str, Any] = {}
        uploads: dict[str, _Upload] = {}
        try:
            raw, uploads, from_json = await self._read_request(request)
            params = {k: _loose(v) for k, v in raw.items()}
            if request.path_params["token"] != self.token:
                raise ApiError(401, "Unauthorized")
            if method_spec is None:
                raise ApiError(404, "Not Found")
            failure = self._take_failure(name)
            if failure is not None:
                with contextlib.suppress(ApiError):
                    params = self._validate(method_spec, raw, uploads, from_json)
                raise failure
            params = self._validate(method_spec, raw, uploads, from_json)
            if method_spec.name.lower() == "getupdates":
                reply = _Reply(await self._api_get_updates(params))
            else:
                handler = self._handlers.get(method_spec.name.lower())
                with self._lock:
                    if handler is None:
                        outcome = self._unimplemented(method_spec)
                    else:
                        outcome = handler(params, uploads)
                reply = outcome if isinstance(outcome, _Reply) else _Reply(outcome)
        except ApiError as exc:
            self._record(name, params, uploads, exc.status, None, exc.description)
            return JSONResponse(exc.body(), status_code=exc.status)
        self._record(name, params, uploads, 200, reply.result, reply.description)
        body: dict[str, Any] = {"ok": True, "result": reply.result}
        if reply.description:
            body["description"] = reply.description
        return JSONResponse(body)

    def _record(self, method: str, params: dict[str, Any], uploads: dict[str, _Upload],
                status: int, result: Any, description: str | None) -> None:
        call = Call(method, params, {k: u.data for k, u in uploads.items()}, status,
                    copy.deepcopy(result), description,
                    {k: u.filename for k, u in uploads.items()})
        with self._cond:
            self.calls.append(call)
            self._cond.notify_all()

    def _validate(self, spec: MethodSpec, raw: dict[str, Any], uploads: dict[str, _Upload],
                  from_json: bool) -> dict[str, Any]:
        params: dict[str, Any] = {}
        for key, value in raw.items():
            field_spec = spec.fields.get(key)
            if field_spec is None:
                raise bad_request(
                    f'unknown parameter "{key}" of {spec.name} (Bot API {self.spec.version}; '
                    "the real server would silently ignore it)"
                )
            if value is None or (value == "" and not field_spec.required):
                continue
            try:
                if isinstance(value, str):
                    params[key] = self.validator.decode(value, field_spec.types, key)
                elif from_json and isinstance(value, int | float):
                    # The real server turns top-level JSON values into strings first.
                    params[key] = self.validator.decode(json.dumps(value), field_spec.types, key)
                else:
                    self.validator.check(value, field_spec.types, key)
                    params[key] = value
            except Invalid as exc:
                raise bad_request(str(exc)) from None
        referenced = _attach_names(params)
        for key in uploads:
            field_spec = spec.fields.get(key)
            if key in referenced or (field_spec is not None and "InputFile" in field_spec.types):
                continue
            raise bad_request(f'unexpected file "{key}" for {spec.name}')
        for field_spec in spec.fields.values():
            if not field_spec.required or field_spec.name in params:
                continue
            if field_spec.name in uploads:
                continue
            if field_spec.name == "text":
                raise bad_request("message text is empty")
            if field_spec.name == "chat_id":
                raise bad_request("chat_id is empty")
            if "InputFile" in field_spec.types:
                raise bad_request(f"there is no {field_spec.name} in the request")
            raise bad_request(f'parameter "{field_spec.name}" is required')
        return params

    # -- long polling --------------------------------------------------------------------------

    def _wake(self) -> None:
        """Wake every pending getUpdates (runs in the server's event loop)."""
        event = self._wake_event
        self._wake_event = asyncio.Event()
        if event is not None:
            event.set()

    def _notify_pollers(self) -> None:
        if self._server is not None:
            self._server.call_soon(self._wake)

    def _allowed_kinds(self) -> set[str]:
        if self._allowed_updates:
            return set(self._allowed_updates)
        return set(self.spec.update_kinds()) - OPT_IN_UPDATES

    def _confirm(self, offset: int) -> None:
        if offset > 0:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        elif offset < 0:
            self._updates = self._updates[offset:]

    async def _api_get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        limit = params.get("limit", 100)
        limit = 100 if limit <= 0 or limit > 100 else limit
        timeout = max(0, params.get("timeout", 0))
        with self._lock:
            if self.webhook_url:
                raise ApiError(409, WEBHOOK_ACTIVE)
            if "allowed_updates" in params:
                self._allowed_updates = list(params["allowed_updates"])
            self._confirm(params.get("offset", 0))
            self._poll_generation += 1
            generation = self._poll_generation
        self._wake()  # an older long poll ends with 409, like on Telegram
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            with self._lock:
                if generation != self._poll_generation:
                    raise ApiError(409, POLL_TERMINATED)
                if self.webhook_url:
                    raise ApiError(409, WEBHOOK_ACTIVE)
                batch = copy.deepcopy(self._updates[:limit])
            if batch or self._closing:
                return batch
            remaining = deadline - loop.time()
            if remaining <= 0:
                return []
            if self._wake_event is None:
                self._wake_event = asyncio.Event()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake_event.wait(), remaining)

    # -- chats, users, messages ----------------------------------------------------------------

    def _now(self) -> int:
        return int(self.clock())

    def _bot_sender(self) -> dict[str, Any]:
        return {k: self.bot_user[k] for k in ("id", "is_bot", "first_name", "username")
                if k in self.bot_user}

    def _remember_user(self, user_id: int, first_name: str | None = None) -> dict[str, Any]:
        user = self._users.get(user_id)
        if user is None or (first_name is not None and user["first_name"] != first_name):
            user = {"id": user_id, "is_bot": False, "first_name": first_name or "測試",
                    "language_code": "zh-hant"}
            self._users[user_id] = user
        return copy.deepcopy(user)

    def _private_chat(self, user: dict[str, Any]) -> dict[str, Any]:
        chat = {"id": user["id"], "type": "private", "first_name": user["first_name"]}
        if user.get("username"):
            chat["username"] = user["username"]
        self._chats[user["id"]] = chat
        return copy.deepcopy(chat)

    def _group_chat(self, chat_id: int, title: str | None = None,
                    chat_type: str = "group") -> dict[str, Any]:
        if chat_id >= 0:
            raise ValueError(f"group chat ids are negative, not {chat_id}")
        known = self._chats.get(chat_id)
        if known is not None and title is None:
            return copy.deepcopy(known)
        chat = {"id": chat_id, "type": chat_type, "title": title or "秘書室群組"}
        self._chats[chat_id] = chat
        return copy.deepcopy(chat)

    def _chat(self, chat_id: int) -> dict[str, Any]:
        """The chat object for ``chat_id`` (made up, and remembered, when never seen)."""
        known = self._chats.get(chat_id)
        if known is not None:
            return copy.deepcopy(known)
        if chat_id > 0:
            return self._private_chat(self._remember_user(chat_id))
        chat_type = "supergroup" if str(chat_id).startswith("-100") else "group"
        return self._group_chat(chat_id, "秘書室群組", chat_type)

    def _resolve_chat_id(self, value: Any) -> int:
        if isinstance(value, int):
            return value
        text = str(value)
        if text.startswith("@"):
            for chat in self._chats.values():
                if str(chat.get("username", "")).lower() == text[1:].lower():
                    return int(chat["id"])
        raise bad_request("chat not found")

    def _check_can_send(self, chat_id: int) -> None:
        if chat_id == self.bot_id:
            raise ApiError(403, "Forbidden: bot can't send messages to bots")
        if chat_id in self._blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        removed = self._removed.get(chat_id)
        if removed is not None:
            chat_type = self._chats.get(chat_id, {}).get("type", "group")
            if removed == "kicked":
                raise ApiError(403, f"Forbidden: bot was kicked from the {chat_type} chat")
            raise ApiError(403, f"Forbidden: bot is not a member of the {chat_type} chat")
        if self.strict_chats and chat_id not in self._chats:
            if chat_id > 0:
                raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
            raise bad_request("chat not found")

    def _store_message(self, chat: dict[str, Any], sender: dict[str, Any],
                       content: dict[str, Any]) -> dict[str, Any]:
        chat_id = int(chat["id"])
        message_id = self._message_ids.get(chat_id, 0) + 1
        self._message_ids[chat_id] = message_id
        message = {"message_id": message_id, "from": sender, "chat": chat, "date": self._now()}
        message.update(content)
        self._messages[(chat_id, message_id)] = message
        return copy.deepcopy(message)

    def _last_bot_message(self, chat_id: int) -> dict[str, Any] | None:
        for (cid, _), message in reversed(self._messages.items()):
            if cid == chat_id and message.get("from", {}).get("id") == self.bot_id:
                return message
        return None

    def _last_user_text(self, chat_id: int, user_id: int) -> dict[str, Any] | None:
        for (cid, _), message in reversed(self._messages.items()):
            if (cid == chat_id and message.get("from", {}).get("id") == user_id
                    and "text" in message):
                return message
        return None

    # -- files ---------------------------------------------------------------------------------

    def _fake_id(self, prefix: str, number: int, length: int) -> str:
        digest = hashlib.sha256(f"{self.token}:{prefix}:{number}".encode()).digest() * 2
        return (prefix + base64.urlsafe_b64encode(digest).decode().rstrip("="))[:length]

    def _register_file(self, kind: str, data: bytes, *, file_name: str | None = None,
                       mime_type: str | None = None, width: int = 0,
                       height: int = 0) -> _FileRecord:
        self._file_counter += 1
        number = self._file_counter
        if kind == "photo":
            path = f"photos/file_{number}.jpg"
            file_id = self._fake_id("AgACAgUAAxkBAAI", number, 84)
            unique_id = self._fake_id("AQAD", number, 16)
        else:
            suffix = Path(file_name or "").suffix
            path = f"documents/file_{number}{suffix}"
            file_id = self._fake_id("BQACAgUAAxkBAAI", number, 72)
            unique_id = self._fake_id("AgAD", number, 15)
        record = _FileRecord(file_id, unique_id, kind, data, path, file_name, mime_type,
                             width, height)
        self._files[file_id] = record
        self._files_by_path[path] = record
        return record

    def _photo_sizes(self, data: bytes) -> list[dict[str, Any]]:
        """Three PhotoSize entries of increasing size; only the largest holds ``data``."""
        width, height = _image_size(data) or (1280, 960)
        sizes: list[dict[str, Any]] = []
        for side, part in ((90, len(data) // 4), (320, len(data) // 2), (1280, len(data))):
            scale = min(1.0, side / max(width, height, 1))
            record = self._register_file(
                "photo", data[:part], width=max(1, round(width * scale)),
                height=max(1, round(height * scale)),
            )
            sizes.append({"file_id": record.file_id, "file_unique_id": record.file_unique_id,
                          "file_size": len(record.data), "width": record.width,
                          "height": record.height})
        for size in sizes:
            self._photo_sets[size["file_id"]] = sizes
        return copy.deepcopy(sizes)

    def _document(self, record: _FileRecord) -> dict[str, Any]:
        document: dict[str, Any] = {"file_id": record.file_id,
                                    "file_unique_id": record.file_unique_id}
        if record.file_name:
            document["file_name"] = record.file_name
        if record.mime_type:
            document["mime_type"] = record.mime_type
        document["file_size"] = len(record.data)
        return document

    def _input_file(self, name: str, params: dict[str, Any],
                    uploads: dict[str, _Upload]) -> _Upload | str:
        if name in uploads:
            return uploads[name]
        value = params.get(name)
        if isinstance(value, str) and value.startswith("attach://"):
            upload = uploads.get(value[len("attach://"):])
            if upload is None:
                raise bad_request(f"there is no {name} in the request")
            return upload
        if not isinstance(value, str) or not value:
            raise bad_request(f"there is no {name} in the request")
        return value

    @staticmethod
    def _check_upload(upload: _Upload) -> None:
        if not upload.data:
            raise bad_request("file must be non-empty")
        if len(upload.data) > UPLOAD_LIMIT:
            raise ApiError(413, "Request Entity Too Large")

    # -- validation helpers --------------------------------------------------------------------

    @staticmethod
    def _check_inline_keyboard(markup: dict[str, Any]) -> None:
        rows = markup["inline_keyboard"]
        if any(len(row) > BUTTONS_PER_ROW_LIMIT for row in rows) or sum(
                len(row) for row in rows) > BUTTONS_LIMIT:
            raise bad_request("reply markup is too long")
        for row in rows:
            for button in row:
                actions = [
                    key for key, value in button.items()
                    if key not in ("text", "icon_custom_emoji_id", "style") and value is not None
                    and not (key in ("url", "callback_data") and value == "")
                ]
                if not actions:
                    raise bad_request("can't parse inline keyboard button: Text buttons are "
                                      "unallowed in the inline keyboard")
                if len(actions) > 1:
                    raise bad_request("can't parse inline keyboard button: exactly one of "
                                      f"{', '.join(actions)} may be used")
                if not button["text"]:
                    raise bad_request("BUTTON_TEXT_INVALID")
                data = button.get("callback_data")
                if data and len(data.encode("utf-8")) > CALLBACK_DATA_LIMIT:
                    raise bad_request("BUTTON_DATA_INVALID")
                style = button.get("style")
                if style is not None and style not in ("danger", "success", "primary"):
                    raise bad_request("BUTTON_STYLE_INVALID")

    def _inline_markup(self, markup: dict[str, Any] | None) -> dict[str, Any] | None:
        """Check a reply_markup; returns it when it is an inline keyboard (echoed in Message)."""
        if markup is None or "inline_keyboard" not in markup:
            return None
        self._check_inline_keyboard(markup)
        return copy.deepcopy(markup)

    def _format(self, text: str, parse_mode: str | None, entities: Any,
                *, caption: bool = False) -> tuple[str, list[dict[str, Any]]]:
        if not text and not caption:
            raise bad_request("message text is empty")
        plain, found = format_text(text, parse_mode, entities)
        if caption:
            if utf16_len(plain) > CAPTION_LIMIT:
                raise bad_request("message caption is too long")
        else:
            if not plain:
                raise bad_request("message text is empty")
            if utf16_len(plain) > TEXT_LIMIT:
                raise bad_request("message is too long")
        return plain, found

    def _reply_to(self, chat_id: int, reply: dict[str, Any] | None) -> dict[str, Any] | None:
        if not reply:
            return None
        target_chat = chat_id
        if reply.get("chat_id") is not None:
            target_chat = self._resolve_chat_id(reply["chat_id"])
        found = self._messages.get((target_chat, reply["message_id"]))
        if found is None:
            if reply.get("allow_sending_without_reply"):
                return None
            raise bad_request("message to be replied not found")
        replied = copy.deepcopy(found)
        replied.pop("reply_to_message", None)
        return replied

    def _send(self, chat_id: int, content: dict[str, Any], params: dict[str, Any],
              markup: dict[str, Any] | None) -> dict[str, Any]:
        reply = self._reply_to(chat_id, params.get("reply_parameters"))
        self._check_can_send(chat_id)
        if reply is not None:
            content = {"reply_to_message": reply, **content}
        if markup is not None:
            content["reply_markup"] = markup
        return self._store_message(self._chat(chat_id), self._bot_sender(), content)

    # -- methods -------------------------------------------------------------------------------

    def _api_true(self, params: dict[str, Any], uploads: dict[str, _Upload]) -> bool:
        return True

    @staticmethod
    def _unimplemented(spec: MethodSpec) -> Any:
        """Methods the fake does not model: validated, then True when that is all they
        return, else 501 (python-telegram-bot raises NetworkError)."""
        if spec.returns == ("Boolean",):
            return True
        raise ApiError(501, f"Not Implemented: the fake Bot API does not implement {spec.name}")

    def _api_get_me(self, params: dict[str, Any], uploads: dict[str, _Upload]) -> Any:
        return copy.deepcopy(self.bot_user)

    def _api_send_message(self, params: dict[str, Any], uploads: dict[str, _Upload]) -> Any:
        text, entities = self._format(params["text"], params.get("parse_mode"),
                                      params.get("entities"))
        markup = self._inline_markup(params.get("reply_markup"))
        chat_id = self._resolve_chat_id(params["chat_id"])
        content: dict[str, Any] = {"text": text}
        if entities:
            content["entities"] = entities
        return self._send(chat_id, content, params, markup)

    def _edit_target(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("inline_message_id"):
            raise bad_request("message to edit not found")
        if "chat_id" not in params:
            raise bad_request("chat_id is empty")
        if "message_id" not in params:
            raise bad_request("message identifier is not specified")
        chat_id = self._resolve_chat_id(params["chat_id"])
        message = self._messages.get((chat_id, params["message_id"]))
        if message is None:
            raise bad_request("message to edit not found")
        if message.get("from", {}).get("id") != self.bot_id:
            raise bad_request("message can't be edited")
        self._check_can_send(chat_id)
        return message

    def _api_edit_message_text(self, params: dict[str, Any], uploads: dict[str, _Upload]) -> Any:
        text, entities = self._format(params.get("text", ""), params.get("parse_mode"),
                                      params.get("entities"))
        markup = self._inline_markup(params.get("reply_markup"))
        message = self._edit_target(params)
        if "text" not in message:
            raise bad_request("there is no text in the message to edit")
        if (message["text"] == text and message.get("entities", []) == entities
                and message.get("reply_markup") == markup):
            raise bad_request(NOT_MODIFIED)
        message["text"] = text
        message.pop("entities", None)
        if entities:
            message["entities"] = entities
        message.pop("reply_markup", None)  # editing without reply_markup removes the keyboard
        if markup is not None:
            message["reply_markup"] = markup
        message["edit_date"] = self._now()
        return copy.deepcopy(message)

    def _api_edit_message_reply_markup(self, params: dict[str, Any],
                                       uploads: dict[str, _Upload]) -> Any:
        markup = self._inline_markup(params.get("reply_markup"))
        message = self._edit_target(params)
        if message.get("reply_markup") == markup:
            raise bad_request(NOT_MODIFIED)
        message.pop("reply_markup", None)
        if markup is not None:
            message["reply_markup"] = markup
        message["edit_date"] = self._now()
        return copy.deepcopy(message)

    def _api_delete_message(self, params: dict[str, Any], uploads: dict[str, _Upload]) -> Any:
        chat_id = self._resolve_chat_id(params["chat_id"])
        if self._messages.pop((chat_id, params["message_id"]), None) is None:
            raise bad_request("message to delete not found")
        return True

    def _api_answer_callback_query(self, params: dict[str, Any],
                                   uploads: dict[str, _Upload]) -> Any:
        if len(params.get("text", "")) > CALLBACK_ANSWER_LIMIT:
            raise bad_request("MESSAGE_TOO_LONG")
        query_id = params["callback_query_id"]
        if query_id not in self._open_callbacks:
            raise bad_request(CALLBACK_EXPIRED)
        self._open_callbacks.discard(query_id)
        return True

    def _api_send_photo(self, params: dict[str, Any], uploads: dict[str, _Upload]) -> Any:
        caption, entities = self._format(params.get("caption", ""), params.get("parse_mode"),
                                         params.get("caption_entities"), caption=True)
        markup = self._inline_markup(params.get("reply_markup"))
        chat_id = self._resolve_chat_id(params["chat_id"])
        source = self._input_file("photo", params, uploads)
        if isinstance(source, _Upload):
            self._check_upload(source)
            if not _is_image(source.data):
                raise bad_request("IMAGE_PROCESS_FAILED")
            self._check_can_send(chat_id)
            sizes = self._photo_sizes(source.data)
        elif source in self._photo_sets:
            sizes = copy.deepcopy(self._photo_sets[source])
        elif source in self._files:
            raise bad_request("can't use file of type Document as Photo")
        elif re.match(r"https?://", source):
            self._check_can_send(chat_id)
            sizes = self._photo_sizes(b"")
        else:
            raise bad_request("wrong file identifier/HTTP URL specified")
        content: dict[str, Any] = {"photo": sizes}
        if caption:
            content["caption"] = caption
        if entities:
            content["caption_entities"] = entities
        return self._send(chat_id, content, params, markup)

    def _api_send_document(self, params: dict[str, Any], uploads: dict[str, _Upload]) -> Any:
        caption, entities = self._format(params.get("caption", ""), params.get("parse_mode"),
                                         params.get("caption_entities"), caption=True)
        markup = self._inline_markup(params.get("reply_markup"))
        chat_id = self._resolve_chat_id(params["chat_id"])
        source = self._input_file("document", params, uploads)
        if isinstance(source, _Upload):
            self._check_upload(source)
            self._check_can_send(chat_id)
            mime_type = mimetypes.guess_type(source.filename)[0] or source.content_type
            record = self._register_file("document", source.data, file_name=source.filename,
                                         mime_type=mime_type or "application/octet-stream")
        elif source in self._files:
            record = self._files[source]
            if record.kind != "document":
                raise bad_request("can't use file of type Photo as Document")
        elif re.match(r"https?://", source):
            self._check_can_send(chat_id)
            name = Path(urllib.parse.urlsplit(source).path).name or "file"
            record = self._register_file("document", b"", file_name=name,
                                         mime_type=mimetypes.guess_type(name)[0])
        else:
            raise bad_request("wrong file identifier/HTTP URL specified")
        content: dict[str, Any] = {"document": self._document(record)}
        if caption:
            content["caption"] = caption
        if entities:
            content["caption_entities"] = entities
        return self._send(chat_id, content, params, markup)

    def _api_send_chat_action(self, params: dict[str, Any], uploads: dict[str, _Upload]) -> Any:
        if params["action"] not in CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        chat_id = self._resolve_chat_id(params["chat_id"])
        self._check_can_send(chat_id)
        return True

    def _api_get_file(self, params: dict[str, Any], uploads: dict[str, _Upload]) -> Any:
        record = self._files.get(params["file_id"])
        if record is None:
            raise bad_request("invalid file_id")
        if len(record.data) > GET_FILE_LIMIT:
            raise bad_request("file is too big")
        return {"file_id": record.file_id, "file_unique_id": record.file_unique_id,
                "file_size": len(record.data), "file_path": record.file_path}

    @staticmethod
    def _commands_key(scope: dict[str, Any] | None, language_code: str | None) -> tuple[str, str]:
        scope = scope or {"type": "default"}
        return json.dumps(scope, sort_keys=True), language_code or ""

    @staticmethod
    def _check_language(params: dict[str, Any]) -> None:
        code = params.get("language_code", "")
        if code and not re.fullmatch(r"[a-z]{2}", code):
            raise bad_request("invalid language code specified")

    def _api_set_my_commands(self, params: dict[str, Any], uploads: dict[str, _Upload]) -> Any:
        commands = params["commands"]
        if len(commands) > COMMANDS_LIMIT:
            raise bad_request("BOT_COMMANDS_TOO_MUCH")
        for command in commands:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", command["command"]):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(command["description"]) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        self._check_language(params)
        key = self._commands_key(params.get("scope"), params.get("language_code"))
        if commands:
            self._commands[key] = copy.deepcopy(commands)
        else:
            self._commands.pop(key, None)
        return True

    def _api_get_my_commands(self, params: dict[str, Any], uploads: dict[str, _Upload]) -> Any:
        self._check_language(params)
        key = self._commands_key(params.get("scope"), params.get("language_code"))
        return copy.deepcopy(self._commands.get(key, []))

    def _api_delete_my_commands(self, params: dict[str, Any],
                                uploads: dict[str, _Upload]) -> Any:
        self._check_language(params)
        self._commands.pop(self._commands_key(params.get("scope"),
                                              params.get("language_code")), None)
        return True

    def _set_text(self, kind: str, params: dict[str, Any], name: str, limit: int) -> bool:
        self._check_language(params)
        value = params.get(name, "")
        if len(value) > limit:
            raise bad_request(f"bot {kind.replace('_', ' ')} is too long")
        key = (kind, params.get("language_code", ""))
        if value:
            self._texts[key] = value
        else:
            self._texts.pop(key, None)
        return True

    def _get_text(self, kind: str, params: dict[str, Any]) -> str:
        self._check_language(params)
        code = params.get("language_code", "")
        return self._texts.get((kind, code), self._texts.get((kind, ""), ""))

    def _api_set_my_description(self, params: dict[str, Any],
                                uploads: dict[str, _Upload]) -> Any:
        return self._set_text("description", params, "description", 512)

    def _api_get_my_description(self, params: dict[str, Any],
                                uploads: dict[str, _Upload]) -> Any:
        return {"description": self._get_text("description", params)}

    def _api_set_my_short_description(self, params: dict[str, Any],
                                      uploads: dict[str, _Upload]) -> Any:
        return self._set_text("short_description", params, "short_description", 120)

    def _api_get_my_short_description(self, params: dict[str, Any],
                                      uploads: dict[str, _Upload]) -> Any:
        return {"short_description": self._get_text("short_description", params)}

    def _api_set_my_name(self, params: dict[str, Any], uploads: dict[str, _Upload]) -> Any:
        return self._set_text("name", params, "name", 64)

    def _api_get_my_name(self, params: dict[str, Any], uploads: dict[str, _Upload]) -> Any:
        return {"name": self._get_text("name", params) or self.bot_user["first_name"]}

    def _api_set_chat_menu_button(self, params: dict[str, Any],
                                  uploads: dict[str, _Upload]) -> Any:
        button = params.get("menu_button") or {"type": "default"}
        kind = button.get("type")
        if kind not in ("commands", "web_app", "default"):
            raise bad_request("can't parse menu button: unsupported type")
        if kind == "web_app":
            url = (button.get("web_app") or {}).get("url", "")
            if not str(url).startswith("https://"):
                raise bad_request("BUTTON_URL_INVALID")
            if not 1 <= len(button.get("text", "")) <= 64:
                raise bad_request("BUTTON_TEXT_INVALID")
        chat = str(params.get("chat_id", ""))
        if chat.startswith("-"):
            raise bad_request("chat not found")  # only private chats have a menu button
        self._menu_buttons[chat] = copy.deepcopy(button)
        return True

    def _api_get_chat_menu_button(self, params: dict[str, Any],
                                  uploads: dict[str, _Upload]) -> Any:
        chat = str(params.get("chat_id", ""))
        return copy.deepcopy(self._menu_buttons.get(chat) or self._menu_buttons.get("")
                             or {"type": "commands"})

    def menu_button(self, chat_id: int | str | None = None) -> dict[str, Any] | None:
        """The menu button set for a private chat (None: the bot's default), if any."""
        with self._lock:
            return copy.deepcopy(self._menu_buttons.get("" if chat_id is None else str(chat_id)))

    # -- webhooks ------------------------------------------------------------------------------

    @staticmethod
    def _check_webhook_url(url: str) -> None:
        parts = urllib.parse.urlsplit(url)
        loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
        if parts.scheme == "http" and loopback:
            return  # not allowed by Telegram; accepted so tests can receive webhooks
        if parts.scheme != "https" or not parts.hostname:
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        if not loopback and (parts.port or 443) not in (80, 88, 443, 8443):
            raise bad_request(
                "bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443"
            )

    def _api_set_webhook(self, params: dict[str, Any], uploads: dict[str, _Upload]) -> Any:
        url = params["url"]
        if not url:
            return self._api_delete_webhook(params, uploads)
        self._check_webhook_url(url)
        secret = params.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise bad_request("bad webhook: secret token contains unallowed characters")
        connections = params.get("max_connections", 40)
        if not 1 <= connections <= 100:
            raise bad_request("bad webhook: max_connections must be between 1 and 100")
        already = url == self.webhook_url and secret == self.webhook_secret
        self.webhook_url = url
        self.webhook_secret = secret
        self._webhook_options = {"max_connections": connections}
        if params.get("ip_address"):
            self._webhook_options["ip_address"] = params["ip_address"]
        if "allowed_updates" in params:
            self._allowed_updates = list(params["allowed_updates"])
        if params.get("drop_pending_updates"):
            self._updates = []
        self._webhook_error = None
        self._notify_pollers()
        return _Reply(True, "Webhook is already set" if already else "Webhook was set")

    def _api_delete_webhook(self, params: dict[str, Any], uploads: dict[str, _Upload]) -> Any:
        had = self.webhook_url is not None
        self.webhook_url = None
        self.webhook_secret = None
        self._webhook_options = {}
        self._webhook_error = None
        if params.get("drop_pending_updates"):
            self._updates = []
        return _Reply(True, "Webhook was deleted" if had else "Webhook is already deleted")

    def _api_get_webhook_info(self, params: dict[str, Any], uploads: dict[str, _Upload]) -> Any:
        info: dict[str, Any] = {"url": self.webhook_url or "", "has_custom_certificate": False,
                                "pending_update_count": len(self._updates)}
        if self.webhook_url:
            info.update(self._webhook_options)
            if self._allowed_updates:
                info["allowed_updates"] = list(self._allowed_updates)
            if self._webhook_error is not None:
                info["last_error_date"], info["last_error_message"] = self._webhook_error
        return info

    def _webhook_delivery(self, update_id: int | None) -> tuple[str, dict[str, str], bytes, int]:
        with self._lock:
            if not self.webhook_url:
                raise RuntimeError("no webhook is set (call setWebhook first)")
            if update_id is None:
                if not self._updates:
                    raise LookupError("no pending update to deliver")
                update = self._updates[0]
            else:
                matching = [u for u in self._updates if u["update_id"] == update_id]
                if not matching:
                    raise LookupError(f"update {update_id} is not pending")
                update = matching[0]
            headers = {"Content-Type": "application/json"}
            if self.webhook_secret:
                headers["X-Telegram-Bot-Api-Secret-Token"] = self.webhook_secret
            body = json.dumps(update, ensure_ascii=False).encode("utf-8")
            return self.webhook_url, headers, body, int(update["update_id"])

    def _webhook_delivered(self, update_id: int, status: int | None, error: str = "") -> None:
        with self._cond:
            if status is not None and 200 <= status <= 299:
                self._updates = [u for u in self._updates if u["update_id"] != update_id]
                self._webhook_error = None
            else:
                message = error or f"Wrong response from the webhook: {status}"
                self._webhook_error = (self._now(), message)
            self._cond.notify_all()

    def deliver_webhook(self, update_id: int | None = None) -> httpx.Response:
        """POST the oldest pending update (or ``update_id``) to the webhook, like Telegram: JSON
        body, ``X-Telegram-Bot-Api-Secret-Token`` header when a secret is set. A 2xx answer
        confirms the update. Blocking: in async tests use ``adeliver_webhook``."""
        url, headers, body, uid = self._webhook_delivery(update_id)
        try:
            with httpx.Client(timeout=10.0) as client:
                response = client.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            self._webhook_delivered(uid, None, f"Connection failed: {exc}")
            raise
        self._webhook_delivered(uid, response.status_code)
        return response

    async def adeliver_webhook(self, update_id: int | None = None) -> httpx.Response:
        """``deliver_webhook`` for async tests."""
        url, headers, body, uid = self._webhook_delivery(update_id)
        try:
            async with httpx.AsyncClient(timeout=10.0) as client:
                response = await client.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            self._webhook_delivered(uid, None, f"Connection failed: {exc}")
            raise
        self._webhook_delivered(uid, response.status_code)
        return response

    # -- updates -------------------------------------------------------------------------------

    def _register_update(self, update: dict[str, Any]) -> None:
        """Remember the chats, users, messages and callback queries an update mentions."""
        for key, value in update.items():
            if not isinstance(value, dict):
                continue
            if key == "callback_query":
                if isinstance(value.get("id"), str):
                    self._open_callbacks.add(value["id"])
                value = value.get("message") or {}
            chat = value.get("chat")
            if isinstance(chat, dict) and isinstance(chat.get("id"), int):
                self._chats.setdefault(chat["id"], copy.deepcopy(chat))
                message_id = value.get("message_id")
                if isinstance(message_id, int) and "date" in value and value["date"]:
                    self._messages[(chat["id"], message_id)] = copy.deepcopy(value)
                    self._message_ids[chat["id"]] = max(
                        self._message_ids.get(chat["id"], 0), message_id)
            sender = value.get("from")
            if isinstance(sender, dict) and isinstance(sender.get("id"), int) and not sender.get(
                    "is_bot"):
                self._users.setdefault(sender["id"], copy.deepcopy(sender))

    def _enqueue(self, update: dict[str, Any], update_id: int | None = None) -> int:
        with self._cond:
            if update_id is None:
                update_id = self._next_update_id
            self._next_update_id = max(self._next_update_id, update_id + 1)
            update = {"update_id": update_id, **update}
            with contextlib.suppress(Exception):
                self._register_update(update)
            kind = _update_kind(update)
            if kind is not None and kind in self.spec.update_kinds() and (
                    kind not in self._allowed_kinds()):
                self.dropped_updates.append(update)  # Telegram never queues unwanted kinds
            else:
                self._updates.append(update)
            self._cond.notify_all()
        self._notify_pollers()
        return update_id

    def push_update(self, update: dict[str, Any]) -> int:
        """Queue a raw Update (without ``update_id``: it is assigned and returned)."""
        if "update_id" in update:
            raise ValueError("push_update assigns update_id; use raw_update to choose one")
        return self._enqueue(copy.deepcopy(update))

    def raw_update(self, update: dict[str, Any]) -> int:
        """Queue an update of any shape; keeps its ``update_id`` when it has an integer one."""
        update = copy.deepcopy(update)
        given = update.pop("update_id", None)
        return self._enqueue(update, given if isinstance(given, int) else None)

    @staticmethod
    def _text_content(text: str, key: str = "text") -> dict[str, Any]:
        content: dict[str, Any] = {key: text}
        commands = bot_command_entities(text)
        if commands:
            content["entities" if key == "text" else "caption_entities"] = commands
        return content

    def _user_chat(self, user: dict[str, Any], chat_id: int | None) -> dict[str, Any]:
        if chat_id is None or chat_id == user["id"]:
            return self._private_chat(user)
        if chat_id > 0:
            raise ValueError("a private chat's id is the user's id")
        return self._chat(chat_id)

    def user_text(self, user_id: int, text: str, *, first_name: str = "測試",
                  chat_id: int | None = None) -> int:
        """A text message from a user, in the private chat (or in ``chat_id``)."""
        with self._lock:
            user = self._remember_user(user_id, first_name)
            message = self._store_message(self._user_chat(user, chat_id), user,
                                     self._text_content(text))
            return self.push_update({"message": message})

    def group_text(self, chat_id: int, user_id: int, text: str, *, title: str = "秘書室群組",
                   first_name: str | None = None, chat_type: str = "group") -> int:
        """A text message from a user in a group chat (negative ``chat_id``). Under privacy
        mode a message that is not a command is kept in the group but reaches no bot: no
        update, and -1 is returned."""
        with self._lock:
            user = self._remember_user(user_id, first_name)
            chat = self._group_chat(chat_id, title, chat_type)
            message = self._store_message(chat, user, self._text_content(text))
            if self.privacy_mode and not text.startswith("/"):
                return -1
            return self.push_update({"message": message})

    def callback(self, user_id: int, data: str, *, message_id: int | None = None,
                 chat_id: int | None = None, verify_button: bool = True) -> int:
        """A user presses an inline button carrying ``data`` on a message the bot sent (by
        default the last one the bot sent to the chat). Unless ``verify_button`` is False, the
        message must show a button with that callback_data, as in a real client."""
        with self._lock:
            user = self._remember_user(user_id)
            target = chat_id if chat_id is not None else user_id
            if message_id is None:
                found = self._last_bot_message(target)
                if found is None:
                    raise LookupError(f"the bot sent no message to chat {target}")
            else:
                found = self._messages.get((target, message_id))
            if found is None:  # deleted or never sent: an InaccessibleMessage
                message: dict[str, Any] = {"chat": self._chat(target),
                                           "message_id": message_id, "date": 0}
            else:
                message = copy.deepcopy(found)
                if verify_button:
                    rows = message.get("reply_markup", {}).get("inline_keyboard", [])
                    offered = [b.get("callback_data") for row in rows for b in row]
                    if data not in offered:
                        raise ValueError(
                            f"message {message['message_id']} has no button with callback_data "
                            f"{data!r} (buttons: {offered}); pass verify_button=False to send "
                            "it anyway"
                        )
            self._callback_counter += 1
            query_id = str(4_000_000_000_000_000_000 + self.bot_id * 1000 + self._callback_counter)
            self._open_callbacks.add(query_id)
            digest = hashlib.sha256(f"{self.token}:{target}".encode()).hexdigest()
            query = {"id": query_id, "from": user, "message": message,
                     "chat_instance": str(int(digest[:15], 16)), "data": data}
            return self.push_update({"callback_query": query})

    def photo(self, user_id: int, content: bytes, *, caption: str | None = None) -> int:
        """A photo from a user in the private chat; getFile + download of the largest size
        returns ``content``."""
        with self._lock:
            user = self._remember_user(user_id)
            message_content: dict[str, Any] = {"photo": self._photo_sizes(content)}
            if caption:
                message_content.update(self._text_content(caption, "caption"))
            message = self._store_message(self._private_chat(user), user, message_content)
            return self.push_update({"message": message})

    def document(self, user_id: int, content: bytes, *, file_name: str, mime_type: str,
                 caption: str | None = None) -> int:
        """A file from a user in the private chat."""
        with self._lock:
            user = self._remember_user(user_id)
            record = self._register_file("document", content, file_name=file_name,
                                         mime_type=mime_type)
            message_content: dict[str, Any] = {"document": self._document(record)}
            if caption:
                message_content.update(self._text_content(caption, "caption"))
            message = self._store_message(self._private_chat(user), user, message_content)
            return self.push_update({"message": message})

    def edited_message(self, user_id: int, text: str) -> int:
        """The user edits their last text message in the private chat to ``text``."""
        with self._lock:
            user = self._remember_user(user_id)
            found = self._last_user_text(user_id, user_id)
            if found is None:
                raise LookupError(f"user {user_id} sent no text message to edit")
            found.pop("entities", None)
            found.update(self._text_content(text))
            found["edit_date"] = self._now()
            found["from"] = user
            return self.push_update({"edited_message": copy.deepcopy(found)})

    def _chat_member(self, status: str) -> dict[str, Any]:
        subtype = next(
            (name for name in self.spec.types["ChatMember"].subtypes
             if self.spec.types[name].discriminator == ("status", status)), None)
        if subtype is None:
            raise ValueError(f"unknown chat member status {status!r}")
        member: dict[str, Any] = {"status": status, "user": self._bot_sender()}
        for name, field_spec in (self.spec.types[subtype].fields or {}).items():
            if not field_spec.required or name in member:
                continue
            if field_spec.types == ("Boolean",):
                member[name] = (
                    (status == "administrator" and name.startswith("can_")) or name == "is_member"
                )
            elif field_spec.types == ("Integer",):
                member[name] = 0
            elif field_spec.types == ("String",):
                member[name] = ""
        return member

    def my_chat_member(self, chat_id: int, user_id: int, new_status: str = "member") -> int:
        """The bot's membership in a chat changes (``user_id`` made the change). In a private
        chat "kicked" means the user blocked the bot and "member" that they unblocked it; the
        fake then answers sends with 403 like Telegram."""
        with self._lock:
            user = self._remember_user(user_id)
            chat = self._private_chat(user) if chat_id > 0 else self._chat(chat_id)
            gone = new_status in ("left", "kicked")
            if chat_id > 0:
                old_status = "member" if gone else "kicked"
            else:
                old_status = "member" if gone else "left"
            update = {"chat": chat, "from": user, "date": self._now(),
                      "old_chat_member": self._chat_member(old_status),
                      "new_chat_member": self._chat_member(new_status)}
            if chat_id > 0:
                if new_status == "kicked":
                    self._blocked.add(chat_id)
                else:
                    self._blocked.discard(chat_id)
            elif gone:
                self._removed[chat_id] = new_status
            else:
                self._removed.pop(chat_id, None)
            return self.push_update({"my_chat_member": update})
