"""LINE rich menus, one per role: the menu under the message field that does not vanish.

Three menus: staff (填寫自評 · 我的進度 · 創意提案 · 年度案例 · 說明), the secretariat (進度 · 審定
· 總表 · 年度 · 提案清單 · 說明) and, as the channel's default, one for people not bound yet.
Each button sends the word people would type (a message action), so a press works in every
window exactly as typing it does. The images are drawn here (Pillow, the CJK font the charts
use) with the office's name in their header.

Set up at start-up by one process (:meth:`RichMenus.ensure`): menus are found by name —
``sqbot-<role>-<digest of what they show>`` — and reused, so a restart or a second worker
creates nothing; a menu whose contents changed is created anew and the old one deleted once
every member is moved. Members are linked to their role's menu at binding, on every start
(bulk, 500 per call) and whenever a role changes; unlinked when forgotten (they see the
default menu again).
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from linebot.v3.messaging import (
    AsyncMessagingApi,
    AsyncMessagingApiBlob,
    MessageAction,
    PostbackAction,
    RichMenuArea,
    RichMenuBounds,
    RichMenuBulkLinkRequest,
    RichMenuRequest,
    RichMenuSize,
)

from storage.models import Role

logger = logging.getLogger(__name__)

WIDTH, HEIGHT = 2500, 1686  # LINE's full-size menu
HEADER = 230  # the band with the office's name; no button there
PER_ROW = 3
BULK_LIMIT = 500
PREFIX = "sqbot-"
DRAWING_VERSION = "1"  # bump when the drawing changes, so the menus are made anew


@dataclass(frozen=True)
class MenuButton:
    label: str  # drawn on the image
    text: str  # sent as the person's message when pressed


@dataclass(frozen=True)
class MenuPlan:
    key: str  # staff / secretariat / guest
    title: str  # 同仁選單, drawn in the header
    chat_bar: str  # the text on the bar that opens the menu (≤ 14 characters)
    buttons: tuple[MenuButton, ...]


STAFF = MenuPlan("staff", "同仁選單", "服務品質選單", (
    MenuButton("填寫自評", "填寫自評"), MenuButton("我的進度", "我的進度"),
    MenuButton("創意提案", "創意提案"), MenuButton("年度案例", "年度案例"),
    MenuButton("說明", "說明")))
SECRETARIAT = MenuPlan("secretariat", "秘書室選單", "秘書室選單", (
    MenuButton("進度", "進度"), MenuButton("審定", "審定"), MenuButton("總表", "總表"),
    MenuButton("年度", "年度"), MenuButton("提案清單", "提案清單"), MenuButton("說明", "說明")))
#: The channel's default, for people who have not typed their invitation code yet: a press
#: is a postback (no text that could be taken for a wrong code), answered with how to bind.
GUEST = MenuPlan("guest", "歡迎使用", "開始使用", (
    MenuButton("輸入邀請碼綁定帳號", "0:m:help"), MenuButton("使用說明", "0:m:help")))
PLANS = (STAFF, SECRETARIAT, GUEST)


def plan_for(role: str) -> MenuPlan:
    """The menu a member of ``role`` gets."""
    return SECRETARIAT if role in (Role.SECRETARIAT, Role.ADMIN) else STAFF


def cells(count: int) -> list[tuple[int, int, int, int]]:
    """(x, y, width, height) of ``count`` buttons below the header: rows of three, the last
    row's buttons widened to fill it."""
    rows = [list(range(start, min(start + PER_ROW, count)))
            for start in range(0, count, PER_ROW)]
    height = (HEIGHT - HEADER) // len(rows)
    found = []
    for row_index, row in enumerate(rows):
        width = WIDTH // len(row)
        for column, _ in enumerate(row):
            x = column * width
            w = WIDTH - x if column == len(row) - 1 else width
            y = HEADER + row_index * height
            h = HEIGHT - y if row_index == len(rows) - 1 else height
            found.append((x, y, w, h))
    return found


def menu_name(plan: MenuPlan, office: str) -> str:
    """``sqbot-staff-1a2b3c4d5e6f``: the role and a digest of everything the menu shows."""
    content = json.dumps([DRAWING_VERSION, office, plan.title, plan.chat_bar,
                          [(b.label, b.text) for b in plan.buttons]], ensure_ascii=False)
    return f"{PREFIX}{plan.key}-{hashlib.sha256(content.encode()).hexdigest()[:12]}"


def menu_request(plan: MenuPlan, office: str) -> RichMenuRequest:
    """The rich menu object for ``plan``."""
    areas = []
    for button, (x, y, w, h) in zip(plan.buttons, cells(len(plan.buttons)), strict=True):
        action = (PostbackAction(label=button.label[:20], data=button.text,
                                 displayText=button.label)
                  if plan is GUEST else MessageAction(label=button.label[:20], text=button.text))
        areas.append(RichMenuArea(bounds=RichMenuBounds(x=x, y=y, width=w, height=h),
                                  action=action))
    return RichMenuRequest(size=RichMenuSize(width=WIDTH, height=HEIGHT), selected=False,
                           name=menu_name(plan, office), chatBarText=plan.chat_bar,
                           areas=areas)


def draw(plan: MenuPlan, office: str) -> bytes:
    """The menu's image (PNG, 2500×1686): the office's name and the menu's title in the
    header, a tile per button with its label, in the CJK font the charts use."""
    from PIL import Image, ImageDraw, ImageFont

    from reports.charts import cjk_face

    path, index = cjk_face()
    image = Image.new("RGB", (WIDTH, HEIGHT), "#f4f7fb")
    pen = ImageDraw.Draw(image)
    pen.rectangle((0, 0, WIDTH, HEADER), fill="#1f4e79")
    small = ImageFont.truetype(path, 72, index=index)
    pen.text((60, HEADER // 2), f"{office}　服務品質小幫手", font=small, fill="white",
             anchor="lm")
    pen.text((WIDTH - 60, HEADER // 2), plan.title, font=small, fill="#cfe2f3", anchor="rm")
    for button, (x, y, w, h) in zip(plan.buttons, cells(len(plan.buttons)), strict=True):
        pen.rounded_rectangle((x + 24, y + 24, x + w - 24, y + h - 24), radius=48,
                              fill="white", outline="#9fb8d3", width=6)
        size = 140 if len(button.label) <= 5 else 100
        font = ImageFont.truetype(path, size, index=index)
        pen.text((x + w // 2, y + h // 2), button.label, font=font, fill="#1f2d3d",
                 anchor="mm")
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


class RichMenus:
    """The rich menus of one LINE channel."""

    def __init__(self, api: AsyncMessagingApi, blob: AsyncMessagingApiBlob, office: str,
                 *, timeout: float = 10.0) -> None:
        self.api = api
        self.blob = blob
        self.office = office
        self.timeout = timeout
        #: plan key → rich menu id, once ensured
        self.ids: dict[str, str] = {}
        #: menus of an earlier drawing, deleted once everyone is on the current ones
        self._stale: list[str] = []
        #: how many times every member was linked (a round of ``link_all``)
        self.rounds = 0

    async def ensure(self, *, create: bool = True) -> dict[str, str]:
        """Find or create the three menus and make the guest menu the default; with
        ``create`` False (a process that does not set them up) only find them."""
        listed = await self.api.get_rich_menu_list(_request_timeout=self.timeout)
        existing = {menu.name: menu.rich_menu_id for menu in listed.richmenus}
        if not create:
            found = {plan.key: existing.get(menu_name(plan, self.office)) for plan in PLANS}
            if all(found.values()):
                self.ids = {key: value for key, value in found.items() if value}
            return dict(self.ids)
        for plan in PLANS:
            name = menu_name(plan, self.office)
            menu_id = existing.get(name)
            if menu_id is None:
                created = await self.api.create_rich_menu(menu_request(plan, self.office),
                                                          _request_timeout=self.timeout)
                menu_id = created.rich_menu_id
                image = await asyncio.to_thread(draw, plan, self.office)  # ~0.4 s of CPU
                await self.blob.set_rich_menu_image(
                    menu_id, image,
                    _headers={"Content-Type": "image/png"}, _request_timeout=self.timeout)
                logger.info("created the LINE rich menu %s", name)
            self.ids[plan.key] = menu_id
        await self.api.set_default_rich_menu(self.ids[GUEST.key], _request_timeout=self.timeout)
        self._stale = [menu_id for name, menu_id in existing.items()
                       if name.startswith(PREFIX) and menu_id not in self.ids.values()]
        return dict(self.ids)

    async def link_all(self, members: Iterable[tuple[str, str]]) -> None:
        """Link every (LINE user id, role) to their role's menu, 500 per call, then delete
        the menus of an earlier drawing nobody is left on."""
        by_plan: dict[str, list[str]] = {}
        for user_id, role in members:
            by_plan.setdefault(plan_for(role).key, []).append(user_id)
        for key, users in by_plan.items():
            for start in range(0, len(users), BULK_LIMIT):
                await self.api.link_rich_menu_id_to_users(
                    RichMenuBulkLinkRequest(richMenuId=self.ids[key],
                                            userIds=users[start:start + BULK_LIMIT]),
                    _request_timeout=self.timeout)
        for menu_id in self._stale:
            await self.api.delete_rich_menu(menu_id, _request_timeout=self.timeout)
            logger.info("deleted an earlier LINE rich menu")
        self._stale = []
        self.rounds += 1

    async def link(self, user_id: str, role: str) -> None:
        """The member's menu for ``role`` (at binding, or when the role changed)."""
        await self.api.link_rich_menu_id_to_user(user_id, self.ids[plan_for(role).key],
                                                 _request_timeout=self.timeout)

    async def unlink(self, user_ids: Sequence[str]) -> None:
        """Back to the default menu (a member forgotten)."""
        for user_id in user_ids:
            await self.api.unlink_rich_menu_id_from_user(user_id, _request_timeout=self.timeout)


async def unlink_users(access_token: str, user_ids: Sequence[str], *,
                       api_base_url: str | None = None, timeout: float = 10.0) -> None:
    """Unlink the users' rich menus (they see the default again), outside a running bot:
    for ``sqbot member forget``."""
    from linebot.v3.messaging import AsyncApiClient, Configuration

    client = AsyncApiClient(Configuration(host=api_base_url or "https://api.line.me",
                                          access_token=access_token))
    try:
        api = AsyncMessagingApi(client)
        for user_id in user_ids:
            await api.unlink_rich_menu_id_from_user(user_id, _request_timeout=timeout)
    finally:
        await client.close()
