"""The rich-menu part of the fake LINE Messaging API, with the platform's rules.

Create (``POST /v2/bot/richmenu``, checked against the spec's ``RichMenuRequest`` and the
documented limits: width 800–2500 px, height at least 250 px, width/height at least 1.45,
1–20 areas inside the image, ``chatBarText`` 1–14 characters, ``name`` 1–300), the image
upload (PNG or JPEG of exactly the menu's size, at most 1 MB, once), the default menu, a
user's link and unlink, the bulk link (≤ 500 users), the list, and delete. A menu without
its image cannot be linked or made the default, as on LINE.
"""

from __future__ import annotations

import copy
import secrets
import struct
from collections.abc import Callable, Iterator
from typing import Any

Detail = tuple[str, str]

MAX_MENUS = 1000
IMAGE_MAX_BYTES = 1024 * 1024
AREAS_MAX = 20
NO_IMAGE = "must upload richmenu image before applying it to user"


def image_size(data: bytes, content_type: str) -> tuple[int, int] | None:
    """(width, height) of a PNG or baseline/progressive JPEG, or None if unreadable."""
    if content_type == "image/png" and data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return width, height
    if content_type == "image/jpeg" and data[:2] == b"\xff\xd8":
        at = 2
        while at + 9 < len(data):
            if data[at] != 0xFF:
                return None
            marker = data[at + 1]
            length = struct.unpack(">H", data[at + 2:at + 4])[0]
            if marker in (0xC0, 0xC1, 0xC2):
                height, width = struct.unpack(">HH", data[at + 5:at + 9])
                return width, height
            at += 2 + length
    return None


class RichMenus:
    """The rich menus of one fake channel; ``route`` answers their requests."""

    def __init__(self, validate: Callable[[str, Any], list[Detail]],
                 action_errors: Callable[[Any, str], Iterator[Detail]]) -> None:
        self._validate = validate
        self._action_errors = action_errors
        self.menus: dict[str, dict[str, Any]] = {}
        self.images: dict[str, tuple[bytes, str]] = {}
        self.default: str | None = None
        self.links: dict[str, str] = {}  # user id -> rich menu id
        self.created = 0

    def menu_of(self, user_id: str) -> str | None:
        """The rich menu a user sees: theirs, else the default."""
        return self.links.get(user_id, self.default)

    def name_of(self, menu_id: str | None) -> str | None:
        return None if menu_id is None else self.menus[menu_id]["name"]

    # -- requests ---------------------------------------------------------------------------

    def route(self, method: str, path: str, headers: dict[str, str], body: Any
              ) -> tuple[int, Any, bytes | None] | None:
        """(status, JSON, content) for a rich-menu request, or None when it is none."""
        parts = path.strip("/").split("/")
        if parts[:3] == ["v2", "bot", "richmenu"]:
            rest = parts[3:]
            if method == "POST" and rest == []:
                return self._create(body)
            if method == "GET" and rest == ["list"]:
                return 200, {"richmenus": [copy.deepcopy(m) for m in self.menus.values()]}, None
            if method == "POST" and rest == ["bulk", "link"]:
                return self._bulk_link(body)
            if len(rest) == 2 and rest[1] == "content":
                return self._content(method, rest[0], headers, body)
            if len(rest) == 1 and rest[0] not in ("list", "validate", "alias", "bulk"):
                return self._one(method, rest[0])
            return None
        if parts[:3] == ["v2", "bot", "user"] and len(parts) >= 5 and parts[4] == "richmenu":
            user = parts[3]
            if method == "POST" and len(parts) == 6:
                return self._link(user, parts[5])
            if method == "DELETE" and len(parts) == 5:
                if user == "all":
                    self.default = None
                else:
                    self.links.pop(user, None)
                return 200, {}, None
            if method == "GET" and len(parts) == 5:
                menu = self.default if user == "all" else self.links.get(user)
                if menu is None:
                    return 404, {"message": "the user has no richmenu"}, None
                return 200, {"richMenuId": menu}, None
        return None

    def _create(self, body: Any) -> tuple[int, Any, None]:
        details = self._validate("RichMenuRequest", body) if isinstance(body, dict) \
            else [("", "The request body must be a JSON object")]
        if not details:
            details = list(self._rules(body))
        if details:
            return 400, {"message": "The request body has errors", "details": [
                {"message": message, "property": prop} for prop, message in details]}, None
        if len(self.menus) >= MAX_MENUS:
            return 400, {"message": "The number of rich menus exceeds the limit"}, None
        menu_id = f"richmenu-{secrets.token_hex(16)}"
        self.menus[menu_id] = {"richMenuId": menu_id, **copy.deepcopy(body)}
        self.menus[menu_id].setdefault("selected", False)
        self.created += 1
        return 200, {"richMenuId": menu_id}, None

    def _rules(self, body: dict[str, Any]) -> Iterator[Detail]:
        for name in ("size", "selected", "name", "chatBarText", "areas"):
            if body.get(name) is None:
                yield name, "Must be specified"
        size = body.get("size") or {}
        width, height = size.get("width", 0), size.get("height", 0)
        if not 800 <= width <= 2500:
            yield "size.width", "Must be between 800 and 2500"
        if height < 250:
            yield "size.height", "Must be 250 or more"
        if height and width / height < 1.45:
            yield "size", "The aspect ratio (width / height) must be at least 1.45"
        if not 1 <= len(body.get("name") or "") <= 300:
            yield "name", "Length must be between 1 and 300"
        if not 1 <= len(body.get("chatBarText") or "") <= 14:
            yield "chatBarText", "Length must be between 1 and 14"
        areas = body.get("areas") or []
        if not 1 <= len(areas) <= AREAS_MAX:
            yield "areas", f"Size must be between 1 and {AREAS_MAX}"
        for index, area in enumerate(areas):
            bounds = area.get("bounds") or {}
            x, y = bounds.get("x", -1), bounds.get("y", -1)
            w, h = bounds.get("width", 0), bounds.get("height", 0)
            if x < 0 or y < 0 or w < 1 or h < 1 or x + w > width or y + h > height:
                yield f"areas[{index}].bounds", "Must be inside the rich menu image"
            yield from self._action_errors(area.get("action"), f"areas[{index}].action")

    def _content(self, method: str, menu_id: str, headers: dict[str, str], body: Any
                 ) -> tuple[int, Any, bytes | None]:
        if menu_id not in self.menus:
            return 404, {"message": "Not found"}, None
        if method == "GET":
            if menu_id not in self.images:
                return 404, {"message": "Not found"}, None
            return 200, None, self.images[menu_id][0]
        if method != "POST":
            return 405, {"message": "Method not allowed"}, None
        content_type = headers.get("content-type", "").split(";")[0].strip()
        if content_type not in ("image/png", "image/jpeg"):
            return 415, {"message": "Content-Type must be image/jpeg or image/png"}, None
        data = body if isinstance(body, bytes) else b""
        if len(data) > IMAGE_MAX_BYTES:
            return 413, {"message": "The image must be at most 1 MB"}, None
        size = self.menus[menu_id]["size"]
        if image_size(data, content_type) != (size["width"], size["height"]):
            return 400, {"message": "An image size does not match the rich menu size"}, None
        if menu_id in self.images:
            return 400, {"message": "An image has already been uploaded to the richmenu"}, None
        self.images[menu_id] = (data, content_type)
        return 200, {}, None

    def _one(self, method: str, menu_id: str) -> tuple[int, Any, None]:
        if menu_id not in self.menus:
            return 404, {"message": "Not found"}, None
        if method == "GET":
            return 200, copy.deepcopy(self.menus[menu_id]), None
        if method == "DELETE":
            del self.menus[menu_id]
            self.images.pop(menu_id, None)
            self.links = {u: m for u, m in self.links.items() if m != menu_id}
            if self.default == menu_id:
                self.default = None
            return 200, {}, None
        return 405, {"message": "Method not allowed"}, None

    def _link(self, user: str, menu_id: str) -> tuple[int, Any, None]:
        if menu_id not in self.menus:
            return 404, {"message": "Not found"}, None
        if menu_id not in self.images:
            return 400, {"message": NO_IMAGE}, None
        if user == "all":
            self.default = menu_id
        else:
            self.links[user] = menu_id
        return 200, {}, None

    def _bulk_link(self, body: Any) -> tuple[int, Any, None]:
        details = self._validate("RichMenuBulkLinkRequest", body)
        if details:
            return 400, {"message": "The request body has errors", "details": [
                {"message": message, "property": prop} for prop, message in details]}, None
        menu_id = body["richMenuId"]
        if menu_id not in self.menus:
            return 400, {"message": "richmenu not found"}, None
        if menu_id not in self.images:
            return 400, {"message": NO_IMAGE}, None
        for user in body["userIds"]:
            self.links[user] = menu_id
        return 202, {}, None
