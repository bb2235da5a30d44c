"""A fake LINE Messaging API that validates what the bot sends against LINE's own OpenAPI spec.

``FakeLine`` serves the Messaging API (``api.line.me``) and its content host
(``api-data.line.me``) on one local port, from a thread with its own event loop, so both the
synchronous and the asyncio clients of line-bot-sdk can talk to it::

    with FakeLine() as line:
        configuration = Configuration(host=line.base_url, access_token=line.access_token)
        ...
        assert line.texts_to(user_id) == ["..."]

Request bodies are checked against the schemas of ``tests/fakes/specs/line/messaging-api.yml``
(converted from OpenAPI 3.0 to JSON Schema: ``$ref``, ``allOf``, ``discriminator.mapping``,
``required``, ``enum``, lengths, sizes and bounds), and against the limits LINE documents but
the spec does not state (``documented_limits``). A violation answers 400 in LINE's shape::

    {"message": "The request body has 1 error(s)",
     "details": [{"message": "Length must be between 0 and 5000", "property": "messages[0].text"}]}

Lengths count UTF-16 code units, as LINE does; the properties LINE counts in grapheme clusters
(action labels, template texts and titles, ...) are counted with an approximation of them.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import datetime
import functools
import json
import os
import re
import secrets
import socket
import threading
import time
import unicodedata
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import jsonschema
import uvicorn
import yaml
from jsonschema.exceptions import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request as HttpRequest
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.fakes.line_richmenu import RichMenus

# --------------------------------------------------------------------------------------------
# The specs
# --------------------------------------------------------------------------------------------

SPEC_DIR = Path(
    os.environ.get("SQBOT_LINE_SPEC_DIR")
    or Path(__file__).resolve().parent / "specs" / "line"
)
"""Where ``messaging-api.yml`` and ``webhook.yml`` are: LINE's own OpenAPI files, vendored
unmodified in ``tests/fakes/specs/line`` (see SOURCE.md and LICENSE there)."""

DEFAULT_ACCESS_TOKEN = "fake-line-token-" + "x" * 40

USER_ID = re.compile(r"U[0-9a-f]{32}")
CHAT_ID = re.compile(r"[UCR][0-9a-f]{32}")


@functools.cache
def load_spec(name: str) -> dict[str, Any]:
    """The parsed OpenAPI document ``name`` ("messaging-api" or "webhook"), loaded once."""
    path = SPEC_DIR / f"{name}.yml"
    if not path.is_file():
        raise FileNotFoundError(f"LINE spec {path} is missing (set SQBOT_LINE_SPEC_DIR?)")
    with path.open(encoding="utf-8") as handle:
        spec: dict[str, Any] = yaml.safe_load(handle)
    return spec


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units: how LINE counts characters."""
    return len(text.encode("utf-16-le")) // 2


_EXTENDERS = (
    (0x200C, 0x200D),  # ZWNJ, ZWJ
    (0xFE00, 0xFE0F),  # variation selectors
    (0x1F3FB, 0x1F3FF),  # emoji skin-tone modifiers
    (0xE0020, 0xE007F),  # tags (subdivision flags)
    (0xE0100, 0xE01EF),  # variation selectors supplement
)


def grapheme_len(text: str) -> int:
    """Approximate count of extended grapheme clusters (UAX #29) without third-party tables.

    Combining marks, ZWJ sequences, variation selectors, skin-tone modifiers, tag sequences,
    regional-indicator pairs and CR LF join the cluster before them; Hangul jamo sequences are
    not joined (each jamo counts), which only over-counts decomposed Korean.
    """
    count = 0
    after_zwj = False
    regional_run = 0
    after_cr = False
    for char in text:
        code = ord(char)
        regional = 0x1F1E6 <= code <= 0x1F1FF
        extends = unicodedata.category(char) in ("Mn", "Me", "Mc") or any(
            low <= code <= high for low, high in _EXTENDERS
        )
        joins = extends or after_zwj or (regional and regional_run % 2 == 1)
        if not (count and (joins or (after_cr and char == "\n"))):
            count += 1
        after_zwj = code == 0x200D
        regional_run = regional_run + 1 if regional else 0
        after_cr = char == "\r"
    return count


# --------------------------------------------------------------------------------------------
# OpenAPI 3.0 -> JSON Schema (draft 2020-12)
# --------------------------------------------------------------------------------------------

_SCHEMA_PREFIX = "#/components/schemas/"
_BASE = "__base"  # suffix of the non-dispatching copy of a discriminated base schema
_DROPPED = {"discriminator", "externalDocs", "example", "xml", "nullable"}


def _utf16_max_length(validator: Any, limit: int, instance: Any, schema: dict[str, Any]
                      ) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and utf16_len(instance) > limit:
        yield ValidationError(f"{instance!r} is longer than {limit} UTF-16 code units")


def _utf16_min_length(validator: Any, limit: int, instance: Any, schema: dict[str, Any]
                      ) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and utf16_len(instance) < limit:
        yield ValidationError(f"{instance!r} is shorter than {limit} UTF-16 code units")


_Validator = jsonschema.validators.extend(
    jsonschema.Draft202012Validator,
    {"maxLength": _utf16_max_length, "minLength": _utf16_min_length},
)

FORMATS = jsonschema.FormatChecker(formats=())


@FORMATS.checks("uri")
def _is_uri(value: object) -> bool:
    return not isinstance(value, str) or bool(
        re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*:[^\s]+", value))


@FORMATS.checks("uuid")
def _is_uuid(value: object) -> bool:
    return not isinstance(value, str) or bool(re.fullmatch(
        r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", value))


@FORMATS.checks("int32")
def _is_int32(value: object) -> bool:
    return not isinstance(value, int) or -(2**31) <= value < 2**31


@FORMATS.checks("int64")
def _is_int64(value: object) -> bool:
    return not isinstance(value, int) or -(2**63) <= value < 2**63


@FORMATS.checks("date-time")
def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        datetime.datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


class SpecSchemas:
    """JSON Schemas for the ``components.schemas`` of one OpenAPI 3.0 document.

    A schema with a ``discriminator`` becomes two definitions: ``Name`` dispatches on the
    discriminating property to the schema its ``mapping`` names, and ``Name__base`` is the
    plain schema that the subtypes' ``allOf`` extend (so a subtype does not dispatch back to
    itself). Each mapping target also pins the discriminating property to its own key(s), so
    a subtype referenced directly (a carousel's bubbles) is held to its type as well.

    ``strict``: a discriminator value that the mapping does not name is an error (a request the
    bot sends); otherwise it is validated against the base schema only (a webhook event type
    that LINE may add later).
    """

    def __init__(self, spec: dict[str, Any], *, strict: bool) -> None:
        self.strict = strict
        schemas: dict[str, Any] = spec["components"]["schemas"]
        self.bases: dict[str, tuple[str, dict[str, str]]] = {}
        pinned: dict[str, tuple[str, list[str]]] = {}
        for name, schema in schemas.items():
            discriminator = schema.get("discriminator")
            if not discriminator or "mapping" not in discriminator:
                continue
            prop = discriminator["propertyName"]
            mapping = {key: ref.removeprefix(_SCHEMA_PREFIX)
                       for key, ref in discriminator["mapping"].items()}
            self.bases[name] = (prop, mapping)
            for key, target in mapping.items():
                pinned.setdefault(target, (prop, []))[1].append(key)
        self._targets = {base: set(mapping.values()) for base, (_, mapping) in self.bases.items()}

        defs: dict[str, Any] = {}
        for name, schema in schemas.items():
            converted = self._convert(schema, owner=name)
            if name in pinned:
                prop, keys = pinned[name]
                converted = {"allOf": [converted, {"properties": {prop: {"enum": keys}}}]}
            if name in self.bases:
                defs[name + _BASE] = converted
                defs[name] = self._dispatch(name)
            else:
                defs[name] = converted
        self.defs = defs
        self._validators: dict[str, Any] = {}

    def _ref(self, ref: str, *, owner: str | None, in_all_of: bool) -> str:
        if not ref.startswith(_SCHEMA_PREFIX):
            raise ValueError(f"unsupported $ref {ref!r}")
        name = ref.removeprefix(_SCHEMA_PREFIX)
        if in_all_of and name in self.bases and owner in self._targets[name]:
            return f"#/$defs/{name}{_BASE}"
        return f"#/$defs/{name}"

    def _convert(self, node: Any, *, owner: str | None, in_all_of: bool = False) -> Any:
        if not isinstance(node, dict):
            return node
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in _DROPPED or key.startswith("x-"):
                continue
            if key == "$ref":
                out[key] = self._ref(value, owner=owner, in_all_of=in_all_of)
            elif key == "allOf":
                out[key] = [self._convert(item, owner=owner, in_all_of=True) for item in value]
            elif key in ("oneOf", "anyOf"):
                out[key] = [self._convert(item, owner=None) for item in value]
            elif key == "properties":
                out[key] = {prop: self._convert(sub, owner=None) for prop, sub in value.items()}
            elif key in ("items", "additionalProperties", "not") and isinstance(value, dict):
                out[key] = self._convert(value, owner=None)
            else:
                out[key] = copy.deepcopy(value)
        if node.get("nullable"):
            if "type" in out:
                out["type"] = [out["type"], "null"]
            if "enum" in out:
                out["enum"] = [*out["enum"], None]
        return out

    def _dispatch(self, base: str) -> dict[str, Any]:
        prop, mapping = self.bases[base]
        keys = list(mapping)
        branches: list[dict[str, Any]] = [
            {"if": {"type": "object", "required": [prop], "properties": {prop: {"const": key}}},
             "then": {"$ref": f"#/$defs/{target}"}}
            for key, target in mapping.items()
        ]
        otherwise: dict[str, Any] = {"$ref": f"#/$defs/{base}{_BASE}"}
        if self.strict:
            otherwise = {"allOf": [otherwise, {"required": [prop],
                                               "properties": {prop: {"enum": keys}}}]}
        branches.append({
            "if": {"type": "object", "required": [prop], "properties": {prop: {"enum": keys}}},
            "else": otherwise,
        })
        return {"allOf": branches}

    def validator(self, name: str) -> Any:
        """A ``jsonschema`` validator for the component schema ``name``."""
        if name not in self._validators:
            schema = {"$schema": "https://json-schema.org/draft/2020-12/schema",
                      "$defs": self.defs, "$ref": f"#/$defs/{name}"}
            _Validator.check_schema(schema)
            self._validators[name] = _Validator(schema, format_checker=FORMATS)
        return self._validators[name]

    def errors(self, name: str, instance: Any) -> list[tuple[str, str]]:
        """``(property, message)`` for every violation of schema ``name``, LINE-worded."""
        found: list[tuple[str, str]] = []
        for error in self.validator(name).iter_errors(instance):
            for detail in describe_error(error):
                if detail not in found:
                    found.append(detail)
        return found


@functools.cache
def spec_schemas(name: str, *, strict: bool) -> SpecSchemas:
    """The converted schemas of spec ``name`` (cached)."""
    return SpecSchemas(load_spec(name), strict=strict)


def property_path(parts: Any) -> str:
    """``["messages", 0, "text"]`` -> ``"messages[0].text"`` (LINE's notation)."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _between(low: Any, high: Any, noun: str) -> str:
    if high is None:
        return f"{noun} must be at least {low}"
    return f"{noun} must be between {low if low is not None else 0} and {high}"


def describe_error(error: ValidationError) -> list[tuple[str, str]]:
    """LINE-style ``(property, message)`` pairs for one jsonschema error."""
    path = list(error.absolute_path)
    kind = error.validator
    schema = error.schema if isinstance(error.schema, dict) else {}
    if kind == "required":
        match = re.match(r"^'(.+)' is a required property", error.message)
        missing = match.group(1) if match else "?"
        return [(property_path([*path, missing]), "Must be specified")]
    if kind in ("maxLength", "minLength"):
        message = _between(schema.get("minLength"), schema.get("maxLength"), "Length")
    elif kind in ("maxItems", "minItems"):
        message = _between(schema.get("minItems"), schema.get("maxItems"), "Size")
    elif kind in ("enum", "const"):
        values = schema.get("enum", [schema.get("const")])
        message = f"Must be one of the following values: [{', '.join(map(str, values))}]"
    elif kind == "maximum":
        message = f"Must be less than or equal to {error.validator_value}"
    elif kind == "minimum":
        message = f"Must be greater than or equal to {error.validator_value}"
    elif kind == "type":
        message = f"Must be of type {error.validator_value}"
    elif kind == "format":
        message = f"Must be a valid {error.validator_value}"
    elif kind == "pattern":
        message = f"Must match {error.validator_value}"
    else:
        message = error.message
    return [(property_path(path), message)]


# --------------------------------------------------------------------------------------------
# Limits LINE documents that the spec does not state
# --------------------------------------------------------------------------------------------

Detail = tuple[str, str]

TEXT_MAX = 5000
ALT_TEXT_MAX = 1500
URL_MAX = 2000
QUICK_REPLY_LABEL_MAX = 20
TEMPLATE_LABEL_MAX = 20
IMAGE_CAROUSEL_LABEL_MAX = 12
POSTBACK_TEXT_MAX = 300
RICH_MENU_LABEL_MAX = 20
URI_MAX = 1000
URI_SCHEMES = ("http", "https", "line", "tel")
FLEX_CAROUSEL_MAX = 12
FLEX_BUBBLE_BYTES = 30 * 1024
FLEX_CAROUSEL_BYTES = 50 * 1024


def _length(value: Any, limit: int, where: str, *, counter: Callable[[str], int] = utf16_len,
            required: bool = False) -> Iterator[Detail]:
    if value is None:
        if required:
            yield where, "Must be specified"
        return
    if not isinstance(value, str):
        return
    if required and value == "":
        yield where, "May not be empty"
    elif counter(value) > limit:
        yield where, f"Length must be between {1 if required else 0} and {limit}"


def _https_url(value: Any, where: str, limit: int = URL_MAX) -> Iterator[Detail]:
    if not isinstance(value, str):
        return
    yield from _length(value, limit, where)
    if not value.startswith("https://"):
        yield where, "Must be an HTTPS URL"


def _count(items: Any, low: int, high: int, where: str) -> Iterator[Detail]:
    if isinstance(items, list) and not low <= len(items) <= high:
        yield where, f"Size must be between {low} and {high}"


def _action(action: Any, where: str, *, label_max: int | None, label_required: bool
            ) -> Iterator[Detail]:
    if not isinstance(action, dict):
        return
    kind = action.get("type")
    needs_label = label_required or kind in ("camera", "cameraRoll", "location")
    if label_max is not None:
        yield from _length(action.get("label"), label_max, f"{where}.label",
                           counter=grapheme_len, required=needs_label)
    if kind == "postback":
        for name in ("displayText", "text", "fillInText"):
            yield from _length(action.get(name), POSTBACK_TEXT_MAX, f"{where}.{name}",
                               counter=grapheme_len)
        if action.get("displayText") is not None and action.get("text") is not None:
            yield f"{where}.text", "Cannot be specified together with displayText"
        if action.get("data") is None:
            yield f"{where}.data", "Must be specified"
    elif kind == "message":
        yield from _length(action.get("text"), POSTBACK_TEXT_MAX, f"{where}.text",
                           counter=grapheme_len, required=True)
    elif kind == "uri":
        uri = action.get("uri")
        yield from _length(uri, URI_MAX, f"{where}.uri", required=True)
        if isinstance(uri, str) and uri and uri.split(":", 1)[0].lower() not in URI_SCHEMES:
            yield f"{where}.uri", f"Scheme must be one of {', '.join(URI_SCHEMES)}"
    elif kind == "datetimepicker":
        for name in ("data", "mode"):
            if action.get(name) is None:
                yield f"{where}.{name}", "Must be specified"


def _template(template: Any, where: str) -> Iterator[Detail]:
    if not isinstance(template, dict):
        return
    kind = template.get("type")
    if kind == "buttons":
        yield from _length(template.get("title"), 40, f"{where}.title", counter=grapheme_len)
        short = template.get("thumbnailImageUrl") is not None or template.get("title")
        yield from _length(template.get("text"), 60 if short else 160, f"{where}.text",
                           counter=grapheme_len, required=True)
        yield from _https_url(template.get("thumbnailImageUrl"), f"{where}.thumbnailImageUrl")
        yield from _count(template.get("actions"), 1, 4, f"{where}.actions")
        yield from _template_actions(template, where, TEMPLATE_LABEL_MAX)
    elif kind == "confirm":
        yield from _length(template.get("text"), 240, f"{where}.text", counter=grapheme_len,
                           required=True)
        yield from _count(template.get("actions"), 2, 2, f"{where}.actions")
        yield from _template_actions(template, where, TEMPLATE_LABEL_MAX)
    elif kind == "carousel":
        columns = template.get("columns")
        yield from _count(columns, 1, 10, f"{where}.columns")
        sizes = set()
        for index, column in enumerate(columns if isinstance(columns, list) else []):
            if not isinstance(column, dict):
                continue
            at = f"{where}.columns[{index}]"
            yield from _length(column.get("title"), 40, f"{at}.title", counter=grapheme_len)
            short = column.get("thumbnailImageUrl") is not None or column.get("title")
            yield from _length(column.get("text"), 60 if short else 120, f"{at}.text",
                               counter=grapheme_len, required=True)
            yield from _https_url(column.get("thumbnailImageUrl"), f"{at}.thumbnailImageUrl")
            yield from _count(column.get("actions"), 1, 3, f"{at}.actions")
            yield from _template_actions(column, at, TEMPLATE_LABEL_MAX)
            if isinstance(column.get("actions"), list):
                sizes.add(len(column["actions"]))
        if len(sizes) > 1:
            yield f"{where}.columns", "Every column must have the same number of actions"
    elif kind == "image_carousel":
        columns = template.get("columns")
        yield from _count(columns, 1, 10, f"{where}.columns")
        for index, column in enumerate(columns if isinstance(columns, list) else []):
            if isinstance(column, dict):
                at = f"{where}.columns[{index}]"
                yield from _https_url(column.get("imageUrl"), f"{at}.imageUrl", URI_MAX)
                yield from _action(column.get("action"), f"{at}.action",
                                   label_max=IMAGE_CAROUSEL_LABEL_MAX, label_required=False)


def _template_actions(holder: dict[str, Any], where: str, label_max: int) -> Iterator[Detail]:
    actions = holder.get("actions")
    for index, action in enumerate(actions if isinstance(actions, list) else []):
        yield from _action(action, f"{where}.actions[{index}]", label_max=label_max,
                           label_required=True)
    if holder.get("defaultAction") is not None:
        yield from _action(holder["defaultAction"], f"{where}.defaultAction", label_max=None,
                           label_required=False)


def _flex_actions(node: Any, where: str) -> Iterator[Detail]:
    """Action limits everywhere inside a Flex container (Flex labels are not length-checked)."""
    if isinstance(node, dict):
        for key, value in node.items():
            at = f"{where}.{key}"
            if key == "action":
                yield from _action(value, at, label_max=None, label_required=False)
            else:
                yield from _flex_actions(value, at)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _flex_actions(value, f"{where}[{index}]")


def flex_text(node: Any) -> str:
    """The text a Flex container shows, laid out as the app does: a bubble's blocks and a
    vertical box's contents a line each, a horizontal box's texts side by side."""
    if not isinstance(node, dict):
        return ""
    kind = node.get("type")
    if kind == "text":
        return str(node.get("text", ""))
    if kind == "box":
        parts = [flex_text(child) for child in node.get("contents", [])]
        joiner = "：" if node.get("layout") in ("horizontal", "baseline") else "\n"
        return joiner.join(part for part in parts if part)
    if kind == "bubble":
        return "\n".join(part for part in (flex_text(node.get(block)) for block in
                                           ("header", "hero", "body", "footer")) if part)
    if kind == "carousel":
        return "\n\n".join(part for part in map(flex_text, node.get("contents", [])) if part)
    return ""


def _json_bytes(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())


def _flex(contents: Any, where: str) -> Iterator[Detail]:
    if not isinstance(contents, dict):
        return
    if contents.get("type") == "carousel":
        yield from _count(contents.get("contents"), 1, FLEX_CAROUSEL_MAX, f"{where}.contents")
        if _json_bytes(contents) > FLEX_CAROUSEL_BYTES:
            yield where, f"A carousel must be at most {FLEX_CAROUSEL_BYTES} bytes of JSON"
        bubbles = contents.get("contents")
        for index, bubble in enumerate(bubbles if isinstance(bubbles, list) else []):
            if _json_bytes(bubble) > FLEX_BUBBLE_BYTES:
                yield (f"{where}.contents[{index}]",
                       f"A bubble must be at most {FLEX_BUBBLE_BYTES} bytes of JSON")
    elif contents.get("type") == "bubble" and _json_bytes(contents) > FLEX_BUBBLE_BYTES:
        yield where, f"A bubble must be at most {FLEX_BUBBLE_BYTES} bytes of JSON"
    yield from _flex_actions(contents, where)


def _message(message: Any, where: str) -> Iterator[Detail]:
    if not isinstance(message, dict):
        return
    kind = message.get("type")
    if kind in ("text", "textV2"):
        yield from _length(message.get("text"), TEXT_MAX, f"{where}.text", required=True)
        if kind == "text":
            yield from _count(message.get("emojis"), 0, 20, f"{where}.emojis")
    elif kind in ("template", "flex", "imagemap"):
        yield from _length(message.get("altText"), ALT_TEXT_MAX, f"{where}.altText",
                           required=True)
    if kind in ("image", "video", "audio"):
        yield from _https_url(message.get("originalContentUrl"), f"{where}.originalContentUrl")
    if kind in ("image", "video"):
        yield from _https_url(message.get("previewImageUrl"), f"{where}.previewImageUrl")
    if kind == "video":
        yield from _length(message.get("trackingId"), 100, f"{where}.trackingId")
    elif kind == "location":
        yield from _length(message.get("title"), 100, f"{where}.title")
        yield from _length(message.get("address"), 100, f"{where}.address")
    elif kind == "template":
        yield from _template(message.get("template"), f"{where}.template")
    elif kind == "flex":
        yield from _flex(message.get("contents"), f"{where}.contents")
    quick_reply = message.get("quickReply")
    if isinstance(quick_reply, dict) and isinstance(quick_reply.get("items"), list):
        for index, item in enumerate(quick_reply["items"]):
            at = f"{where}.quickReply.items[{index}]"
            if not isinstance(item, dict):
                continue
            if item.get("type", "action") != "action":
                yield f"{at}.type", "Must be one of the following values: [action]"
            if item.get("action") is None:
                yield f"{at}.action", "Must be specified"
            yield from _https_url(item.get("imageUrl"), f"{at}.imageUrl")
            yield from _action(item.get("action"), f"{at}.action",
                               label_max=QUICK_REPLY_LABEL_MAX, label_required=False)


def documented_limits(body: Any) -> list[Detail]:
    """Violations of LINE's documented limits that messaging-api.yml does not encode."""
    if not isinstance(body, dict):
        return []
    messages = body.get("messages")
    found: list[Detail] = []
    for index, message in enumerate(messages if isinstance(messages, list) else []):
        for detail in _message(message, f"messages[{index}]"):
            if detail not in found:
                found.append(detail)
    return found


def request_errors(schema: str, body: Any) -> list[Detail]:
    """Every violation of the spec schema ``schema`` and of the documented limits."""
    found = spec_schemas("messaging-api", strict=True).errors(schema, body)
    for detail in documented_limits(body):
        if detail not in found:
            found.append(detail)
    return found


# --------------------------------------------------------------------------------------------
# The fake server
# --------------------------------------------------------------------------------------------

MESSAGE_KINDS = ("reply", "push", "multicast", "broadcast")
QUOTABLE = ("text", "textV2", "sticker", "image", "video")
RATE_LIMITED = "The API rate limit has been exceeded. Try again later."
MONTHLY_LIMIT = "You have reached your monthly limit."
INVALID_TO = "The property, 'to', in the request body is invalid (line: -, column: -)"
NO_AUTH = ("Authorization header required. "
           "Must follow the scheme, 'Authorization: Bearer <ACCESS TOKEN>'")
BAD_TOKEN = ("Authentication failed due to the following reason: invalid token. "
             "Confirm that the access token in the authorization header is valid.")
DEFAULT_FAILURE = {400: "Bad request", 401: BAD_TOKEN, 403: "Forbidden", 404: "Not found",
                   409: "Conflict", 429: RATE_LIMITED, 500: "Internal server error",
                   502: "Bad gateway", 503: "Service unavailable"}


@dataclass
class Request:
    """One request the fake received, and what it answered."""

    method: str
    path: str
    headers: dict[str, str]
    """Header names in lower case."""
    body: Any
    """Decoded JSON, raw bytes when the body is not JSON, None when empty."""
    status: int
    response: Any = None
    """The JSON the fake answered (None for binary content)."""
    query: dict[str, str] = field(default_factory=dict)
    accepted: bool = False
    """A message request LINE accepted (delivered); true also under ``fail_next(deliver=True)``."""
    delivered_to: list[str] = field(default_factory=list)
    """Chats the messages reached: ``to`` of a push, the ``to`` list of a multicast, the chat of
    a reply token; blocked users left out."""
    request_id: str = ""

    @property
    def kind(self) -> str | None:
        """``"reply"``, ``"push"``, ``"multicast"`` or ``"broadcast"`` for message sends."""
        prefix = "/v2/bot/message/"
        tail = self.path.removeprefix(prefix)
        return tail if self.path.startswith(prefix) and tail in MESSAGE_KINDS else None

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The message objects of a send (empty for anything else)."""
        if isinstance(self.body, dict) and isinstance(self.body.get("messages"), list):
            return self.body["messages"]
        return []

    @property
    def retry_key(self) -> str | None:
        return self.headers.get("x-line-retry-key")


@dataclass
class _ReplyToken:
    chat: str
    expired: bool
    used: bool = False


@dataclass
class _Failure:
    path_suffix: str
    status: int
    times: int
    message: str
    deliver: bool


@dataclass
class _Answer:
    status: int
    json: Any = None
    content: bytes | None = None
    stream: AsyncIterator[bytes] | None = None
    media_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    accepted: bool = False
    delivered_to: list[str] = field(default_factory=list)


def _error(status: int, message: str, **extra: Any) -> _Answer:
    return _Answer(status, {"message": message, **extra})


def _invalid(details: list[Detail]) -> _Answer:
    return _error(400, f"The request body has {len(details)} error(s)",
                  details=[{"message": message, "property": prop} for prop, message in details])


def _random_id() -> str:
    return str(secrets.randbelow(9 * 10**17) + 10**17)


class FakeLine:
    """The LINE Messaging API and its content host, on ``127.0.0.1``, for tests."""

    def __init__(self, access_token: str = DEFAULT_ACCESS_TOKEN) -> None:
        self.access_token = access_token
        self.base_url = ""
        self.requests: list[Request] = []
        self.profiles: dict[str, dict[str, Any]] = {}
        """userId -> profile (``displayName``, optional ``pictureUrl``, ``statusMessage``,
        ``language``); ``userId`` is filled in."""
        self.groups: dict[str, dict[str, Any]] = {}
        """groupId -> ``groupName``, optional ``pictureUrl`` and ``memberCount`` (default 1,
        the number of messages a push to the group counts)."""
        self.bot_info: dict[str, Any] = {
            "userId": "U" + "0" * 32, "basicId": "@000sqbot", "displayName": "服務品質小幫手",
            "chatMode": "bot", "markAsReadMode": "auto",
        }
        self.quota: int | None = 500
        self.consumption = 0
        self.blocked: set[str] = set()
        """Users who blocked the bot: LINE accepts sends to them (200) but delivers and counts
        nothing."""
        self.latency = 0.0
        """Seconds every request waits before it is answered (a slow platform)."""
        self.accepted_retry_keys: dict[str, str] = {}
        """X-Line-Retry-Key -> id of the request that was accepted with it."""
        self._sent_messages: dict[str, list[dict[str, str]]] = {}
        self._reply_tokens: dict[str, _ReplyToken] = {}
        self._content: dict[str, tuple[bytes, str]] = {}
        self._generated: dict[str, tuple[int, str]] = {}
        self.served: dict[str, int] = {}
        """message id -> bytes of generated content sent so far."""
        self._failures: list[_Failure] = []
        self.rich_menus = RichMenus(request_errors, lambda action, where: _action(
            action, where, label_max=RICH_MENU_LABEL_MAX, label_required=False))
        """The channel's rich menus, their images, the default and each user's link."""
        self._lock = threading.RLock()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self.app = Starlette(routes=[Route("/{path:path}", self._endpoint,
                                           methods=["GET", "POST", "PUT", "DELETE"])])

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Serve on a free port in a background thread; return once it accepts connections."""
        if self._server is not None:
            raise RuntimeError("FakeLine is already started")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, log_level="warning", lifespan="off",
                                access_log=False, timeout_graceful_shutdown=1)
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]},
                                  name=f"FakeLine:{port}", daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                server.should_exit = True
                sock.close()
                raise RuntimeError("FakeLine did not start")
            time.sleep(0.01)
        self._server, self._thread, self._socket = server, thread, sock
        self.base_url = f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        """Stop serving (idempotent)."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.should_exit = True
        thread.join(timeout=5)
        if thread.is_alive():
            server.force_exit = True
            thread.join(timeout=5)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None

    def __enter__(self) -> FakeLine:
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()

    def reset(self) -> None:
        """Forget requests, tokens, retry keys, failures and consumption (keeps the server)."""
        with self._lock:
            self.requests.clear()
            self._reply_tokens.clear()
            self.accepted_retry_keys.clear()
            self._sent_messages.clear()
            self._failures.clear()
            self.consumption = 0

    # -- arranging ------------------------------------------------------------------------

    def issue_reply_token(self, user_or_group_id: str, *, expired: bool = False) -> str:
        """A reply token for a chat, accepted once (unless ``expired``, then never)."""
        token = secrets.token_hex(16)
        with self._lock:
            self._reply_tokens[token] = _ReplyToken(user_or_group_id, expired)
        return token

    def add_content(self, message_id: str, content: bytes, content_type: str) -> None:
        """Content a user sent, served at ``GET /v2/bot/message/{message_id}/content``."""
        with self._lock:
            self._content[message_id] = (content, content_type)

    def add_large_content(self, message_id: str, size: int, content_type: str) -> None:
        """``size`` generated bytes, streamed in 64 KiB chunks (never held whole here);
        :attr:`served` counts what was actually sent before the client stopped reading."""
        with self._lock:
            self._generated[message_id] = (size, content_type)
            self.served[message_id] = 0

    def fail_next(self, path_suffix: str, *, status: int, times: int = 1,
                  message: str | None = None, deliver: bool = False) -> None:
        """Answer the next ``times`` POSTs whose path ends with ``path_suffix`` with ``status``.

        ``deliver=True`` models a request LINE accepted although its answer was an error (a
        5xx or a lost response): it is processed as usual (delivered, retry key recorded)
        and only the answer is replaced.
        """
        text = message or DEFAULT_FAILURE.get(status, f"Error {status}")
        with self._lock:
            self._failures.append(_Failure(path_suffix, status, times, text, deliver))

    def clear_failures(self) -> None:
        """Drop every failure ``fail_next`` arranged that has not been used up yet."""
        with self._lock:
            self._failures.clear()

    # -- inspecting -----------------------------------------------------------------------

    def sent(self, kind: str | None = None) -> list[Request]:
        """Accepted reply/push/multicast/broadcast requests, optionally of one ``kind``."""
        if kind is not None and kind not in MESSAGE_KINDS:
            raise ValueError(f"kind must be one of {MESSAGE_KINDS}")
        with self._lock:
            return [r for r in self.requests
                    if r.accepted and r.kind is not None and kind in (None, r.kind)]

    def messages_to(self, to: str) -> list[dict[str, Any]]:
        """Every message object delivered to chat ``to``, in order."""
        return [message for request in self.sent() if to in request.delivered_to
                for message in request.messages]

    def texts_to(self, to: str) -> list[str]:
        """What the person reads in each message delivered to chat ``to`` (push, multicast,
        reply): a text message's text, a Flex message's texts as the app lays them out (a
        horizontal box's texts side by side as 「名稱：值」, the rest a line each)."""
        shown = []
        for message in self.messages_to(to):
            if message.get("type") in ("text", "textV2"):
                shown.append(message["text"])
            elif message.get("type") == "flex":
                text = flex_text(message.get("contents"))
                if text:
                    shown.append(text)
        return shown

    # -- serving --------------------------------------------------------------------------

    async def _endpoint(self, http: HttpRequest) -> Response:
        raw = await http.body()
        if self.latency:
            await asyncio.sleep(self.latency)
        headers = {name.lower(): value for name, value in http.headers.items()}
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw
        request_id = str(uuid.uuid4())
        path = http.url.path
        with self._lock:
            answer = self._answer(http.method, path, headers, body, request_id)
            self.requests.append(Request(
                method=http.method, path=path, headers=headers, body=body,
                status=answer.status, response=answer.json, query=dict(http.query_params),
                accepted=answer.accepted, delivered_to=answer.delivered_to,
                request_id=request_id))
        response_headers = {"x-line-request-id": request_id, **answer.headers}
        if answer.stream is not None:
            return StreamingResponse(answer.stream, status_code=answer.status,
                                     media_type=answer.media_type, headers=response_headers)
        if answer.content is not None:
            return Response(answer.content, status_code=answer.status,
                            media_type=answer.media_type, headers=response_headers)
        return JSONResponse(answer.json, status_code=answer.status, headers=response_headers)

    def _answer(self, method: str, path: str, headers: dict[str, str], body: Any,
                request_id: str) -> _Answer:
        authorization = headers.get("authorization", "")
        if not authorization.startswith("Bearer "):
            return _error(401, NO_AUTH)
        if authorization.removeprefix("Bearer ") != self.access_token:
            return _error(401, BAD_TOKEN)
        failure = self._take_failure(method, path)
        if failure is not None and not failure.deliver:
            return _error(failure.status, failure.message)
        answer = self._route(method, path, headers, body, request_id)
        if failure is not None and 200 <= answer.status < 300:
            accepted, delivered = answer.accepted, answer.delivered_to
            answer = _error(failure.status, failure.message)
            answer.accepted, answer.delivered_to = accepted, delivered
        return answer

    def _take_failure(self, method: str, path: str) -> _Failure | None:
        if method != "POST":
            return None
        for failure in self._failures:
            if path.endswith(failure.path_suffix):
                failure.times -= 1
                if failure.times <= 0:
                    self._failures.remove(failure)
                return failure
        return None

    def _route(self, method: str, path: str, headers: dict[str, str], body: Any,
               request_id: str) -> _Answer:
        menu = self.rich_menus.route(method, path, headers, body)
        if menu is not None:
            status, payload, content = menu
            if content is not None:
                return _Answer(status, content=content, media_type="image/png")
            return _Answer(status, payload)
        if method == "POST":
            if path == "/v2/bot/message/reply":
                return self._reply(body)
            if path in ("/v2/bot/message/push", "/v2/bot/message/multicast",
                        "/v2/bot/message/broadcast"):
                return self._send(path.rsplit("/", 1)[1], headers, body, request_id)
            if match := re.fullmatch(r"/v2/bot/message/validate/(\w+)", path):
                if match.group(1) not in ("reply", "push", "multicast", "broadcast",
                                          "narrowcast"):
                    return _error(404, "Not found")
                details = self._json_body_errors(body) or request_errors(
                    "ValidateMessageRequest", body)
                return _invalid(details) if details else _Answer(200, {})
            if path == "/v2/bot/chat/loading/start":
                return self._loading(body)
        elif method == "GET":
            return self._get(path)
        return _error(404, "Not found")

    def _get(self, path: str) -> _Answer:
        if path == "/v2/bot/message/quota":
            if self.quota is None:
                return _Answer(200, {"type": "none"})
            return _Answer(200, {"type": "limited", "value": self.quota})
        if path == "/v2/bot/message/quota/consumption":
            return _Answer(200, {"totalUsage": self.consumption})
        if path == "/v2/bot/info":
            return _Answer(200, dict(self.bot_info))
        if match := re.fullmatch(r"/v2/bot/profile/([^/]+)", path):
            profile = self.profiles.get(match.group(1))
            if profile is None:
                return _error(404, "Not found")
            return _Answer(200, {"userId": match.group(1), **profile})
        if match := re.fullmatch(r"/v2/bot/group/([^/]+)/(summary|members/count)", path):
            group = self.groups.get(match.group(1))
            if group is None:
                return _error(404, "Not found")
            if match.group(2) == "members/count":
                return _Answer(200, {"count": group.get("memberCount", 1)})
            summary = {"groupId": match.group(1), "groupName": group["groupName"]}
            if "pictureUrl" in group:
                summary["pictureUrl"] = group["pictureUrl"]
            return _Answer(200, summary)
        if match := re.fullmatch(r"/v2/bot/group/([^/]+)/member/([^/]+)", path):
            profile = self.profiles.get(match.group(2))
            if match.group(1) not in self.groups or profile is None:
                return _error(404, "Not found")
            member = {"userId": match.group(2), "displayName": profile["displayName"]}
            if "pictureUrl" in profile:
                member["pictureUrl"] = profile["pictureUrl"]
            return _Answer(200, member)
        if match := re.fullmatch(r"/v2/bot/message/([^/]+)/content(/preview|/transcoding)?",
                                 path):
            generated = self._generated.get(match.group(1))
            if generated is not None and match.group(2) is None:
                return _Answer(200, stream=self._generate(match.group(1), generated[0]),
                               media_type=generated[1])
            stored = self._content.get(match.group(1))
            if stored is None:
                return _error(404, "Not found")
            if match.group(2) == "/transcoding":
                return _Answer(200, {"status": "succeeded"})
            return _Answer(200, content=stored[0], media_type=stored[1])
        return _error(404, "Not found")

    async def _generate(self, message_id: str, size: int) -> AsyncIterator[bytes]:
        chunk = bytes(range(256)) * 256  # 64 KiB
        left = size
        while left > 0:
            part = chunk[:min(left, len(chunk))]
            yield part
            left -= len(part)
            with self._lock:
                self.served[message_id] += len(part)
            await asyncio.sleep(0)  # a client gone away is noticed (Starlette cancels us)

    @staticmethod
    def _json_body_errors(body: Any) -> list[Detail]:
        if not isinstance(body, dict):
            return [("", "The request body must be a JSON object")]
        return []

    def _loading(self, body: Any) -> _Answer:
        details = self._json_body_errors(body) or spec_schemas(
            "messaging-api", strict=True).errors("ShowLoadingAnimationRequest", body)
        if not details:
            seconds = body.get("loadingSeconds", 20)
            if seconds % 5:
                details.append(("loadingSeconds", "Must be a multiple of 5"))
            if not USER_ID.fullmatch(str(body.get("chatId"))):
                details.append(("chatId", "Must be the user ID of a one-on-one chat"))
        return _invalid(details) if details else _Answer(202, {})

    def _reply(self, body: Any) -> _Answer:
        details = self._json_body_errors(body) or request_errors("ReplyMessageRequest", body)
        if details:
            return _invalid(details)
        token = self._reply_tokens.get(body["replyToken"])
        if token is None or token.used or token.expired:
            return _error(400, "Invalid reply token")
        token.used = True
        delivered = [] if token.chat in self.blocked else [token.chat]
        return _Answer(200, {"sentMessages": self._sent_ids(body["messages"])}, accepted=True,
                       delivered_to=delivered)

    def _send(self, kind: str, headers: dict[str, str], body: Any, request_id: str) -> _Answer:
        retry_key = headers.get("x-line-retry-key")
        if retry_key is not None:
            if not _is_uuid(retry_key):
                return _error(400, "The value of the X-Line-Retry-Key header is invalid")
            if retry_key in self.accepted_retry_keys:
                original = self.accepted_retry_keys[retry_key]
                extra = {}
                if original in self._sent_messages:
                    extra["sentMessages"] = self._sent_messages[original]
                answer = _error(409, "The retry key is already accepted", **extra)
                answer.headers["x-line-accepted-request-id"] = original
                return answer
        schema = {"push": "PushMessageRequest", "multicast": "MulticastRequest",
                  "broadcast": "BroadcastRequest"}[kind]
        details = self._json_body_errors(body) or request_errors(schema, body)
        if details:
            return _invalid(details)
        if kind == "push":
            if not isinstance(body["to"], str) or not CHAT_ID.fullmatch(body["to"]):
                return _error(400, INVALID_TO)
            recipients = [body["to"]]
        elif kind == "multicast":
            if not all(isinstance(to, str) and USER_ID.fullmatch(to) for to in body["to"]):
                return _error(400, INVALID_TO)
            recipients = list(dict.fromkeys(body["to"]))
        else:
            recipients = []  # broadcast: every friend; the fake knows none and counts nothing
        delivered = [to for to in recipients if to not in self.blocked]
        cost = sum(self.groups.get(to, {}).get("memberCount", 1) if to[0] in "CR" else 1
                   for to in delivered)
        if self.quota is not None and self.consumption + cost > self.quota:
            return _error(429, MONTHLY_LIMIT)
        self.consumption += cost
        if retry_key is not None:
            self.accepted_retry_keys[retry_key] = request_id
        if kind == "push":
            sent = self._sent_ids(body["messages"])
            self._sent_messages[request_id] = sent
            return _Answer(200, {"sentMessages": sent}, accepted=True, delivered_to=delivered)
        return _Answer(200, {}, accepted=True, delivered_to=delivered)

    @staticmethod
    def _sent_ids(messages: list[dict[str, Any]]) -> list[dict[str, str]]:
        sent = []
        for message in messages:
            entry = {"id": _random_id()}
            if message.get("type") in QUOTABLE:
                entry["quoteToken"] = base64.urlsafe_b64encode(
                    secrets.token_bytes(96)).decode().rstrip("=")
            sent.append(entry)
        return sent
