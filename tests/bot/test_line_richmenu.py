"""LINE rich menus per role (issue #17, item 1), through the fake Messaging API over HTTP.

The fake rejects what LINE rejects (the spec's RichMenuRequest, the size and area rules, an
image of the wrong size or type, linking a menu without its image), so passing here means
the requests are ones LINE takes.
"""

from __future__ import annotations

import asyncio
import io
import json

import httpx
import pytest
from PIL import Image

from bot.line import LineChannel
from bot.richmenu import GUEST, PLANS, SECRETARIAT, STAFF, cells, draw, menu_name, menu_request
from bot.server import create_app
from storage.models import Role
from tests.bot.conftest import serving
from tests.bot.test_line import SECRET, post, say
from tests.fakes import line_webhook as hook
from tests.fakes.line_api import FakeLine
from tests.fakes.line_richmenu import image_size

OFFICE = "經濟部水利署第十河川局"
ALICE, CLERK = hook.user_id("alice"), hook.user_id("clerk")


@pytest.fixture
def fake():
    with FakeLine() as server:
        yield server


def _channel(fake, desk) -> LineChannel:
    return LineChannel.from_dispatcher(
        desk.dispatcher, channel_secret=SECRET, access_token=fake.access_token,
        max_evidence_bytes=1024, api_base_url=fake.base_url, fallback=desk.fallback,
        office=OFFICE)


async def _set_up(channel: LineChannel) -> None:
    """One round of keep_menus: stop as soon as it has linked everyone."""
    stop = asyncio.Event()
    task = asyncio.create_task(channel.keep_menus(stop, every=3600, retry=0.05))
    assert channel.menus is not None
    for _ in range(400):
        if channel.menus.rounds:
            break
        await asyncio.sleep(0.02)
    stop.set()
    await task


@pytest.fixture
async def line(fake, desk):
    channel = _channel(fake, desk)
    desk.outbox.senders = {"line": channel}
    app = create_app(database=desk.database, line=channel, on_shutdown=channel.close)
    async with serving(app) as url, httpx.AsyncClient(base_url=url) as client:
        yield channel, client


def test_the_menus_are_what_each_role_uses_and_the_images_are_drawn_here():
    assert [b.text for b in STAFF.buttons] == ["填寫自評", "我的進度", "創意提案", "年度案例",
                                               "說明"]
    assert [b.text for b in SECRETARIAT.buttons] == ["進度", "審定", "總表", "年度", "提案清單",
                                                      "說明"]
    for plan in PLANS:
        png = draw(plan, OFFICE)
        assert len(png) <= 1024 * 1024 and image_size(png, "image/png") == (2500, 1686)
        image = Image.open(io.BytesIO(png))
        # The header band is drawn (dark) and every tile has ink on it: labels were drawn.
        assert image.getpixel((5, 5)) == (31, 78, 121)
        for x, y, w, h in cells(len(plan.buttons)):
            tile = image.crop((x + 60, y + 60, x + w - 60, y + h - 60)).convert("L")
            assert tile.getextrema()[0] < 100, "a label in the tile"
        request = json.loads(menu_request(plan, OFFICE).to_json())
        assert request["name"] == menu_name(plan, OFFICE) and len(request["chatBarText"]) <= 14
    # The name follows what the menu shows: another office, another menu.
    assert menu_name(STAFF, OFFICE) != menu_name(STAFF, "經濟部水利署第一河川局")


async def test_start_up_creates_three_menus_once_and_links_everyone(fake, desk, line):
    channel, _ = line
    await say(fake, line, ALICE, desk.invite(name="王小明"))
    await say(fake, line, CLERK, desk.invite(name="陳秘書", role=Role.SECRETARIAT,
                                            section="秘書室"))
    await _set_up(channel)
    menus = fake.rich_menus
    assert sorted(m["name"] for m in menus.menus.values()) == sorted(
        menu_name(p, OFFICE) for p in PLANS)
    assert len(menus.images) == 3
    assert menus.name_of(menus.default) == menu_name(GUEST, OFFICE)
    assert menus.name_of(menus.menu_of(ALICE)) == menu_name(STAFF, OFFICE)
    assert menus.name_of(menus.menu_of(CLERK)) == menu_name(SECRETARIAT, OFFICE)
    assert menus.name_of(menus.menu_of(hook.user_id("stranger"))) == menu_name(GUEST, OFFICE)
    # A restart, or a second worker: the menus that exist are found by name and reused.
    again = _channel(fake, desk)
    await _set_up(again)
    assert menus.created == 3 and again.menus.ids == channel.menus.ids
    await again.close()


async def test_binding_links_the_role_s_menu_at_once(fake, desk, line):
    channel, _ = line
    await _set_up(channel)
    await say(fake, line, CLERK, desk.invite(name="陳秘書", role=Role.SECRETARIAT,
                                            section="秘書室"))
    assert fake.rich_menus.name_of(fake.rich_menus.links.get(CLERK)) == \
        menu_name(SECRETARIAT, OFFICE)
    await say(fake, line, ALICE, desk.invite(name="王小明"))
    assert fake.rich_menus.name_of(fake.rich_menus.links.get(ALICE)) == menu_name(STAFF, OFFICE)


async def test_a_menu_press_is_the_word_it_sends(fake, desk, line):
    """The staff menu's 我的進度 sends 我的進度: it works wherever typing it works."""
    channel, _ = line
    await _set_up(channel)
    await say(fake, line, ALICE, desk.invite(name="王小明"))
    menu = fake.rich_menus.menus[fake.rich_menus.links[ALICE]]
    action = next(a["action"] for a in menu["areas"] if a["action"].get("text") == "我的進度")
    assert action["type"] == "message"
    texts = await say(fake, line, ALICE, action["text"])
    assert "規劃課" in texts[-1] and "0/25" in texts[-1]
    # The guest menu's buttons are postbacks: nothing that could count as a wrong code.
    guest = fake.rich_menus.menus[fake.rich_menus.default]
    assert {a["action"]["type"] for a in guest["areas"]} == {"postback"}
    token = fake.issue_reply_token(hook.user_id("new"))
    await post(line[1], hook.postback_event(hook.user_id("new"), guest["areas"][0]["action"][
        "data"], reply_token=token))
    await channel.drain_replies()
    assert "邀請碼" in fake.texts_to(hook.user_id("new"))[-1]


async def test_a_changed_menu_is_made_anew_and_the_old_one_deleted(fake, desk, line):
    channel, _ = line
    await say(fake, line, ALICE, desk.invite(name="王小明"))
    await _set_up(channel)
    old = dict(channel.menus.ids)
    renamed = LineChannel.from_dispatcher(
        desk.dispatcher, channel_secret=SECRET, access_token=fake.access_token,
        max_evidence_bytes=1024, api_base_url=fake.base_url, office="經濟部水利署第一河川局")
    await _set_up(renamed)
    assert set(fake.rich_menus.menus) == set(renamed.menus.ids.values())
    assert not set(old.values()) & set(fake.rich_menus.menus)
    assert fake.rich_menus.links[ALICE] == renamed.menus.ids["staff"]
    await renamed.close()


def test_the_fake_rejects_what_line_rejects(fake):
    with httpx.Client(base_url=fake.base_url,
                      headers={"authorization": f"Bearer {fake.access_token}"}) as http:
        body = json.loads(menu_request(STAFF, OFFICE).to_json())
        narrow = {**body, "size": {"width": 2500, "height": 2000}}
        assert http.post("/v2/bot/richmenu", json=narrow).status_code == 400
        outside = {**body, "areas": [{**body["areas"][0], "bounds": {
            "x": 2400, "y": 0, "width": 200, "height": 100}}]}
        assert http.post("/v2/bot/richmenu", json=outside).status_code == 400
        long_bar = {**body, "chatBarText": "一" * 15}
        assert http.post("/v2/bot/richmenu", json=long_bar).status_code == 400
        menu_id = http.post("/v2/bot/richmenu", json=body).json()["richMenuId"]
        assert http.post(f"/v2/bot/user/all/richmenu/{menu_id}").status_code == 400  # no image
        small = io.BytesIO()
        Image.new("RGB", (800, 270)).save(small, format="PNG")
        assert http.post(f"/v2/bot/richmenu/{menu_id}/content", content=small.getvalue(),
                         headers={"content-type": "image/png"}).status_code == 400
        png = draw(STAFF, OFFICE)
        assert http.post(f"/v2/bot/richmenu/{menu_id}/content", content=png,
                         headers={"content-type": "image/gif"}).status_code == 415
        assert http.post(f"/v2/bot/richmenu/{menu_id}/content", content=png,
                         headers={"content-type": "image/png"}).status_code == 200
        assert http.post(f"/v2/bot/user/all/richmenu/{menu_id}").status_code == 200
