"""Self-test of the fake Telegram Bot API, driven by python-telegram-bot's real Bot."""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from telegram import Bot, BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, NetworkError, RetryAfter
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes

from tests.fakes.telegram_api import (
    BackgroundServer,
    EntityParseError,
    FakeTelegram,
    parse_html,
    parse_markdown_v2,
)

USER = 5566
GROUP = -4001
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x02\x80\x00\x00\x01\xe0" + bytes(range(256)) * 8


@pytest.fixture(scope="module")
def server() -> Iterator[FakeTelegram]:
    with FakeTelegram() as started:
        yield started


@pytest.fixture
def fake(server: FakeTelegram) -> Iterator[FakeTelegram]:
    server.reset()  # one server for the module, a clean state for each test
    yield server
    # Every answer must have the shape the spec promises (getUpdates may carry raw updates).
    for call in server.calls:
        spec = server.spec.method(call.method)
        if call.ok and spec is not None and call.method != "getUpdates":
            server.validator.check(call.result, spec.returns, f"{call.method} result")


@pytest.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    async with Bot(fake.token, base_url=fake.base_url, base_file_url=fake.base_file_url) as b:
        yield b


def keyboard(*rows: list[tuple[str, str]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(text, callback_data=data) for text, data in row] for row in rows]
    )


async def test_get_me(bot: Bot, fake: FakeTelegram) -> None:
    me = await bot.get_me()
    assert me.is_bot
    assert me.first_name == "服務品質小幫手"
    assert me.username == "sqbot_test_bot"
    assert me.can_join_groups is True
    assert me.id == int(fake.token.split(":")[0])
    assert len(fake.calls_to("getMe")) == 2  # Bot.initialize() and ours


async def test_send_message_with_inline_keyboard(bot: Bot, fake: FakeTelegram) -> None:
    markup = keyboard([("符合", "q1:yes"), ("不符合", "q1:no")], [("略過", "q1:skip")])
    first = await bot.send_message(USER, "第一題：是否設置服務台？", reply_markup=markup)
    second = await bot.send_message(USER, "第二題")
    assert first.reply_markup == markup
    assert first.from_user is not None and first.from_user.id == bot.id
    assert first.chat.id == USER and first.chat.type == "private"
    assert second.message_id == first.message_id + 1
    assert fake.sent_texts(USER) == ["第一題：是否設置服務台？", "第二題"]
    call = fake.calls_to("sendMessage")[0]
    assert call.params["chat_id"] == USER
    assert call.params["reply_markup"]["inline_keyboard"][0][1]["callback_data"] == "q1:no"
    fake.check_against_spec(call.result, "Message")


async def test_text_length_is_checked_after_entity_parsing(bot: Bot) -> None:
    await bot.send_message(USER, "字" * 4096)
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(USER, "a" * 4097)
    await bot.send_message(USER, "<b>" + "a" * 4096 + "</b>", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(USER, "<b>" + "a" * 4097 + "</b>", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
        await bot.send_message(USER, " \n ")


@pytest.mark.parametrize("text", ["<b>未結束", "1 < 2", "<br>換行", "<b>x</i>", "</b>",
                                  "<span>x</span>", '<a href="x>y</a>'])
async def test_bad_html_is_rejected(bot: Bot, text: str) -> None:
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_message(USER, text, parse_mode=ParseMode.HTML)


async def test_escaped_html_is_accepted(bot: Bot) -> None:
    message = await bot.send_message(
        USER, "1 &lt; 2 &amp;&amp; <b>粗體</b> <tg-spoiler>秘密</tg-spoiler> &#x1F600;",
        parse_mode=ParseMode.HTML,
    )
    assert message.text == "1 < 2 && 粗體 秘密 😀"
    assert [(e.type, e.offset, e.length) for e in message.entities] == [
        ("bold", 9, 2), ("spoiler", 12, 2)]


async def test_markdown_v2_reserved_characters(bot: Bot) -> None:
    with pytest.raises(BadRequest, match=r"(?i)Character '\.' is reserved"):
        await bot.send_message(USER, "版本 1.0", parse_mode=ParseMode.MARKDOWN_V2)
    message = await bot.send_message(USER, "*版本* 1\\.0", parse_mode=ParseMode.MARKDOWN_V2)
    assert message.text == "版本 1.0"


async def test_keyboard_limits(bot: Bot) -> None:
    eight = [(str(i), str(i)) for i in range(8)]
    await bot.send_message(USER, "8 個", reply_markup=keyboard(eight))
    with pytest.raises(BadRequest):
        await bot.send_message(
            USER, "9 個", reply_markup=keyboard([(str(i), str(i)) for i in range(9)]))
    too_many = [[(f"{r}-{c}", f"{r}-{c}") for c in range(8)] for r in range(13)]
    with pytest.raises(BadRequest):
        await bot.send_message(USER, "104 個", reply_markup=keyboard(*too_many))
    await bot.send_message(USER, "64 bytes", reply_markup=keyboard([("ok", "題" * 21 + "x")]))
    with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
        await bot.send_message(USER, "65 bytes", reply_markup=keyboard([("no", "題" * 21 + "xy")]))
    with pytest.raises(BadRequest, match=r"(?i)Text buttons are unallowed"):
        await bot.send_message(
            USER, "no action", reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("x")]]))


async def test_get_updates_offset_confirms(bot: Bot, fake: FakeTelegram) -> None:
    assert fake.user_text(USER, "你好") == 1000
    assert fake.user_text(USER, "/start") == 1001
    updates = await bot.get_updates()
    assert [u.update_id for u in updates] == [1000, 1001]
    start = updates[1].message
    assert start is not None and start.text == "/start"
    assert [(e.type, e.offset, e.length) for e in start.entities] == [("bot_command", 0, 6)]
    assert updates[1].message.message_id == updates[0].message.message_id + 1
    assert [u.update_id for u in await bot.get_updates(offset=1001)] == [1001]
    assert await bot.get_updates(offset=1002) == ()
    assert fake.pending_updates() == []
    assert (await bot.get_webhook_info()).pending_update_count == 0


async def test_long_poll_returns_when_an_update_arrives(bot: Bot, fake: FakeTelegram) -> None:
    timer = threading.Timer(0.3, fake.user_text, args=(USER, "晚到的訊息"))
    started = time.monotonic()
    timer.start()
    updates = await bot.get_updates(timeout=5)
    elapsed = time.monotonic() - started
    timer.join()
    assert [u.message.text for u in updates if u.message] == ["晚到的訊息"]
    assert 0.2 < elapsed < 2.5


async def test_photo_get_file_and_download(bot: Bot, fake: FakeTelegram) -> None:
    fake.photo(USER, PNG, caption="門口照片")
    (update,) = await bot.get_updates()
    assert update.message is not None and update.message.caption == "門口照片"
    sizes = update.message.photo
    assert len(sizes) == 3
    assert [s.width for s in sizes] == [90, 320, 640]
    assert sizes[0].file_size < sizes[1].file_size < sizes[2].file_size == len(PNG)
    largest = await bot.get_file(sizes[-1].file_id)
    assert largest.file_path is not None and largest.file_path.endswith(".jpg")
    assert bytes(await largest.download_as_bytearray()) == PNG
    smallest = await bot.get_file(sizes[0].file_id)
    assert len(await smallest.download_as_bytearray()) < len(PNG)
    with pytest.raises(BadRequest, match=r"(?i)invalid file_id"):
        await bot.get_file("no-such-file")


async def test_documents_both_ways(bot: Bot, fake: FakeTelegram) -> None:
    fake.document(USER, b"%PDF-1.4 fake", file_name="自評表.pdf", mime_type="application/pdf")
    (update,) = await bot.get_updates()
    document = update.message.document
    assert document.file_name == "自評表.pdf" and document.mime_type == "application/pdf"
    file = await bot.get_file(document.file_id)
    assert bytes(await file.download_as_bytearray()) == b"%PDF-1.4 fake"
    sent = await bot.send_document(USER, document=b"xlsx bytes", filename="季報告.xlsx",
                                   caption="<b>第一季</b>", parse_mode=ParseMode.HTML)
    assert sent.document.file_name == "季報告.xlsx"
    assert sent.caption == "第一季"
    call = fake.calls_to("sendDocument")[0]
    assert call.files["document"] == b"xlsx bytes"
    assert call.filenames["document"] == "季報告.xlsx"
    with pytest.raises(BadRequest, match=r"(?i)caption is too long"):
        await bot.send_document(USER, document=b"x", filename="a.txt", caption="長" * 1025)


async def test_fail_next(bot: Bot, fake: FakeTelegram) -> None:
    fake.fail_next("sendMessage", kind="429")
    with warnings.catch_warnings():  # PTB warns that retry_after will become a timedelta
        warnings.simplefilter("ignore")
        with pytest.raises(RetryAfter) as flood:
            await bot.send_message(USER, "太快了")
        retry_after: Any = flood.value.retry_after
    seconds = retry_after if isinstance(retry_after, int) else retry_after.total_seconds()
    assert seconds == 1
    await bot.send_message(USER, "這次可以")
    fake.fail_next("sendMessage", kind="403", times=2)
    for _ in range(2):
        with pytest.raises(Forbidden, match=r"(?i)bot was blocked by the user"):
            await bot.send_message(USER, "被封鎖")
    fake.fail_next("sendMessage", kind="400-chat")
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.send_message(USER, "沒有這個聊天")
    fake.fail_next("getMe", kind="500")
    with pytest.raises(NetworkError):
        await bot.get_me()
    statuses = [c.status for c in fake.calls if c.method == "sendMessage"]
    assert statuses == [429, 200, 403, 403, 400]
    assert fake.sent_texts(USER) == ["這次可以"]
    assert fake.calls[-2].params["text"] == "沒有這個聊天"


async def test_blocking_via_my_chat_member(bot: Bot, fake: FakeTelegram) -> None:
    fake.user_text(USER, "/start")
    fake.my_chat_member(USER, USER, "kicked")
    with pytest.raises(Forbidden, match=r"(?i)blocked"):
        await bot.send_message(USER, "還在嗎？")
    fake.my_chat_member(USER, USER, "member")
    await bot.send_message(USER, "歡迎回來")
    updates = await bot.get_updates()
    kinds = [u.my_chat_member.new_chat_member.status for u in updates if u.my_chat_member]
    assert kinds == ["kicked", "member"]


async def test_edit_message_text(bot: Bot, fake: FakeTelegram) -> None:
    markup = keyboard([("下一題", "next")])
    sent = await bot.send_message(USER, "第一題", reply_markup=markup)
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text("第一題", chat_id=USER, message_id=sent.message_id,
                                    reply_markup=markup)
    edited = await bot.edit_message_text("第一題（已作答）", chat_id=USER,
                                         message_id=sent.message_id)
    assert edited.reply_markup is None  # editing without reply_markup drops the keyboard
    assert edited.edit_date is not None
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("?", chat_id=USER, message_id=999)
    assert fake.sent_texts(USER) == ["第一題", "第一題（已作答）"]


async def test_callback_query_and_answer(bot: Bot, fake: FakeTelegram) -> None:
    sent = await bot.send_message(USER, "是否符合？", reply_markup=keyboard([("是", "yes")]))
    fake.callback(USER, "yes")
    (update,) = await bot.get_updates()
    query = update.callback_query
    assert query is not None and query.data == "yes" and query.chat_instance
    assert query.message is not None and query.message.message_id == sent.message_id
    with pytest.raises(BadRequest):
        await bot.answer_callback_query(query.id, text="長" * 201)
    assert await bot.answer_callback_query(query.id, text="已記錄")
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_callback_query(query.id)
    with pytest.raises(ValueError, match=r"(?i)no button"):
        fake.callback(USER, "no-such-button")


async def test_bot_commands(bot: Bot, fake: FakeTelegram) -> None:
    commands = [BotCommand("start", "開始自評"), BotCommand("status", "查看進度")]
    assert await bot.set_my_commands(commands)
    assert await bot.get_my_commands() == tuple(commands)
    for bad in (BotCommand("Start", "大寫"), BotCommand("a" * 33, "太長"),
                BotCommand("ok", "長" * 257)):
        with pytest.raises(BadRequest):
            await bot.set_my_commands([bad])
    with pytest.raises(BadRequest):
        await bot.set_my_commands([BotCommand(f"c{i}", "x") for i in range(101)])
    assert await bot.delete_my_commands()
    assert await bot.get_my_commands() == ()
    assert await bot.set_my_description("季度服務品質自評")
    assert await bot.set_my_short_description("自評小幫手")
    assert (await bot.get_my_description()).description == "季度服務品質自評"


async def test_webhook_conflict_and_delivery(bot: Bot, fake: FakeTelegram) -> None:
    received: list[tuple[str | None, dict[str, Any]]] = []

    async def hook(request: Request) -> Response:
        received.append((request.headers.get("x-telegram-bot-api-secret-token"),
                         await request.json()))
        return Response(status_code=200)

    receiver = BackgroundServer(Starlette(routes=[Route("/hook", hook, methods=["POST"])]))
    receiver.start()
    try:
        assert await bot.set_webhook(f"{receiver.url}/hook", secret_token="s3cret_token-1")
        assert fake.webhook_url == f"{receiver.url}/hook"
        assert fake.webhook_secret == "s3cret_token-1"
        with pytest.raises(Conflict, match=r"(?i)webhook is active"):
            await bot.get_updates()
        update_id = fake.user_text(USER, "透過 webhook")
        response = fake.deliver_webhook()
        assert response.status_code == 200
        assert received == [("s3cret_token-1", received[0][1])]
        assert received[0][1]["update_id"] == update_id
        assert received[0][1]["message"]["text"] == "透過 webhook"
        assert fake.pending_updates() == []
        with pytest.raises(BadRequest, match=r"(?i)HTTPS URL must be provided"):
            await bot.set_webhook("http://example.com/hook")
    finally:
        receiver.stop()
    assert await bot.delete_webhook()
    assert fake.webhook_url is None and fake.webhook_secret is None
    assert await bot.get_updates() == ()


async def test_update_builders_match_the_spec(bot: Bot, fake: FakeTelegram) -> None:
    await bot.send_message(USER, "選擇", reply_markup=keyboard([("甲", "a")]))
    fake.user_text(USER, "/start")
    fake.group_text(GROUP, USER, "/report@sqbot_test_bot 本季")
    fake.callback(USER, "a")
    fake.photo(USER, PNG)
    fake.document(USER, b"data", file_name="a.txt", mime_type="text/plain")
    fake.edited_message(USER, "/start 改過")
    fake.my_chat_member(GROUP, USER, "member")
    fake.my_chat_member(GROUP, USER, "administrator")
    fake.my_chat_member(USER, USER, "kicked")
    fake.raw_update({"future_kind": {"x": 1}})  # any shape, not checked
    pending = fake.pending_updates()
    for update in pending[:-1]:
        fake.check_against_spec(update, "Update")
    updates = await bot.get_updates()
    assert len(updates) == len(pending)
    group = updates[1].message
    assert group.chat.type == "group" and group.chat.id == GROUP and group.chat.title
    assert group.entities[0].type == "bot_command"
    assert group.entities[0].length == len("/report@sqbot_test_bot")
    assert updates[5].edited_message is not None
    assert updates[5].edited_message.message_id == updates[0].message.message_id
    assert all(isinstance(u, Update) for u in updates)


async def test_protocol_errors(fake: FakeTelegram) -> None:
    api = f"{fake.base_url}{fake.token}"
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{api}/sendFax", data={"chat_id": "1"})
        assert response.status_code == 404
        assert response.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
        response = await client.post(f"{fake.base_url}123456:{'B' * 35}/getMe")
        assert response.status_code == 401
        assert response.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
        response = await client.post(f"{api}/sendMessage", data={"text": "hi"})
        assert (response.status_code, response.json()["description"]) == (
            400, "Bad Request: chat_id is empty")
        response = await client.post(f"{api}/sendMessage",
                                     data={"chat_id": "1", "text": "hi", "colour": "red"})
        assert response.status_code == 400 and "colour" in response.json()["description"]
        response = await client.post(f"{api}/sendMessage",
                                     data={"chat_id": "1", "text": "hi",
                                           "reply_markup": '{"inline_keyboard": "no"}'})
        assert response.status_code == 400
        response = await client.post(f"{api}/sendMessage", json={
            "chat_id": USER, "text": "JSON 也可以", "disable_notification": True,
            "reply_markup": {"inline_keyboard": [[{"text": "好", "callback_data": "ok"}]]}})
        assert response.status_code == 200 and response.json()["result"]["text"] == "JSON 也可以"
        response = await client.get(f"{api}/GETME")  # method names are case-insensitive
        assert response.json()["result"]["username"] == "sqbot_test_bot"
        response = await client.post(f"{api}/editMessageText",
                                     data={"chat_id": "1", "message_id": "abc", "text": "x"})
        assert "message_id must be of type Integer" in response.json()["description"]
        response = await client.get(f"{fake.base_file_url}{fake.token}/photos/missing.jpg")
        assert response.status_code == 404
    with pytest.raises(InvalidToken):
        async with Bot("123456:" + "B" * 35, base_url=fake.base_url) as stranger:
            await stranger.get_me()
    assert [c.status for c in fake.calls][:4] == [404, 401, 400, 400]


async def test_application_end_to_end(fake: FakeTelegram) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.effective_message.reply_text(
            "開始自評？", reply_markup=keyboard([("開始", "go")]))

    async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        await query.answer("好")
        await query.edit_message_text(f"已選擇：{query.data}")

    app = (Application.builder().token(fake.token).base_url(fake.base_url)
           .base_file_url(fake.base_file_url).build())
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(pressed))
    async with app:
        await app.start()
        await app.updater.start_polling(poll_interval=0, timeout=1)
        fake.user_text(USER, "/start")
        await fake.await_calls("sendMessage")
        fake.callback(USER, "go")
        await fake.await_calls("editMessageText")
        await app.updater.stop()
        await app.stop()
    assert fake.sent_texts(USER) == ["開始自評？", "已選擇：go"]
    assert len(fake.calls_to("answerCallbackQuery")) == 1
    assert fake.calls_to("deleteWebhook")  # PTB's bootstrap
    assert fake.pending_updates() == []


def test_html_parser_details() -> None:
    assert parse_html('<a href="https://example.org/?a=1&amp;b=2">連結</a>') == (
        "連結", [{"type": "text_link", "offset": 0, "length": 2,
                 "url": "https://example.org/?a=1&b=2"}])
    assert parse_html('<pre><code class="language-python">x = 1</code></pre>')[1] == [
        {"type": "pre", "offset": 0, "length": 5, "language": "python"}]
    assert parse_html("<blockquote expandable>引言</blockquote>")[1][0]["type"] == (
        "expandable_blockquote")
    assert parse_html("&unknown; &quot;")[0] == '&unknown; "'
    with pytest.raises(EntityParseError, match='Unsupported start tag "div" at byte offset 3'):
        parse_html("中<div>")
    with pytest.raises(EntityParseError, match="Can't find end of Italic entity"):
        parse_markdown_v2("_斜體")
