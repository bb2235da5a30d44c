"""Courier-style table tests (issue #14): an ``Outgoing`` in, the exact JSON that reaches LINE
and Telegram out — over real HTTP, through each channel's ``send``, to the fake platform
servers, which validate every request against the platforms' own specifications."""

from __future__ import annotations

import pytest

from bot.line import LineChannel
from bot.telegram import TelegramChannel
from handlers.messages import Card, Choice, Outgoing
from tests.fakes import line_webhook as hook
from tests.fakes.line_api import FakeLine
from tests.fakes.telegram_api import FakeTelegram

TOKEN = "123456:" + "A" * 35
SECRET = "0123456789abcdef0123456789abcdef"
ALICE = hook.user_id("alice")
BOB = 5001

ASK = Outgoing("第 2/25 題　1.2 提供案件查詢管道種類（滿分 60 分）",
               (Choice("41-60分", "3:b:1:1.2:0"), Choice("上一題", "3:p:1:1.2"),
                Choice("暫停", "3:z")))
# One message per card on LINE (issue #17): the bubble alone, its rows saying all the text says.
RECEIPT = Outgoing("收件確認\n總分：842 分", card=Card(
    "收件確認 115Q4-00001-27", (("總分", "842 分"), ("等第", "甲")), "秘書室審定後會通知您。",
    note=""))
MANY = Outgoing("請選擇課室", tuple(Choice(f"課室{n}", f"4:g:{n}") for n in range(14)))


def postback(label: str, data: str) -> dict:
    return {"type": "action", "action": {"type": "postback", "label": label, "data": data,
                                         "displayText": label}}


#: (name, outgoing, LINE messages, Telegram calls as (method, the params that matter))
TABLE = [
    ("plain text", Outgoing("已暫停，您的答案都已儲存。"),
     [{"type": "text", "text": "已暫停，您的答案都已儲存。"}],
     [("sendMessage", {"text": "已暫停，您的答案都已儲存。", "parse_mode": "HTML"})]),
    ("a question with its buttons", ASK,
     [{"type": "text", "text": ASK.text, "quickReply": {"items": [
         postback("41-60分", "3:b:1:1.2:0"), postback("上一題", "3:p:1:1.2"),
         postback("暫停", "3:z")]}}],
     [("sendMessage", {"text": ASK.text, "parse_mode": "HTML", "reply_markup": {
         "inline_keyboard": [[{"text": "41-60分", "callback_data": "3:b:1:1.2:0"},
                              {"text": "上一題", "callback_data": "3:p:1:1.2"},
                              {"text": "暫停", "callback_data": "3:z"}]]}})]),
    ("markup-like text is text", Outgoing("<b>1 < 2</b> & 3"),
     [{"type": "text", "text": "<b>1 < 2</b> & 3"}],
     [("sendMessage", {"text": "&lt;b&gt;1 &lt; 2&lt;/b&gt; &amp; 3", "parse_mode": "HTML"})]),
    ("a receipt card", RECEIPT,
     [{"type": "flex", "altText": RECEIPT.text, "contents": {"type": "bubble", "body": {
         "type": "box", "layout": "vertical", "spacing": "sm", "contents": [
             {"type": "text", "text": "收件確認 115Q4-00001-27", "weight": "bold",
              "wrap": True},
             {"type": "separator"},
             *({"type": "box", "layout": "horizontal", "contents": [
                 {"type": "text", "text": name, "size": "sm", "color": "#555555", "flex": 5,
                  "wrap": True},
                 {"type": "text", "text": value, "size": "sm", "align": "end", "flex": 3,
                  "wrap": True}]} for name, value in (("總分", "842 分"), ("等第", "甲")))]},
         "footer": {"type": "box", "layout": "vertical", "contents": [
             {"type": "text", "text": "秘書室審定後會通知您。", "size": "xs", "wrap": True,
              "color": "#888888"}]}}}],
     [("sendMessage", {"text": RECEIPT.text, "parse_mode": "HTML"})]),
]


def _subset(sent: dict, expected: dict) -> dict:
    """The keys of ``sent`` that ``expected`` names (others are the library's defaults)."""
    return {key: sent.get(key) for key in expected}


@pytest.mark.parametrize("name, outgoing, line_json, telegram_calls", TABLE,
                         ids=[row[0] for row in TABLE])
async def test_outgoing_to_platform_json(name, outgoing, line_json, telegram_calls):
    with FakeLine() as line_fake, FakeTelegram(TOKEN) as telegram_fake:
        line = LineChannel(channel_secret=SECRET, access_token=line_fake.access_token,
                           dispatch=_never, max_evidence_bytes=1024,
                           api_base_url=line_fake.base_url)
        telegram = TelegramChannel(token=TOKEN, dispatch=_never, max_evidence_bytes=1024,
                                   api_base_url=telegram_fake.base_url)
        try:
            await line.send(ALICE, outgoing, key="k")
            await telegram.application.initialize()
            await telegram.send(str(BOB), outgoing, key="k")
        finally:
            await line.close()
            await telegram.application.shutdown()
        pushed = line_fake.sent("push")
        assert [m for request in pushed for m in request.messages] == line_json
        calls = [c for c in telegram_fake.calls if c.ok and c.method.lower().startswith("send")]
        assert [(c.method, _subset(c.params, p)) for c, (_, p) in
                zip(calls, telegram_calls, strict=True)] == telegram_calls


def test_fourteen_choices_become_a_carousel_on_line_and_rows_on_telegram():
    from bot.line import render
    from bot.telegram import keyboard

    messages = [m.to_dict() for m in render(MANY)]
    assert [m["type"] for m in messages] == ["text", "flex"]
    bubbles = messages[1]["contents"]["contents"]
    assert [len(b["body"]["contents"]) for b in bubbles] == [10, 4]
    rows = keyboard(MANY.choices).to_dict()["inline_keyboard"]
    assert [len(row) for row in rows] == [4, 4, 4, 2]


async def _never(incoming):  # pragma: no cover - nothing is received in these tests
    raise AssertionError("no update is expected")
