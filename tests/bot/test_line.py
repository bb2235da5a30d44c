"""The LINE channel over real HTTP: signed webhooks into the real ASGI app under uvicorn, and
line-bot-sdk against the fake Messaging API."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import httpx
import pytest
from sqlmodel import select

from bot.line import LineChannel, quick_reply, render, retry_key
from bot.server import create_app
from handlers.messages import Card, Choice, Outgoing
from rubric import load_year
from storage.models import (
    Answer,
    Attachment,
    ChatBinding,
    ChatIdentity,
    ProcessedEvent,
    Role,
)
from storage.outbox import enqueue
from tests.bot.conftest import serving
from tests.fakes import line_webhook as hook
from tests.fakes.line_api import FakeLine

SECRET = "0123456789abcdef0123456789abcdef"
RUBRIC = load_year(105)
ALICE = hook.user_id("alice")


@pytest.fixture
def fake():
    with FakeLine() as server:
        yield server


@pytest.fixture
async def line(fake, desk):
    channel = LineChannel.from_dispatcher(
        desk.dispatcher, channel_secret=SECRET, access_token=fake.access_token,
        max_evidence_bytes=64 * 1024, api_base_url=fake.base_url, fallback=desk.fallback)
    desk.outbox.senders = {"line": channel}
    app = create_app(database=desk.database, line=channel, on_shutdown=channel.close)
    async with serving(app) as url, httpx.AsyncClient(base_url=url) as client:
        yield channel, client


async def post(client, *events, secret=SECRET, signature=None, content_type="application/json"):
    payload = hook.body(*events)
    headers = {"content-type": content_type,
               "x-line-signature": signature if signature is not None
               else hook.signature(payload, secret)}
    return await client.post("/line/webhook", content=payload, headers=headers)


async def say(fake, line, user, text, **kwargs):
    channel, client = line
    token = fake.issue_reply_token(user)
    response = await post(client, hook.text_event(user, text, reply_token=token, **kwargs))
    assert response.status_code == 200, response.text
    await channel.drain_replies()
    return fake.texts_to(user)


async def press(fake, line, user, label):
    channel, client = line
    data = quick_data(fake, user, label)
    token = fake.issue_reply_token(user)
    response = await post(client, hook.postback_event(user, data, reply_token=token))
    assert response.status_code == 200
    await channel.drain_replies()


def quick_data(fake, user, label) -> str:
    for message in reversed(fake.messages_to(user)):
        items = (message.get("quickReply") or {}).get("items", [])
        if items:
            found = [i["action"]["data"] for i in items if i["action"]["label"] == label]
            assert found, f"no {label!r} in {[i['action']['label'] for i in items]}"
            return found[0]
    raise AssertionError("no quick reply sent")


def last_text(fake, user) -> str:
    return fake.texts_to(user)[-1]


async def onboard(fake, line, desk, user=ALICE, name="王小明"):
    code = desk.invite(name=name)
    await say(fake, line, user, code)
    assert f"綁定完成！{name}您好" in last_text(fake, user)


async def drain_later(desk) -> None:
    """Five minutes on, past the retry's backoff; again until the outbox has nothing due."""
    desk.clock.set(desk.clock.now + timedelta(minutes=5))
    while await desk.outbox.drain_once():
        desk.clock.set(desk.clock.now + timedelta(minutes=5))


def processed(desk) -> list[ProcessedEvent]:
    with desk.database.transaction() as session:
        return list(session.exec(select(ProcessedEvent)).all())


# --- the webhook -----------------------------------------------------------------------------


async def test_missing_or_bad_signature_is_refused_and_nothing_stored(fake, desk, line):
    _, client = line
    event = hook.text_event(ALICE, "你好")
    assert (await post(client, event, signature="")).status_code == 400
    assert (await post(client, event, secret="f" * 32)).status_code == 400
    assert (await post(client, event, signature="not base64!")).status_code == 400
    assert processed(desk) == []
    assert fake.sent() == []


async def test_bad_bodies_get_4xx_and_the_server_keeps_serving(fake, desk, line):
    _, client = line
    big = b"{" + b" " * (1024 * 1024 + 1) + b"}"
    response = await client.post("/line/webhook", content=big, headers={
        "content-type": "application/json", "x-line-signature": hook.signature(big, SECRET)})
    assert response.status_code == 413
    wrong_type = await post(client, hook.text_event(ALICE, "x"), content_type="text/plain")
    assert wrong_type.status_code == 415
    malformed = b"{not json"
    response = await client.post("/line/webhook", content=malformed, headers={
        "content-type": "application/json",
        "x-line-signature": hook.signature(malformed, SECRET)})
    assert response.status_code == 400
    assert processed(desk) == []
    assert (await client.get("/healthz")).json()["line"] == "webhook"


async def test_stranger_text_is_answered_by_reply_token(fake, line):
    await say(fake, line, ALICE, "你好")
    assert "請輸入秘書室提供的邀請碼" in last_text(fake, ALICE)
    assert [r.kind for r in fake.sent()] == ["reply"]


async def test_follow_greets_and_a_code_binds(fake, desk, line):
    channel, client = line
    token = fake.issue_reply_token(ALICE)
    assert (await post(client, hook.follow_event(ALICE, reply_token=token))).status_code == 200
    await channel.drain_replies()
    assert "請輸入秘書室提供的邀請碼" in last_text(fake, ALICE)
    await onboard(fake, line, desk)
    with desk.database.transaction() as session:
        identity = session.exec(select(ChatIdentity)).one()
    assert (identity.channel, identity.platform_user_id) == ("line", ALICE)


async def test_redelivered_event_is_processed_once(fake, desk, line):
    channel, client = line
    code = desk.invite(name="王小明")
    event = hook.text_event(ALICE, code, reply_token=fake.issue_reply_token(ALICE))
    assert (await post(client, event)).status_code == 200
    again = json.loads(json.dumps(event))
    again["deliveryContext"]["isRedelivery"] = True
    assert (await post(client, again)).status_code == 200
    await channel.drain_replies()
    assert sum("綁定完成" in t for t in fake.texts_to(ALICE)) == 1


async def test_expired_reply_token_falls_back_to_push_with_a_retry_key(fake, line):
    channel, client = line
    token = fake.issue_reply_token(ALICE, expired=True)
    await post(client, hook.text_event(ALICE, "你好", reply_token=token))
    await channel.drain_replies()
    pushes = fake.sent("push")
    assert len(pushes) == 1
    assert pushes[0].retry_key
    assert "請輸入秘書室提供的邀請碼" in last_text(fake, ALICE)


async def test_answer_by_quick_reply_and_typed_number(fake, desk, line):
    await onboard(fake, line, desk)
    await say(fake, line, ALICE, "填寫自評")
    assert "第 1/25 題" in last_text(fake, ALICE)
    await press(fake, line, ALICE, "81-120分")
    await press(fake, line, ALICE, "110分")
    assert "已記錄 1.1" in last_text(fake, ALICE) and "第 2/25 題" in last_text(fake, ALICE)
    await say(fake, line, ALICE, "５０")
    with desk.database.transaction() as session:
        answers = {a.question_code: a.self_score for a in session.exec(select(Answer)).all()}
    assert answers == {"1.1": 110, "1.2": 50}


async def test_unfollow_marks_unreachable_and_follow_welcomes_back(fake, desk, line):
    channel, client = line
    await onboard(fake, line, desk)
    await post(client, hook.unfollow_event(ALICE))
    with desk.database.transaction() as session:
        assert session.exec(select(ChatIdentity)).one().unreachable_since is not None
    await post(client, hook.follow_event(ALICE, unblocked=True,
                                         reply_token=fake.issue_reply_token(ALICE)))
    await channel.drain_replies()
    assert "歡迎回來！王小明您好" in last_text(fake, ALICE)
    with desk.database.transaction() as session:
        assert session.exec(select(ChatIdentity)).one().unreachable_since is None


async def test_group_join_bind_and_leave(fake, desk, line):
    channel, client = line
    group = hook.group_id("secretariat")
    await post(client, hook.join_event(group, reply_token=fake.issue_reply_token(group)))
    await channel.drain_replies()
    assert "綁定 邀請碼" in fake.texts_to(group)[-1]
    await post(client, hook.text_event(ALICE, "大家午安", group_id=group,
                                       reply_token=fake.issue_reply_token(group)))
    await channel.drain_replies()
    assert len(fake.texts_to(group)) == 1  # chatter is not answered
    code = desk.invite(role=Role.SECRETARIAT, section="秘書室", name="陳秘書")
    await post(client, hook.text_event(ALICE, f"綁定 {code}", group_id=group,
                                       reply_token=fake.issue_reply_token(group)))
    await channel.drain_replies()
    assert "秘書室群組" in fake.texts_to(group)[-1]
    with desk.database.transaction() as session:
        assert session.exec(select(ChatBinding)).one().chat_id == group
    # The secretariat member also has a private chat, where the leave notice can go.
    await onboard(fake, line, desk, user=hook.user_id("chen"), name="陳秘書二")
    with desk.database.transaction() as session:
        from storage.models import Member

        member = session.exec(select(Member).where(Member.name == "陳秘書二")).one()
        member.role = Role.SECRETARIAT
        session.add(member)
    await post(client, hook.leave_event(group))
    with desk.database.transaction() as session:
        assert session.exec(select(ChatBinding)).all() == []
    await desk.outbox.drain_once()
    assert "機器人已被移出 LINE 秘書室群組" in fake.texts_to(hook.user_id("chen"))[-1]


async def test_member_joined_and_unknown_events_are_acknowledged(fake, desk, line):
    _, client = line
    group = hook.group_id("g2")
    response = await post(client, hook.member_joined_event(group, [ALICE]),
                          hook.unknown_event(ALICE))
    assert response.status_code == 200
    assert fake.sent() == []


async def test_evidence_image_and_file_are_fetched_and_kept(fake, desk, line):
    channel, client = line
    await onboard(fake, line, desk)
    await say(fake, line, ALICE, "填寫自評")
    await say(fake, line, ALICE, "100")
    image = b"\xff\xd8\xff LINE image"
    fake.add_content("9001", image, "image/jpeg")
    await post(client, hook.image_event(ALICE, "9001", reply_token=fake.issue_reply_token(ALICE)))
    await channel.drain_replies()
    assert "已收到照片" in last_text(fake, ALICE)
    document = b"%PDF-1.4 LINE file"
    fake.add_content("9002", document, "application/pdf")
    await post(client, hook.file_event(ALICE, "9002", "公告.pdf", len(document),
                                       reply_token=fake.issue_reply_token(ALICE)))
    await channel.drain_replies()
    assert "已收到檔案「公告.pdf」" in last_text(fake, ALICE)
    await post(client, hook.file_event(ALICE, "9003", "huge.zip", 10 * 1024 * 1024,
                                       reply_token=fake.issue_reply_token(ALICE)))
    await channel.drain_replies()
    assert "檔案太大" in last_text(fake, ALICE)
    with desk.database.transaction() as session:
        files = session.exec(select(Attachment).order_by(Attachment.id)).all()
    assert [(f.sha256, f.size, f.mime_type) for f in files] == [
        (hashlib.sha256(image).hexdigest(), len(image), "image/jpeg"),
        (hashlib.sha256(document).hexdigest(), len(document), "application/pdf"),
    ]


async def test_full_assessment_through_line(fake, desk, line):
    """A whole quarter is 28 messages: 填寫自評, 25 scores, 送出 and 確認送出 (issue #14)."""
    await onboard(fake, line, desk)
    messages = 0
    await say(fake, line, ALICE, "填寫自評")
    messages += 1
    for question in RUBRIC.questions:
        assert f"{question.code} {question.name}" in "\n".join(fake.texts_to(ALICE)[-2:])
        await say(fake, line, ALICE, str(question.max))
        messages += 1
    await say(fake, line, ALICE, "送出")
    await press(fake, line, ALICE, "確認送出")
    messages += 2
    assert messages == 28
    # The receipt is one Flex bubble (issue #17: never the card and then the same text).
    receipt = fake.sent()[-1].messages
    assert [m["type"] for m in receipt] == ["flex"]
    assert receipt[0]["altText"].startswith("收件確認")
    assert "總分：1000 分" in last_text(fake, ALICE) and "等第：優" in last_text(fake, ALICE)
    assert not any(t.startswith("收件確認\n") for t in fake.texts_to(ALICE))


# --- the outbox ------------------------------------------------------------------------------


async def test_push_retry_reuses_the_retry_key_and_delivers_once(fake, desk, line):
    await onboard(fake, line, desk)
    with desk.database.transaction() as session:
        enqueue(session=session, destination=("line", ALICE),
                payload=Outgoing("提醒：本季自評 115年12月20日 截止").to_payload(),
                key="nudge-x", now=desk.clock.now)
    fake.fail_next("/message/push", status=500, deliver=True)
    await desk.outbox.drain_once()
    desk.clock.set(desk.clock.now + timedelta(minutes=5))
    await desk.outbox.drain_once()
    pushes = [r for r in fake.requests if r.path.endswith("/message/push")]
    assert len(pushes) == 2 and pushes[0].retry_key == pushes[1].retry_key
    assert pushes[1].status == 409
    assert fake.texts_to(ALICE).count("提醒：本季自評 115年12月20日 截止") == 1
    assert [r.status for r in desk.outbox_rows()][-1] == "sent"


async def test_same_reminder_to_many_goes_as_one_multicast(fake, desk, line):
    users = [hook.user_id(f"staff{n}") for n in range(3)]
    with desk.database.transaction() as session:
        for n, user in enumerate(users):
            enqueue(session=session, destination=("line", user),
                    payload=Outgoing("115年第4季自評已開始").to_payload(), key=f"open-{n}",
                    now=desk.clock.now)
    await desk.outbox.drain_once()
    multicasts = fake.sent("multicast")
    assert len(multicasts) == 1 and sorted(multicasts[0].body["to"]) == sorted(users)
    assert multicasts[0].retry_key
    assert all(r.status == "sent" for r in desk.outbox_rows())


async def test_a_multicast_that_arrived_despite_a_500_is_not_sent_again(fake, desk, line):
    """LINE took the multicast but answered 500; meanwhile a third identical message was
    queued. The retry repeats the same request (same recipients, same retry key), so the
    first two get it once; the third goes on its own."""
    text = "【提醒】115年第4季自評截止前 3 日"
    users = [hook.user_id(f"batch{n}") for n in range(3)]

    def queue(n: int) -> None:
        with desk.database.transaction() as session:
            enqueue(session=session, destination=("line", users[n]),
                    payload=Outgoing(text).to_payload(), key=f"nudge-{n}", now=desk.clock.now)

    queue(0)
    queue(1)
    fake.fail_next("/message/multicast", status=500, deliver=True)
    await desk.outbox.drain_once()
    queue(2)
    await drain_later(desk)
    assert [fake.texts_to(user).count(text) for user in users] == [1, 1, 1]
    multicasts = [r for r in fake.requests if r.path.endswith("/message/multicast")]
    assert multicasts[1].retry_key == multicasts[0].retry_key and multicasts[1].status == 409
    assert all(r.status == "sent" for r in desk.outbox_rows())


async def test_the_rest_of_a_multicast_cut_by_a_crash_keeps_its_retry_key(fake, desk, line):
    """LINE took a multicast; the process died after marking one of its rows sent. The rows
    left are retried under the batch's own retry key, so LINE does not deliver again."""
    from storage.delivery import mark_sent

    text = "【自評開始】115年第4季服務品質自行考核開始了"
    users = [hook.user_id(f"cut{n}") for n in range(3)]
    with desk.database.transaction() as session:
        for n, user in enumerate(users):
            enqueue(session=session, destination=("line", user),
                    payload=Outgoing(text).to_payload(), key=f"open-cut-{n}",
                    now=desk.clock.now)
    fake.fail_next("/message/multicast", status=500, deliver=True)
    await desk.outbox.drain_once()
    with desk.database.transaction() as session:  # as far as the dead process got
        mark_sent(session=session, row_id=desk.outbox_rows()[0].id, now=desk.clock.now)
    await drain_later(desk)
    assert [fake.texts_to(user).count(text) for user in users] == [1, 1, 1]
    assert all(r.status == "sent" for r in desk.outbox_rows())


async def test_a_push_that_arrived_despite_a_500_is_not_multicast_again(fake, desk, line):
    """A single push LINE took but answered 500; then the same message is queued for someone
    else. The retry repeats that push with its retry key instead of joining a new multicast
    (whose new retry key LINE would deliver again)."""
    text = "【提醒】115年第4季自評截止前 1 日"
    users = [hook.user_id(f"single{n}") for n in range(2)]

    def queue(n: int) -> None:
        with desk.database.transaction() as session:
            enqueue(session=session, destination=("line", users[n]),
                    payload=Outgoing(text).to_payload(), key=f"last-{n}", now=desk.clock.now)

    queue(0)
    fake.fail_next("/message/push", status=500, deliver=True)
    await desk.outbox.drain_once()
    queue(1)
    await drain_later(desk)
    assert [fake.texts_to(user).count(text) for user in users] == [1, 1]
    assert all(r.status == "sent" for r in desk.outbox_rows())


async def test_quota_warning_when_reminders_would_exceed_it(fake, desk, line):
    await onboard(fake, line, desk, user=hook.user_id("chen"), name="陳秘書二")
    with desk.database.transaction() as session:
        from storage.models import Member

        member = session.exec(select(Member).where(Member.name == "陳秘書二")).one()
        member.role = Role.SECRETARIAT
        session.add(member)
        for n in range(5):
            enqueue(session=session, destination=("line", hook.user_id(f"s{n}")),
                    payload=Outgoing(f"提醒 {n}").to_payload(), key=f"q-{n}",
                    now=desk.clock.now, agency_id=1)
    fake.quota, fake.consumption = 100, 97
    channel, _ = line
    assert await channel.quota_left() == 3
    assert await desk.outbox.check_quota("line", agency_id=1)
    warning = [r for r in desk.outbox_rows() if "訊息額度提醒" in r.payload["text"]]
    assert len(warning) == 1 and "本月可再傳送 3 則" in warning[0].payload["text"]
    await desk.outbox.check_quota("line", agency_id=1)  # the same day: warned once
    assert len([r for r in desk.outbox_rows() if "訊息額度提醒" in r.payload["text"]]) == 1
    fake.consumption = 0
    assert not await desk.outbox.check_quota("line", agency_id=1)


# --- rendering -------------------------------------------------------------------------------


def test_long_text_is_split_under_5000_utf16_units():
    text = "\n".join(["😀" * 100] * 60)  # 200 units a line
    messages = render(Outgoing(text))
    assert len(messages) == 3
    assert all(len(m.text.encode("utf-16-le")) // 2 <= 5000 for m in messages)
    assert "\n".join(m.text for m in messages) == text


def test_choices_become_quick_replies_or_a_carousel():
    few = [Choice(f"{n}分", f"1:s:1:1.1:{n}") for n in range(13)]
    assert len(quick_reply(few).items) == 13
    many = [Choice(f"{n}分", f"1:s:1:1.1:{n}") for n in range(14)]
    assert quick_reply(many) is None
    messages = render(Outgoing("請選擇", tuple(many)))
    assert messages[-1].type == "flex"
    label = "輸入網站資訊內容及連結抽測正確件數之數量"
    long_label = render(Outgoing("x", (Choice(label, "1:e:1:4.3"),)))
    assert len(long_label[0].quick_reply.items[0].action.label) <= 20


def test_a_card_is_one_message_never_the_card_and_its_text():
    """Issue #17, finding 5: a receipt came as a Flex card followed by the same full text."""
    card = Card("收件確認 115Q4-00001-3", (("總分", "842 分"), ("等第", "甲")), note="")
    messages = render(Outgoing("收件確認\n總分：842 分", (Choice("選單", "0:m:menu"),),
                               card=card))
    assert [m.type for m in messages] == ["flex"]
    assert messages[0].alt_text == "收件確認\n總分：842 分"
    assert messages[0].quick_reply.items[0].action.label == "選單"


def test_a_card_shows_what_the_text_says_beyond_its_rows():
    note = "已記錄 1.1：120 分。\n\n【服務流程】120/280 分\n　1.1 提供案件承辦資訊種類：120 分"
    messages = render(Outgoing("整段文字", card=Card("規劃課 115年第4季", (("合計", "120 分"),),
                                                     note=note)))
    assert [m.type for m in messages] == ["flex"]
    texts = [c["text"] for c in messages[0].to_dict()["contents"]["body"]["contents"]
             if c["type"] == "text"]
    assert texts == ["規劃課 115年第4季", "已記錄 1.1：120 分。",
                     "【服務流程】120/280 分\n　1.1 提供案件承辦資訊種類：120 分"]
    # A card without a note shows the whole text below its rows: nothing is lost.
    plain = render(Outgoing("第一段\n\n第二段", card=Card("標題", (("甲", "1"),))))
    body = plain[0].to_dict()["contents"]["body"]["contents"]
    assert [c["text"] for c in body if c["type"] == "text"][-2:] == ["第一段", "第二段"]


def test_a_card_too_long_for_a_bubble_goes_as_its_text_alone():
    long_text = "\n\n".join(f"第 {n} 段：" + "佐證說明" * 200 for n in range(12))
    messages = render(Outgoing(long_text, card=Card("標題", (("甲", "1"),))))
    assert {m.type for m in messages} == {"text"}
    assert len(messages) > 1  # split where the text allows, every word kept
    assert "".join(m.text for m in messages).replace("\n", "") == long_text.replace("\n", "")


def test_retry_key_is_a_stable_uuid():
    assert retry_key("row-1") == retry_key("row-1") != retry_key("row-2")
    assert len(retry_key("row-1")) == 36


def test_files_are_named_not_dropped_on_line():
    from handlers.messages import Document

    messages = render(Outgoing("115年第4季統計表", document=Document(
        "115Q4自行考核結果統計表.ods", b"PK", "application/vnd.oasis.opendocument.spreadsheet")))
    assert [m.type for m in messages] == ["text", "text"]
    assert "檔案「115Q4自行考核結果統計表.ods」無法經由 LINE 傳送" in messages[1].text


async def test_a_client_that_goes_away_mid_body_is_one_log_line(desk, caplog):
    """Issue #15, finding 2: a truncated body logged a ClientDisconnect traceback (~3 KB) at
    INFO, so anyone could flood the log. Now one line and nothing else."""
    import logging

    from bot.server import create_app

    channel = LineChannel.from_dispatcher(
        desk.dispatcher, channel_secret=SECRET, access_token="t", max_evidence_bytes=1024)
    app = create_app(database=desk.database, line=channel)
    sent: list[dict] = []
    messages = iter([{"type": "http.request", "body": b'{"events": [', "more_body": True},
                     {"type": "http.disconnect"}])

    async def receive():
        return next(messages)

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "POST", "scheme": "http", "path": "/line/webhook", "raw_path": b"",
             "query_string": b"", "root_path": "", "server": ("sqbot", 80),
             "client": ("203.0.113.9", 5000),
             "headers": [(b"content-type", b"application/json"),
                         (b"x-line-signature", b"c2ln"), (b"content-length", b"9999")]}
    caplog.set_level(logging.INFO)
    await app(scope, receive, send)
    await channel.close()
    records = [r for r in caplog.records if r.name.startswith(("bot", "starlette", "uvicorn"))]
    assert [r.getMessage() for r in records] == [
        "a webhook client went away before its body was read"]
    assert not any(r.exc_info for r in caplog.records)


async def test_a_member_bound_without_a_name_takes_the_line_profiles(fake, desk, line):
    """Bound with a code that names nobody, a member once appeared as 「line 5555」 in
    receipts and notices; the LINE profile's display name is read at binding."""
    fake.profiles[ALICE] = {"displayName": "陳小華"}
    code = desk.invite()  # no name
    await say(fake, line, ALICE, code)
    assert "綁定完成！陳小華您好" in last_text(fake, ALICE)
    bob = hook.user_id("bob")  # LINE gives no profile (not a friend): binding goes on
    await say(fake, line, bob, desk.invite())
    assert f"綁定完成！line {bob[-4:]}您好" in last_text(fake, bob)
    profile_calls = [r for r in fake.requests if r.path.startswith("/v2/bot/profile/")]
    assert len(profile_calls) == 2  # only for the codes, not for every message


async def test_an_unnamed_member_takes_the_profile_s_name_when_they_follow_again(fake, desk,
                                                                                 line):
    """Issue #17, item 5: the name is read at follow too — a member bound while LINE gave
    no profile is renamed when they follow again; a name someone gave is never replaced."""
    channel, client = line
    bob = hook.user_id("bob")
    await say(fake, line, bob, desk.invite())  # no profile then: 「line xxxx」
    assert f"綁定完成！line {bob[-4:]}您好" in last_text(fake, bob)
    fake.profiles[bob] = {"displayName": "林小芳"}
    await post(client, hook.follow_event(bob, reply_token=fake.issue_reply_token(bob)))
    await channel.drain_replies()
    assert "林小芳您好" in last_text(fake, bob)
    await say(fake, line, ALICE, desk.invite(name="王小明"))
    fake.profiles[ALICE] = {"displayName": "小明的手機"}
    await post(client, hook.follow_event(ALICE, reply_token=fake.issue_reply_token(ALICE)))
    await channel.drain_replies()
    assert "王小明您好" in last_text(fake, ALICE)


async def test_last_quarter_s_answer_is_one_press_on_line(fake, desk, line):
    """Issue #17, item 3, through the fake Messaging API: the 沿用上季 quick reply is a
    postback the fake accepts, and pressing it takes last quarter's answer."""
    from datetime import UTC, datetime

    desk.clock.set(datetime(2026, 10, 5, 1, 0, tzinfo=UTC))  # 115年第3季's window
    await onboard(fake, line, desk)
    await say(fake, line, ALICE, "填寫自評")
    for question in RUBRIC.questions:
        await say(fake, line, ALICE, str(question.max))
    await say(fake, line, ALICE, "送出")
    await press(fake, line, ALICE, "確認送出")
    desk.clock.set(datetime(2026, 12, 3, 1, 0, tzinfo=UTC))  # 115年第4季
    await say(fake, line, ALICE, "填寫自評")
    assert "上季（115年第3季）：120 分（自評）" in last_text(fake, ALICE)
    await press(fake, line, ALICE, "沿用上季 120 分")
    assert "已沿用115年第3季的 1.1：120 分" in last_text(fake, ALICE)
    with desk.database.transaction() as session:
        carried = session.exec(select(Answer).where(Answer.carried_from.is_not(None))).all()
    assert [(a.question_code, a.self_score) for a in carried] == [("1.1", 120)]


async def test_the_events_of_one_body_are_one_transaction_each_with_its_reply(fake, desk, line):
    import sqlalchemy as sa

    bob = hook.user_id("bob")
    await onboard(fake, line, desk)
    await say(fake, line, bob, desk.invite(name="張技士", section="工務課"))
    channel, client = line
    events = [hook.text_event(ALICE, "填寫自評", reply_token=fake.issue_reply_token(ALICE)),
              hook.text_event(bob, "填寫自評", reply_token=fake.issue_reply_token(bob)),
              hook.text_event(ALICE, "100", reply_token=fake.issue_reply_token(ALICE)),
              hook.text_event(bob, "二十", reply_token=fake.issue_reply_token(bob))]
    commits: list[object] = []

    def committed(connection: object) -> None:
        commits.append(connection)

    engine = desk.database.engine
    sa.event.listen(engine, "commit", committed)
    try:
        assert (await post(client, *events)).status_code == 200
    finally:
        sa.event.remove(engine, "commit", committed)
    await channel.drain_replies()
    assert len(commits) == 1  # four events, one transaction
    alice, bobs = fake.texts_to(ALICE), fake.texts_to(bob)
    assert "規劃課 115年第4季 自評（填寫中）" in alice[-2] and "已記錄 1.1" in alice[-1]
    assert "工務課 115年第4季 自評（填寫中）" in bobs[-2] and "已記錄 1.1" in bobs[-1]
    assert len(processed(desk)) == 6  # two bindings and the four
