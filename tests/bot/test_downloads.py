"""Files from LINE and Telegram are fetched only when they would be kept, streamed to the
evidence store and stopped at EVIDENCE_MAX_BYTES (finding 1 of the second reliability pass).

The fake LINE serves generated content in 64 KiB chunks and counts what it actually sent,
so "never downloaded" and "stopped at the cap" are read off the server, not assumed.
"""

from __future__ import annotations

import hashlib
import tracemalloc

import httpx
import pytest
from sqlmodel import select

from bot.line import LineChannel
from bot.server import create_app
from storage.models import Attachment
from tests.bot.conftest import Desk, serving
from tests.bot.test_line import ALICE, SECRET, last_text, onboard, post, say
from tests.fakes import line_webhook as hook
from tests.fakes.line_api import FakeLine

MB = 1024 * 1024


@pytest.fixture
def fake():
    with FakeLine() as server:
        yield server


async def _line(fake, desk):
    channel = LineChannel.from_dispatcher(
        desk.dispatcher, channel_secret=SECRET, access_token=fake.access_token,
        max_evidence_bytes=desk.dispatcher.config.max_evidence_bytes,
        api_base_url=fake.base_url, fallback=desk.fallback)
    desk.outbox.senders = {"line": channel}
    return channel, create_app(database=desk.database, line=channel, on_shutdown=channel.close)


@pytest.fixture
async def line(fake, desk):
    channel, app = await _line(fake, desk)
    async with serving(app) as url, httpx.AsyncClient(base_url=url) as client:
        yield channel, client


def content_requests(fake, message_id: str) -> int:
    return sum(1 for r in fake.requests if r.path == f"/v2/bot/message/{message_id}/content")


def stored_files(desk) -> list[Attachment]:
    with desk.database.transaction() as session:
        return list(session.exec(select(Attachment)).all())


def left_in_store(desk) -> list[str]:
    root = desk.evidence_root
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) \
        if root.exists() else []


async def send_image(fake, line, user, message_id):
    channel, client = line
    await post(client, hook.image_event(user, message_id, reply_token=fake.issue_reply_token(user)))
    await channel.drain_replies()


async def test_a_strangers_image_is_never_downloaded(fake, desk, line):
    fake.add_large_content("m-1", 100 * MB, "image/jpeg")
    await send_image(fake, line, ALICE, "m-1")
    assert "邀請碼" in last_text(fake, ALICE)
    assert content_requests(fake, "m-1") == 0 and fake.served["m-1"] == 0
    assert left_in_store(desk) == []


async def test_a_member_whose_window_takes_no_file_gets_no_download(fake, desk, line):
    await onboard(fake, line, desk)  # at the menu: no question is open
    fake.add_large_content("m-2", 10 * MB, "image/jpeg")
    await send_image(fake, line, ALICE, "m-2")
    assert "檔案未被保存" in last_text(fake, ALICE)
    assert content_requests(fake, "m-2") == 0


async def test_a_file_that_declares_1_kb_is_stopped_at_the_cap(fake, desk, line):
    channel, client = line
    await onboard(fake, line, desk)
    await say(fake, line, ALICE, "填寫自評")
    await say(fake, line, ALICE, "100")  # 1.1 answered: a file now is its evidence
    fake.add_large_content("m-3", 50 * MB, "application/pdf")
    await post(client, hook.file_event(ALICE, "m-3", "公告.pdf", 1024,
                                       reply_token=fake.issue_reply_token(ALICE)))
    await channel.drain_replies()
    assert "檔案太大（超過 64 KB）" in last_text(fake, ALICE)
    assert stored_files(desk) == []
    assert left_in_store(desk) == []  # nothing half-written, in the store or its spool
    assert fake.served["m-3"] < 10 * MB  # the download stopped; the rest was never read


async def test_an_upload_is_streamed_to_the_store_never_held_whole(fake, database, tmp_path):
    desk = Desk(database, tmp_path / "evidence", max_bytes=64 * MB)
    channel, app = await _line(fake, desk)
    async with serving(app) as url, httpx.AsyncClient(base_url=url) as client:
        line = (channel, client)
        await onboard(fake, line, desk)
        await say(fake, line, ALICE, "填寫自評")
        await say(fake, line, ALICE, "100")
        fake.add_large_content("m-4", 30 * MB, "image/jpeg")
        tracemalloc.start()
        try:
            await send_image(fake, line, ALICE, "m-4")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert "已收到照片（30.0 MB），列為 1.1 的佐證" in last_text(fake, ALICE)
    expected = hashlib.sha256((bytes(range(256)) * 256) * (30 * 16)).hexdigest()
    (kept,) = stored_files(desk)
    assert (kept.size, kept.sha256) == (30 * MB, expected)
    assert left_in_store(desk) == [f"{expected[:2]}/{expected}"]  # the spool is empty
    assert peak < 30 * MB / 3, f"{peak / MB:.1f} MB allocated at the peak for a 30 MB file"


# --- Telegram: getFile only for a member whose window takes a file -----------------------------


async def test_telegram_files_of_strangers_and_of_the_menu_are_never_fetched(desk):
    from tests.bot.test_telegram import TOKEN, USER, onboard, polling, said
    from tests.fakes.telegram_api import FakeTelegram

    with FakeTelegram(TOKEN) as fake:
        async with polling(fake, desk):
            fake.photo(USER, b"\xff\xd8\xff a stranger's photo")
            await said(fake, USER, "邀請碼")
            await onboard(fake, desk)
            fake.document(USER, b"%PDF at the menu", file_name="a.pdf",
                          mime_type="application/pdf")
            await said(fake, USER, "檔案未被保存")
            assert fake.calls_to("getFile") == [] and fake.downloads == []
            fake.user_text(USER, "填寫自評")
            await said(fake, USER, "第 1/25 題")
            fake.user_text(USER, "100")
            await said(fake, USER, "已記錄 1.1")
            fake.document(USER, b"%PDF evidence", file_name="b.pdf", mime_type="application/pdf")
            await said(fake, USER, "已收到檔案「b.pdf」")
            assert len(fake.calls_to("getFile")) == 1 and len(fake.downloads) == 1
    assert left_in_store(desk) == [
        f"{d[:2]}/{d}" for d in [hashlib.sha256(b"%PDF evidence").hexdigest()]]
