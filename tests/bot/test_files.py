"""Download links for LINE: files and pictures kept by sqbot, served at signed, expiring
addresses (PUBLIC_BASE_URL), sent as links and image messages the Messaging API accepts."""

from __future__ import annotations

import io
import os
import time
from urllib.parse import unquote, urlsplit

import httpx
import pytest
from openpyxl import load_workbook
from PIL import Image

from bot.files import FileLinks, LinkRefused
from bot.line import LineChannel, render
from bot.server import create_app
from handlers.messages import Document, Outgoing
from storage.models import Role
from tests.bot.conftest import serving
from tests.bot.test_line import SECRET, say
from tests.fakes import line_webhook as hook
from tests.fakes.line_api import FakeLine

BASE = "https://sqbot.example.gov.tw"


class Clock:
    def __init__(self) -> None:
        self.now = 1_790_000_000.0

    def __call__(self) -> float:
        return self.now


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 120, 200)).save(out, format="PNG")
    return out.getvalue()


def parts(url: str) -> tuple[str, str, str, str]:
    digest, expires, signature, name = urlsplit(url).path.split("/")[2:]
    return digest, expires, signature, unquote(name)


@pytest.fixture
def links(tmp_path) -> FileLinks:
    made = FileLinks.for_line(tmp_path / "downloads", BASE, SECRET, days=7)
    made.clock = Clock()
    return made


def test_a_link_opens_until_it_expires_and_cannot_be_forged(links):
    doc = Document("115年第4季自行考核成績總表.ods", b"PK ods bytes",
                   "application/vnd.oasis.opendocument.spreadsheet")
    url = links.link(doc)
    assert url.startswith(f"{BASE}/files/")
    digest, expires, signature, name = parts(url)
    assert name == doc.filename
    assert links.open(digest, expires, signature, name) == (
        b"PK ods bytes", "application/vnd.oasis.opendocument.spreadsheet")
    for forged in ((digest, expires, "0" * 32, name),
                   (digest, str(int(expires) + 86400), signature, name),  # a longer life
                   (digest, expires, signature, "其他檔名.ods")):
        with pytest.raises(LinkRefused) as refused:
            links.open(*forged)
        assert refused.value.status == 403
    with pytest.raises(LinkRefused) as refused:
        links.open("../../etc/passwd", expires, signature, name)
    assert refused.value.status == 404
    links.clock.now += 7 * 86400 + 1  # type: ignore[attr-defined]
    with pytest.raises(LinkRefused) as refused:
        links.open(digest, expires, signature, name)
    assert refused.value.status == 410


def test_files_no_link_can_reach_are_removed(links):
    old = parts(links.link(Document("old.ods", b"old", "application/octet-stream")))
    kept = links.root / old[0][:2] / old[0]
    os.utime(kept, (time.time() - 9 * 86400,) * 2)
    links.clock.now = time.time()  # type: ignore[attr-defined]
    assert links.prune(every=0) == 1 and not kept.exists()
    fresh = parts(links.link(Document("old.ods", b"old", "application/octet-stream")))
    assert links.open(*fresh)[0] == b"old"  # linked again: kept again


async def test_the_download_route_serves_the_file_under_its_name(database, links):
    links.clock = time.time
    url = links.link(Document("115年第4季總表.xlsx", b"xlsx bytes", "application/octet-stream"))
    app = create_app(database=database, links=links)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://sqbot") as client:
        response = await client.get(urlsplit(url).path)
        assert response.status_code == 200 and response.content == b"xlsx bytes"
        assert response.headers["content-type"].startswith(
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        assert response.headers["content-disposition"] == (
            "attachment; filename*=UTF-8''115%E5%B9%B4%E7%AC%AC4%E5%AD%A3%E7%B8%BD%E8%A1%A8.xlsx")
        forged = await client.get(urlsplit(url).path.replace("/files/", "/files/0", 1))
        assert forged.status_code == 404
        digest, expires, _, name = parts(url)
        bad = await client.get(f"/files/{digest}/{expires}/{'f' * 32}/{name}")
        assert bad.status_code == 403 and "連結無效" in bad.text
        # An expiry too long to be a time (past Python's int-parsing limit) is no link: 404,
        # not a 500 with a traceback (issue #15, finding 2).
        huge = await client.get(f"/files/{digest}/{'9' * 4400}/{'f' * 32}/{name}")
        assert huge.status_code == 404


def test_without_a_public_address_files_are_named():
    messages = render(Outgoing("總表", document=Document("a.ods", b"x", "x")))
    assert "無法經由 LINE 傳送" in messages[-1].text  # type: ignore[attr-defined]


@pytest.fixture
def fake():
    with FakeLine() as server:
        yield server


@pytest.fixture
async def line_with_links(fake, desk, links):
    links.clock = time.time
    channel = LineChannel.from_dispatcher(
        desk.dispatcher, channel_secret=SECRET, access_token=fake.access_token,
        max_evidence_bytes=64 * 1024, api_base_url=fake.base_url, fallback=desk.fallback,
        links=links)
    desk.outbox.senders = {"line": channel}
    app = create_app(database=desk.database, line=channel, on_shutdown=channel.close,
                     links=links)
    async with serving(app) as url, httpx.AsyncClient(base_url=url) as client:
        yield channel, client


async def test_the_secretariat_on_line_gets_the_table_as_links_and_the_chart_as_a_picture(
        fake, desk, line_with_links):
    chen = hook.user_id("chen-files")
    await say(fake, line_with_links, chen, desk.invite(role=Role.SECRETARIAT, section=None,
                                                        name="陳秘書三"))
    await say(fake, line_with_links, chen, "總表 115年第4季")
    messages = fake.messages_to(chen)
    images = [m for m in messages if m["type"] == "image"]
    assert len(images) == 1  # the chart, which the fake checked against LINE's rules
    assert images[0]["originalContentUrl"].startswith(f"{BASE}/files/")
    texts = [m["text"] for m in messages if m["type"] == "text"]
    links_sent = [t for t in texts if "請由此下載（7 天內有效）" in t]
    assert {t.split("」")[0].split("「")[1].rsplit(".", 1)[1] for t in links_sent} == {
        "ods", "xlsx"}
    _, client = line_with_links
    chart = await client.get(urlsplit(images[0]["originalContentUrl"]).path)
    assert chart.status_code == 200 and chart.content.startswith(b"\x89PNG")
    xlsx_url = next(t.split("\n")[-1] for t in links_sent if ".xlsx" in t)
    table = await client.get(urlsplit(xlsx_url).path)
    assert table.status_code == 200
    sheet = load_workbook(io.BytesIO(table.content)).active
    assert any("規劃課" in str(cell.value) for row in sheet.iter_rows() for cell in row)


async def test_a_picture_too_big_for_a_preview_goes_as_a_link(links):
    links.clock = time.time
    big = Document("大圖.png", png() + b"\0" * (1024 * 1024), "image/png")
    messages = render(Outgoing("圖表", picture=big), links)
    assert "請由此下載" in messages[-1].text  # type: ignore[attr-defined]
    small = render(Outgoing("圖表", picture=Document("圖.png", png(), "image/png")), links)
    assert small[-1].type == "image"
