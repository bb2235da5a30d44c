"""The Telegram channel over real HTTP: python-telegram-bot against the fake Bot API server."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlmodel import select

from bot.server import create_app
from bot.telegram import COMMANDS, TelegramChannel, keyboard, webhook_secret_for
from handlers.messages import Choice, Outgoing
from rubric import load_year
from storage.models import Answer, Attachment, ChatBinding, ChatIdentity, OutboxMessage, Role
from storage.outbox import enqueue
from tests.bot.conftest import eventually
from tests.fakes.telegram_api import FakeTelegram

TOKEN = "123456:" + "A" * 35
USER = 5001
RUBRIC = load_year(105)


@pytest.fixture
def fake():
    with FakeTelegram(TOKEN) as server:
        yield server


@contextlib.asynccontextmanager
async def polling(fake, desk):
    """sqbot's Telegram channel, started against ``fake`` and polling it."""
    channel = TelegramChannel.from_dispatcher(
        desk.dispatcher, token=TOKEN, max_evidence_bytes=64 * 1024, api_base_url=fake.base_url,
        fallback=desk.fallback, commands_retry_delay=0.05)
    desk.outbox.senders = {"telegram": channel}
    await channel.start()
    stop = asyncio.Event()
    task = asyncio.create_task(channel.poll(stop, timeout=1))
    try:
        yield channel
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=10)
        await channel.stop()


@pytest.fixture
async def telegram(fake, desk):
    async with polling(fake, desk) as channel:
        yield channel


async def said(fake, chat_id, needle, *, timeout=15.0) -> str:
    """Wait until the bot has said something containing ``needle`` to ``chat_id``."""
    found = await eventually(
        lambda: next((t for t in reversed(fake.sent_texts(chat_id)) if needle in t), None),
        timeout=timeout, message=f"{needle!r} to {chat_id}; said: {fake.sent_texts(chat_id)}")
    return str(found)


def last_keyboard(fake, chat_id) -> list[dict]:
    """The buttons of the newest message that shows any, as it is now (after edits)."""
    for sent in reversed(fake.sent_messages(chat_id)):
        message = fake.message(int(chat_id), sent["message_id"]) or {}
        markup = message.get("reply_markup") or {}
        if markup.get("inline_keyboard"):
            return [b for row in markup["inline_keyboard"] for b in row]
    return []


def button(fake, chat_id, label) -> str:
    buttons = last_keyboard(fake, chat_id)
    found = [b["callback_data"] for b in buttons if b["text"] == label]
    assert found, f"no button {label!r} in {[b['text'] for b in buttons]}"
    return found[0]


async def onboard(fake, desk, user=USER, name="王小明") -> None:
    code = desk.invite(name=name)
    fake.user_text(user, code)
    await said(fake, user, f"綁定完成！{name}您好")


def menu(fake, scope) -> list[tuple[str, str]]:
    return [(c["command"], c["description"]) for c in fake.commands(scope)]


async def test_commands_are_registered_in_chinese_per_scope(fake, telegram):
    """Private chats get a member's own commands, groups only /bind: nobody is offered a
    command their chat cannot use (the desk's are for the bound group, below)."""
    private, groups = {"type": "all_private_chats"}, {"type": "all_group_chats"}
    await eventually(lambda: menu(fake, groups), message="setMyCommands for groups")
    assert menu(fake, private) == COMMANDS
    assert [name for name, _ in menu(fake, groups)] == ["bind", "help"]
    assert not {"verify", "table", "followup"} & {name for name, _ in menu(fake, private)}


async def test_a_bound_group_gets_the_desks_commands_now_and_at_every_start(fake, desk,
                                                                            telegram):
    from bot.telegram import DESK_COMMANDS

    group = -100555
    code = desk.invite(role=Role.SECRETARIAT, section="秘書室")
    fake.group_text(group, 7001, f"/bind {code}")
    await said(fake, group, "本群組已綁定為")
    scope = {"type": "chat", "chat_id": group}
    await eventually(lambda: menu(fake, scope), message="the group's desk commands")
    assert menu(fake, scope) == DESK_COMMANDS
    assert not {"fill", "submit", "propose"} & {name for name, _ in DESK_COMMANDS}
    with fake._lock:  # forgotten: a restart must read the bound groups from the database
        fake._commands.clear()
    async with polling(fake, desk):
        await eventually(lambda: menu(fake, scope), message="the desk's commands again")


async def test_a_secretariat_member_s_private_menu_adds_the_desk_and_the_button_opens_it(
        fake, desk, telegram):
    """Issue #17, item 2: the secretariat's members reach the desk from their private chat's
    menu too (at binding and at every start); staff are offered only their own commands;
    the menu button opens the command list."""
    from bot.telegram import SECRETARIAT_COMMANDS

    await eventually(lambda: fake.menu_button() is not None, message="the menu button")
    assert fake.menu_button() == {"type": "commands"}
    clerk = 8123
    code = desk.invite(name="陳秘書", role=Role.SECRETARIAT, section="秘書室")
    fake.user_text(clerk, code)
    await said(fake, clerk, "綁定完成！陳秘書您好")
    scope = {"type": "chat", "chat_id": clerk}
    await eventually(lambda: menu(fake, scope), message="the clerk's own menu")
    names = [name for name, _ in menu(fake, scope)]
    assert {"fill", "verify", "table", "annual"} <= set(names) and names.count("help") == 1
    assert menu(fake, scope) == SECRETARIAT_COMMANDS
    await onboard(fake, desk)  # a staff member: the private chats' list, no chat scope
    assert menu(fake, {"type": "chat", "chat_id": USER}) == []
    with fake._lock:  # a restart reads the secretariat's members from the database
        fake._commands.clear()
    async with polling(fake, desk):
        await eventually(lambda: menu(fake, scope), message="the clerk's menu again")


async def test_failed_set_my_commands_is_retried_and_never_fatal(fake, desk):
    fake.fail_next("setMyCommands", kind="500", times=2)
    channel = TelegramChannel.from_dispatcher(desk.dispatcher, token=TOKEN,
                                              max_evidence_bytes=1024,
                                              api_base_url=fake.base_url,
                                              commands_retry_delay=0.05)
    await channel.start()
    await eventually(lambda: len(fake.calls_to("setMyCommands")) == 2,
                     message="retried setMyCommands, both scopes")
    attempts = [c for c in fake.calls if c.method.lower() == "setmycommands"]
    assert [c.status for c in attempts] == [500, 500, 200, 200]
    await channel.stop()


async def test_onboarding_with_a_code_and_a_deep_link(fake, desk, telegram):
    fake.user_text(USER, "你好")
    await said(fake, USER, "請輸入秘書室提供的邀請碼")
    await onboard(fake, desk)
    code = desk.invite(name="李四")
    fake.user_text(6002, f"/start {code}")
    await said(fake, 6002, "綁定完成！李四您好")
    with desk.database.transaction() as session:
        identities = session.exec(select(ChatIdentity).where(
            ChatIdentity.channel == "telegram")).all()
    assert sorted(i.platform_user_id for i in identities) == [str(USER), "6002"]


async def test_answer_by_button_and_by_typed_number(fake, desk, telegram):
    await onboard(fake, desk)
    fake.user_text(USER, "填寫自評")
    await said(fake, USER, "第 1/25 題")
    fake.callback(USER, button(fake, USER, "81-120分"))
    await said(fake, USER, "請選擇 81 到 120 之間的分數")
    fake.callback(USER, button(fake, USER, "110分"))
    await said(fake, USER, "第 2/25 題")  # the score moved on at once
    fake.user_text(USER, "５０分")
    await said(fake, USER, "已記錄 1.2")
    with desk.database.transaction() as session:
        answers = {a.question_code: a.self_score for a in session.exec(select(Answer)).all()}
    assert answers == {"1.1": 110, "1.2": 50}
    # Every press is answered, and the pressed message is redrawn in place: the band's
    # scores, then 1.2 — not sent again below (issue #14).
    assert len(fake.calls_to("answerCallbackQuery")) == 2
    edits = fake.calls_to("editMessageText")
    assert len(edits) == 2 and not fake.calls_to("editMessageReplyMarkup")
    assert len({call.params["message_id"] for call in edits}) == 1
    questions = [t for t in fake.sent_texts(USER) if "第 1/25 題" in t or "第 2/25 題" in t]
    assert len(questions) == 2  # 1.1 sent, then 1.2 drawn over it; the typed 50 sent 1.3


async def test_callback_from_a_stale_message_is_refused(fake, desk, telegram):
    await onboard(fake, desk)
    fake.user_text(USER, "填寫自評")
    await said(fake, USER, "第 1/25 題")
    question_message = fake.last_sent(USER)["message_id"]
    stale = button(fake, USER, "0分（未辦理）")
    fake.user_text(USER, "100")
    await said(fake, USER, "已記錄 1.1")
    fake.callback(USER, stale, message_id=question_message)  # a button on the older message
    await said(fake, USER, "這個按鈕已經過期")
    with desk.database.transaction() as session:
        assert [a.self_score for a in session.exec(select(Answer)).all()] == [100]


async def test_user_text_is_escaped_for_html(fake, desk, telegram):
    await onboard(fake, desk)
    fake.user_text(USER, "填寫自評")
    await said(fake, USER, "第 1/25 題")
    fake.user_text(USER, "<b>85</b> & <script>")
    text = await said(fake, USER, "不是分數")
    assert "<b>85</b>" in text  # shown as typed: the fake decoded the escaped HTML
    sent = fake.calls_to("sendMessage")[-1].params["text"]
    assert "&lt;b&gt;85&lt;/b&gt;" in sent


async def test_evidence_photo_and_document_are_downloaded_and_kept(fake, desk, telegram):
    await onboard(fake, desk)
    fake.user_text(USER, "填寫自評")
    await said(fake, USER, "第 1/25 題")
    fake.user_text(USER, "100")
    await said(fake, USER, "已記錄 1.1")
    photo = b"\xff\xd8\xff largest photo bytes"
    fake.photo(USER, photo)
    await said(fake, USER, "已收到照片")
    document = b"%PDF-1.4 flow chart"
    fake.document(USER, document, file_name="流程圖.pdf", mime_type="application/pdf")
    await said(fake, USER, "已收到檔案「流程圖.pdf」")
    fake.document(USER, b"x" * (64 * 1024 + 1), file_name="big.zip", mime_type="application/zip")
    await said(fake, USER, "檔案太大")
    with desk.database.transaction() as session:
        files = session.exec(select(Attachment).order_by(Attachment.id)).all()
    assert [(f.sha256, f.size, f.mime_type) for f in files] == [
        (hashlib.sha256(photo).hexdigest(), len(photo), "image/jpeg"),
        (hashlib.sha256(document).hexdigest(), len(document), "application/pdf"),
    ]
    assert (desk.evidence_root / files[0].stored_path).read_bytes() == photo


async def test_text_over_4096_is_split_at_lines_and_keeps_every_character(fake, telegram):
    from handlers.messages import Outgoing

    lines = [f"{n:03d} " + "服務品質" * 30 + " <&>" for n in range(60)]  # about 7,500 characters
    text = "\n".join(lines)
    await telegram.send("9001", Outgoing(text, (Choice("選單", "0:m:menu"),)), key="")
    parts = fake.sent_texts(9001)
    assert len(parts) == 2 and all(len(part) <= 4096 for part in parts)
    assert "\n".join(parts) == text
    sent = [c for c in fake.calls_to("sendMessage") if str(c.params["chat_id"]) == "9001"]
    assert "reply_markup" not in sent[0].params and sent[1].params["reply_markup"]


async def test_unhandled_update_types_are_ignored(fake, desk, telegram):
    await onboard(fake, desk)
    before = len(fake.calls_to("sendMessage"))
    fake.edited_message(USER, "改過的字")
    fake.raw_update({"channel_post": {"message_id": 1, "date": 0,
                                      "chat": {"id": -100300, "type": "channel"}, "text": "hi"}})
    fake.user_text(USER, "說明")
    await said(fake, USER, "使用說明")
    assert len(fake.calls_to("sendMessage")) == before + 1


async def test_chat_member_changes_join_leave_block_and_unblock(fake, desk, telegram):
    group = -100200
    fake.my_chat_member(group, 7001, "member")  # the bot is added to a group
    await said(fake, group, "綁定 邀請碼")
    code = desk.invite(role=Role.SECRETARIAT, section="秘書室")
    fake.group_text(group, 7001, f"/bind {code}")
    await said(fake, group, "本群組已綁定為")
    fake.my_chat_member(group, 7001, "kicked")  # and removed again
    await eventually(lambda: not _bindings(desk), message="the binding is dropped")
    await onboard(fake, desk)
    fake.my_chat_member(USER, USER, "kicked")  # the member blocks the bot
    await eventually(lambda: _identity(desk).unreachable_since is not None,
                     message="marked unreachable")
    fake.my_chat_member(USER, USER, "member")  # and unblocks it
    await said(fake, USER, "歡迎回來！王小明您好")
    assert _identity(desk).unreachable_since is None


def _bindings(desk) -> list:
    with desk.database.transaction() as session:
        return list(session.exec(select(ChatBinding)).all())


def _identity(desk):
    with desk.database.transaction() as session:
        return session.exec(select(ChatIdentity).where(
            ChatIdentity.platform_user_id == str(USER))).one()


async def test_group_binding_and_notices_through_the_outbox(fake, desk, telegram):
    group = -100777
    staff_code = desk.invite()
    fake.group_text(group, 7001, f"/bind@sqbot_test_bot {staff_code}")
    await said(fake, group, "無法以這組邀請碼綁定群組")
    fake.group_text(group, 7001, "大家好")  # chatter in an unbound group: no answer
    code = desk.invite(role=Role.SECRETARIAT, section="秘書室")
    fake.group_text(group, 7001, f"/bind {code}")
    await said(fake, group, "本群組已綁定為")
    with desk.database.transaction() as session:
        assert session.exec(select(ChatBinding)).one().chat_id == str(group)
    await onboard(fake, desk)
    fake.user_text(USER, "填寫自評")
    await said(fake, USER, "第 1/25 題")
    for question in RUBRIC.questions:  # 填寫自評, 25 scores, 送出, 確認: 28 messages
        fake.user_text(USER, "0")
        await said(fake, USER, f"已記錄 {question.code}")
    await said(fake, USER, "全部 25 題都已作答")
    fake.user_text(USER, "送出")
    await said(fake, USER, "確定送出嗎")
    fake.user_text(USER, "確認")
    await said(fake, USER, "收件編號")  # the rubric itself speaks of 收件確認訊息
    await desk.outbox.drain_once()
    await said(fake, group, "【自評送出】規劃課 115年第4季")
    assert [r.status for r in desk.outbox_rows()] == ["sent"]
    # Someone in the group who is not the secretariat presses 開始審定: nothing happens to
    # the shared notice; its button stays for the secretariat (issue #15, finding 6).
    notice = fake.last_sent(group)
    assert notice is not None and notice.get("reply_markup")
    answered = len(fake.calls_to("answerCallbackQuery"))
    fake.callback(7002, notice["reply_markup"]["inline_keyboard"][0][0]["callback_data"],
                  chat_id=group, message_id=notice["message_id"])
    await eventually(lambda: len(fake.calls_to("answerCallbackQuery")) > answered,
                     message="the press answered")
    await asyncio.sleep(0.3)
    assert (fake.message(group, notice["message_id"]) or {}).get("reply_markup") \
        == notice["reply_markup"]
    assert not fake.calls_to("editMessageReplyMarkup")


async def test_privacy_mode_the_group_is_told_to_use_commands(desk):
    """With BotFather's privacy mode on (getMe: can_read_all_group_messages false) typed
    words in a group never reach the bot: the greeting, the binding and 說明 there give the
    commands, /healthz says so, and the desk works by command (issue #15, finding 12)."""
    with FakeTelegram(TOKEN, privacy_mode=True) as fake:
        async with polling(fake, desk) as channel:
            assert channel.privacy_mode is True
            group = -100999
            fake.my_chat_member(group, 7001, "member")
            greeting = await said(fake, group, "大家好")
            assert "/bind@sqbot_test_bot 邀請碼" in greeting
            own = desk.invite(role=Role.SECRETARIAT, section="秘書室", name="陳秘書")
            fake.user_text(7001, own)
            await said(fake, 7001, "綁定完成")
            code = desk.invite(role=Role.SECRETARIAT, section="秘書室")
            assert fake.group_text(group, 7001, f"綁定 {code}") == -1  # never arrives
            fake.group_text(group, 7001, f"/bind@sqbot_test_bot {code}")
            bound = await said(fake, group, "本群組已綁定為")
            assert "/progress@sqbot_test_bot" in bound
            fake.callback(7001, button(fake, group, "說明"), chat_id=group)
            help_text = await said(fake, group, "秘書室群組說明")
            for command in ("/progress@sqbot_test_bot", "/verify@sqbot_test_bot 課室名稱",
                            "/table@sqbot_test_bot", "/annual@sqbot_test_bot"):
                assert command in help_text, command
            assert "填寫自評" not in help_text  # the desk's help, not the staff's
            fake.group_text(group, 7001, "/progress@sqbot_test_bot")
            await said(fake, group, "各課室")
            app = create_app(database=desk.database, telegram=channel)
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                         base_url="http://sqbot") as client:
                health = (await client.get("/healthz")).json()
            assert health["telegram_privacy_mode"] is True


async def test_without_privacy_mode_the_group_types_words(fake, desk, telegram):
    assert telegram.privacy_mode is False
    group = -100998
    fake.my_chat_member(group, 7001, "member")
    greeting = await said(fake, group, "大家好")
    assert "「綁定 邀請碼」" in greeting and "/bind@" not in greeting


async def test_429_waits_and_the_message_goes_out_once(fake, desk, telegram):
    await onboard(fake, desk)
    from storage.outbox import enqueue

    with desk.database.transaction() as session:
        enqueue(session=session, destination=("telegram", str(USER)),
                payload={"text": "提醒：本季自評將於 115年12月20日 截止", "choices": []},
                key="nudge-1", now=desk.clock.now)
    fake.fail_next("sendMessage", kind="429", retry_after=1)
    await desk.outbox.drain_once()
    texts = [t for t in fake.sent_texts(USER) if t.startswith("提醒")]
    assert texts == ["提醒：本季自評將於 115年12月20日 截止"]
    assert [r.status for r in desk.outbox_rows()] == ["sent"]


async def test_blocked_user_is_marked_unreachable_and_the_secretariat_told(fake, desk,
                                                                           telegram):
    await onboard(fake, desk)
    group = -100888
    code = desk.invite(role=Role.SECRETARIAT, section="秘書室")
    fake.group_text(group, 7001, f"/bind {code}")
    await said(fake, group, "本群組已綁定為")
    from storage.outbox import enqueue

    with desk.database.transaction() as session:
        enqueue(session=session, destination=("telegram", str(USER)),
                payload={"text": "提醒：請填寫自評", "choices": []}, key="nudge-2",
                now=desk.clock.now, agency_id=1)
    fake.fail_next("sendMessage", kind="403")
    await desk.outbox.drain_once()
    rows = desk.outbox_rows()
    assert rows[0].status == "failed" and "unreachable" in rows[0].last_error
    with desk.database.transaction() as session:
        identity = session.exec(select(ChatIdentity).where(
            ChatIdentity.platform_user_id == str(USER))).one()
    assert identity.unreachable_since is not None
    await desk.outbox.drain_once()
    await said(fake, group, "【傳送失敗】王小明（telegram）：對方已封鎖或無法聯繫")


async def test_failed_reply_after_commit_is_kept_in_the_outbox(fake, desk, telegram):
    await onboard(fake, desk)
    fake.fail_next("sendMessage", kind="500", times=1)
    fake.user_text(USER, "說明")
    await eventually(lambda: any(r.status == "pending" for r in desk.outbox_rows()),
                     message="reply queued after a 500")
    await desk.outbox.drain_once()
    await said(fake, USER, "使用說明")


def _table_reply() -> Outgoing:
    """A reply of a text plus files, like 總表 in the secretariat's group."""
    import io

    from PIL import Image

    from handlers.messages import Document

    chart = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 120, 200)).save(chart, format="PNG")
    return Outgoing("【115年第4季考核總表】附件為總表與圖表",
                    document=Document("115Q4.ods", b"PK-table", "application/vnd.oasis"),
                    picture=Document("115Q4.png", chart.getvalue(), "image/png"))


async def test_an_outbox_retry_sends_only_the_parts_not_delivered(fake, desk, telegram):
    """sendDocument fails three times: the text went on the first try and is never sent
    again; the document and the picture each arrive once (issue #15, finding 3)."""
    await onboard(fake, desk)
    with desk.database.transaction() as session:
        enqueue(session=session, destination=("telegram", str(USER)),
                payload=_table_reply().to_payload(), key="table-1", now=desk.clock.now)
    fake.fail_next("sendDocument", kind="500", times=3)
    for _ in range(6):
        await desk.outbox.drain_once()
        desk.clock.set(desk.clock.now + timedelta(minutes=5))
    assert fake.sent_texts(USER).count("【115年第4季考核總表】附件為總表與圖表") == 1
    assert len([c for c in fake.calls_to("sendDocument")
                if str(c.params.get("chat_id")) == str(USER)]) == 1
    assert len([c for c in fake.calls_to("sendPhoto")
                if str(c.params.get("chat_id")) == str(USER)]) == 1
    row = next(r for r in desk.outbox_rows() if r.idempotency_key == "table-1")
    assert row.status == "sent" and row.attempts == 4


async def test_a_reply_whose_file_failed_queues_only_the_rest(fake, desk, telegram):
    """The reply's text went right after the commit and its document failed: the outbox
    keeps the rest, and its retry does not send the text again."""
    await onboard(fake, desk)
    fake.fail_next("sendDocument", kind="500", times=1)
    await telegram._reply(str(USER), [_table_reply(), Outgoing("下一則")])
    pending = [r for r in desk.outbox_rows() if r.status == "pending"]
    assert len(pending) == 2 and pending[0].parts_sent == 1
    await desk.outbox.drain_once()
    assert fake.sent_texts(USER).count("【115年第4季考核總表】附件為總表與圖表") == 1
    assert fake.sent_texts(USER).count("下一則") == 1
    assert len([c for c in fake.calls_to("sendDocument")
                if str(c.params.get("chat_id")) == str(USER)]) == 1


async def test_polling_refetches_an_update_that_was_not_committed(fake, desk, telegram):
    """While the database cannot commit, the offset is not confirmed: the same update comes
    back from getUpdates and is processed once the database is free."""
    from storage.db import Database

    code = desk.invite(name="王小明")
    url = desk.database.engine.url.render_as_string(hide_password=False)
    desk.dispatcher.database = Database.from_url(url, busy_timeout_s=0.1)
    blocker = Blocker(desk.database)
    try:
        update_id = fake.user_text(USER, code)
        await eventually(lambda: sum(1 for c in fake.calls_to("getUpdates")
                                     if c.params.get("offset") in (None, update_id)) >= 2,
                         message="the update fetched again")
        assert not any("綁定完成" in t for t in fake.sent_texts(USER))
    finally:
        blocker.release()
    await said(fake, USER, "綁定完成")
    await eventually(lambda: any(c.params.get("offset") == update_id + 1
                                 for c in fake.calls_to("getUpdates")), message="confirmed")
    assert sum("綁定完成" in t for t in fake.sent_texts(USER)) == 1
    desk.dispatcher.database.dispose()


# --- webhook ---------------------------------------------------------------------------------


@pytest.fixture
async def webhook(fake, desk):
    channel = TelegramChannel.from_dispatcher(
        desk.dispatcher, token=TOKEN, max_evidence_bytes=1024, api_base_url=fake.base_url,
        webhook_url="https://bot.example.gov.tw/telegram/webhook", commands_retry_delay=0.05)
    app = create_app(database=desk.database, telegram=channel, on_startup=channel.start,
                     on_shutdown=channel.stop)
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), \
            httpx.AsyncClient(transport=transport, base_url="http://sqbot") as client:
        yield channel, client


def update_json(update_id: int, user: int, text: str) -> dict:
    return {"update_id": update_id,
            "message": {"message_id": update_id, "date": 1764205200,
                        "chat": {"id": user, "type": "private", "first_name": "測試"},
                        "from": {"id": user, "is_bot": False, "first_name": "測試"},
                        "text": text}}


async def test_webhook_is_set_with_a_derived_secret(fake, webhook):
    channel, _ = webhook
    assert fake.webhook_url == "https://bot.example.gov.tw/telegram/webhook"
    assert fake.webhook_secret == webhook_secret_for(TOKEN) != TOKEN
    assert channel.mode == "webhook"


async def test_webhook_with_a_wrong_secret_is_refused_and_nothing_stored(desk, webhook):
    _, client = webhook
    for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}):
        response = await client.post("/telegram/webhook", json=update_json(1, USER, "hi"),
                                     headers=headers)
        assert response.status_code == 403
    with desk.database.transaction() as session:
        from storage.models import ProcessedEvent

        assert session.exec(select(ProcessedEvent)).all() == []


async def test_webhook_bad_bodies_get_4xx(webhook):
    channel, client = webhook
    secret = {"X-Telegram-Bot-Api-Secret-Token": channel.webhook_secret}
    cases = [
        (b"{not json", "application/json", 400),
        (b"[]", "application/json", 400),
        (b"x" * (1024 * 1024 + 1), "application/json", 413),
        (b"update_id=1", "application/x-www-form-urlencoded", 415),
    ]
    for body, content_type, status in cases:
        response = await client.post("/telegram/webhook", content=body,
                                     headers={**secret, "content-type": content_type})
        assert response.status_code == status


async def test_webhook_same_update_twice_is_processed_once(fake, desk, webhook):
    channel, client = webhook
    secret = {"X-Telegram-Bot-Api-Secret-Token": channel.webhook_secret}
    code = desk.invite(name="王小明")
    first = await client.post("/telegram/webhook", json=update_json(10, USER, code),
                              headers=secret)
    again = await client.post("/telegram/webhook", json=update_json(10, USER, code),
                              headers=secret)
    assert first.status_code == again.status_code == 200
    assert sum("綁定完成" in t for t in fake.sent_texts(USER)) == 1


class Blocker:
    """Another writer holding a lock on the events table, so no event can commit."""

    def __init__(self, database) -> None:
        url = database.engine.url
        self.backend = database.backend
        if database.backend == "sqlite":
            import sqlite3

            self.connection = sqlite3.connect(url.database, timeout=0.1, isolation_level=None)
            self.connection.execute("BEGIN EXCLUSIVE")
        else:
            import psycopg

            dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
            self.connection = psycopg.connect(dsn)
            self.connection.execute("LOCK TABLE processed_events IN ACCESS EXCLUSIVE MODE")

    def release(self) -> None:
        if self.backend == "sqlite":
            self.connection.execute("ROLLBACK")
        else:
            self.connection.rollback()
        self.connection.close()


async def test_webhook_answers_500_until_committed_then_processes_once(fake, desk, webhook):
    """A database that cannot commit (another writer holds the lock past the busy timeout)
    gets a 500, so Telegram delivers again; the redelivery is processed, once."""
    from storage.db import Database

    channel, client = webhook
    secret = {"X-Telegram-Bot-Api-Secret-Token": channel.webhook_secret}
    code = desk.invite(name="王小明")
    url = desk.database.engine.url.render_as_string(hide_password=False)
    desk.dispatcher.database = Database.from_url(url, busy_timeout_s=0.2)
    blocker = Blocker(desk.database)
    try:
        response = await client.post("/telegram/webhook", json=update_json(20, USER, code),
                                     headers=secret)
        assert response.status_code == 500
    finally:
        blocker.release()
    assert not any("綁定完成" in t for t in fake.sent_texts(USER))
    for _ in range(2):  # Telegram redelivers; a second redelivery is dropped
        response = await client.post("/telegram/webhook", json=update_json(20, USER, code),
                                     headers=secret)
        assert response.status_code == 200
    assert sum("綁定完成" in t for t in fake.sent_texts(USER)) == 1
    desk.dispatcher.database.dispose()


async def test_healthz(desk, webhook):
    _, client = webhook
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "telegram": "webhook", "line": "off",
                               "telegram_privacy_mode": False,
                               "outbox": {"pending": 0, "oldest_seconds": None}}
    with desk.database.transaction() as session:  # two messages waiting for a while
        # A console identity's notice waits for that console chat to open; sqbot run never
        # sends it, so it is no backlog to alert on (issue #15, finding 9).
        enqueue(session=session, destination=("console", "console-1"),
                payload=Outgoing("通知").to_payload(), key="console-wait",
                now=datetime.now(UTC) - timedelta(days=30))
        for n in range(2):
            enqueue(session=session, destination=("telegram", str(USER + n)),
                    payload=Outgoing(f"通知{n}").to_payload(), key=f"wait-{n}",
                    now=datetime.now(UTC) - timedelta(minutes=10))
    outbox = (await client.get("/healthz")).json()["outbox"]
    assert outbox["pending"] == 2 and 600 <= outbox["oldest_seconds"] < 700


# --- rendering -------------------------------------------------------------------------------


def test_keyboard_rows_respect_telegram_limits():
    many = [Choice(f"{n}分", f"1:s:1:1.1:{n}") for n in range(120)]
    markup = keyboard(many)
    assert markup is not None
    rows = markup.inline_keyboard
    assert all(len(row) <= 8 for row in rows)
    assert sum(len(row) for row in rows) == 100
    long = keyboard([Choice("輸入網站資訊內容及連結抽測正確件數", "1:e:1:4.3"),
                     Choice("暫停", "1:z")])
    assert long is not None and [len(r) for r in long.inline_keyboard] == [1, 1]


def test_outbox_row_payload_round_trip_keeps_choices():
    from handlers.messages import Outgoing

    message = Outgoing("hi", (Choice("填寫自評", "0:m:fill"),))
    assert Outgoing.from_payload(message.to_payload()) == message
    assert OutboxMessage  # the table the payload lives in


def test_only_a_conversation_button_redraws_its_own_message():
    """A notice's or a menu's button (step 0) is on a message others share or an old one:
    pressing it never overwrites that message; a reply with a file or card is sent anew."""
    from bot.telegram import _editable
    from handlers.messages import Card, Document

    plain = Outgoing("第 2/25 題")
    assert _editable("3:ok", plain)
    assert not _editable("0:vo:7", plain) and not _editable("0:m:fill", plain)
    assert not _editable("garbage", plain) and not _editable(None, plain)
    assert not _editable("3:ok", Outgoing("總表", document=Document("a.ods", b"x", "x/y")))
    assert not _editable("3:ok", Outgoing("收件確認", card=Card("收件確認", ())))
    assert not _editable("3:ok", Outgoing("長" * 5000))


async def test_authenticated_but_malformed_updates_are_rejected_once(desk, webhook, caplog):
    """Issue #15, finding 5: an update python-telegram-bot cannot read (a callback without
    chat_instance, a message without date) or JSON nested past any sense answered 500 with a
    traceback, so Telegram sent it again for ever. Now: 200 and one line in the log."""
    import logging

    _, client = webhook
    secret = {"X-Telegram-Bot-Api-Secret-Token": webhook_secret_for(TOKEN),
              "content-type": "application/json"}
    no_instance = {"update_id": 31, "callback_query": {
        "id": "q1", "from": {"id": USER, "is_bot": False, "first_name": "測試"},
        "data": "1:z", "message": update_json(30, USER, "x")["message"]}}
    no_date = update_json(32, USER, "你好")
    del no_date["message"]["date"]
    nested = '{"update_id": 33, "message": ' + "[" * 100_000 + "]" * 100_000 + "}"
    caplog.set_level(logging.INFO)
    for body in (json.dumps(no_instance), json.dumps(no_date), nested):
        caplog.clear()
        response = await client.post("/telegram/webhook", content=body, headers=secret)
        assert response.status_code == 200, (body[:60], response.text)
        assert not [r for r in caplog.records if r.exc_info], body[:60]
        assert len([r for r in caplog.records if "rejected" in r.getMessage()]) == 1, \
            [r.getMessage() for r in caplog.records]


async def test_two_bots_updates_with_the_same_id_are_both_handled(desk):
    """Issue #15, finding 4: update ids count per bot (and start again after a token
    change); keyed without the bot, a new bot's update 10 was dropped as a redelivery of the
    old bot's."""
    from telegram import Update

    old = TelegramChannel.from_dispatcher(desk.dispatcher, token="111111:" + "A" * 35,
                                          max_evidence_bytes=1024)
    new = TelegramChannel.from_dispatcher(desk.dispatcher, token="222222:" + "B" * 35,
                                          max_evidence_bytes=1024)
    replies = []
    for channel in (old, new, new):
        incoming = await channel.to_incoming(Update.de_json(update_json(10, USER, "你好"),
                                                            channel.application.bot))
        assert incoming is not None
        replies.append(await asyncio.to_thread(desk.dispatcher.dispatch, incoming))
    assert replies[0] and replies[1]  # both bots' update 10 answered
    assert replies[2] == []  # the same bot's redelivery is still dropped


async def test_a_lone_surrogate_is_answered_and_nobody_is_named_in_the_log(
        fake, desk, telegram, caplog):
    """A text with a lone surrogate once got no reply: the echo could not be encoded, and
    the warning and the outbox row's last_error carried the reply, with the member's name."""
    caplog.set_level(logging.DEBUG)
    await onboard(fake, desk)
    fake.user_text(USER, "填寫自評")
    await said(fake, USER, "第 1/25 題")
    fake.user_text(USER, "100")
    await said(fake, USER, "已記錄 1.1")
    fake.user_text(USER, "受理\ud800後即寄發收件確認")
    reply = await said(fake, USER, "已收到 1.1 的佐證")
    assert "受理後即寄發收件確認" in reply
    # Every level of sqbot's own loggers; INFO and up of the libraries (bot/logs.py keeps
    # python-telegram-bot, which logs each call's parameters at DEBUG, at INFO).
    ours = ("bot", "handlers", "storage", "reports", "rubric")
    leaks = [(r.name, r.levelname) for r in caplog.records if "王小明" in r.getMessage()
             and (r.levelno >= logging.INFO or r.name.split(".")[0] in ours)]
    assert leaks == []
    with desk.database.transaction() as session:
        assert all(row.last_error is None for row in session.exec(select(OutboxMessage)))
