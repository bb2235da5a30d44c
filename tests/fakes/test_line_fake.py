"""The LINE fakes against line-bot-sdk's real clients and webhook parser."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from linebot.v3.exceptions import InvalidSignatureError
from linebot.v3.messaging import (
    ApiClient,
    ApiException,
    AsyncApiClient,
    AsyncMessagingApi,
    AsyncMessagingApiBlob,
    Configuration,
    MessagingApi,
    MessagingApiBlob,
    MulticastRequest,
    PostbackAction,
    PushMessageRequest,
    QuickReply,
    QuickReplyItem,
    ReplyMessageRequest,
    TextMessage,
)
from linebot.v3.webhook import WebhookParser
from linebot.v3.webhooks import (
    AudioMessageContent,
    FileMessageContent,
    FollowEvent,
    GroupSource,
    ImageMessageContent,
    JoinEvent,
    LeaveEvent,
    MemberJoinedEvent,
    MessageEvent,
    PostbackEvent,
    TextMessageContent,
    UnfollowEvent,
    VideoMessageContent,
)

from tests.fakes import line_webhook as webhook
from tests.fakes.line_api import FakeLine, grapheme_len, request_errors, utf16_len

SECRET = "0123456789abcdef0123456789abcdef"
ALICE = webhook.user_id("alice")
BOB = webhook.user_id("bob")
OFFICE = webhook.group_id("office")


@pytest.fixture(scope="module")
def server() -> Iterator[FakeLine]:
    with FakeLine() as fake:
        yield fake


@pytest.fixture
def line(server: FakeLine) -> FakeLine:
    server.reset()
    server.quota = 500
    server.profiles.clear()
    server.groups.clear()
    server.blocked.clear()
    return server


@pytest.fixture
def client(line: FakeLine) -> Iterator[ApiClient]:
    configuration = Configuration(host=line.base_url, access_token=line.access_token)
    with ApiClient(configuration) as api_client:
        yield api_client


def error_of(raised: pytest.ExceptionInfo[ApiException]) -> dict[str, Any]:
    body = raised.value.body
    return json.loads(body.decode() if isinstance(body, bytes) else body)


def text(value: str, **extra: Any) -> TextMessage:
    return TextMessage(text=value, **extra)


def unchecked_push(to: str, *messages: Any) -> PushMessageRequest:
    """A push request built without the SDK's own client-side checks (to reach the fake)."""
    return PushMessageRequest.construct(to=to, messages=list(messages),
                                        notification_disabled=False)


def raw_post(line: FakeLine, path: str, payload: Any, **headers: str) -> httpx.Response:
    auth = {"Authorization": f"Bearer {line.access_token}"}
    return httpx.post(line.base_url + path, json=payload, headers={**auth, **headers})


# -- webhook bodies ------------------------------------------------------------------------


def test_every_built_body_parses_with_the_sdk_into_the_expected_events() -> None:
    events = [
        webhook.text_event(ALICE, "我要填自評表 🍎"),
        webhook.text_event(ALICE, "大家好", group_id=OFFICE),
        webhook.postback_event(ALICE, "action=next&step=2"),
        webhook.image_event(ALICE, "100001"),
        webhook.file_event(ALICE, "100002", "自評表.pdf", 12345),
        webhook.video_event(ALICE, "100003", 5000),
        webhook.audio_event(ALICE, "100004", 3000),
        webhook.follow_event(ALICE),
        webhook.unfollow_event(ALICE),
        webhook.join_event(OFFICE),
        webhook.leave_event(OFFICE),
        webhook.member_joined_event(OFFICE, [ALICE, BOB]),
        webhook.unknown_event(ALICE),
    ]
    body = webhook.body(*events)
    assert b"\\u" not in body and b", " not in body  # UTF-8 as is, compact
    parsed = WebhookParser(SECRET).parse(body.decode("utf-8"), webhook.signature(body, SECRET))

    kinds = [type(event) for event in parsed]
    assert kinds[:12] == [MessageEvent, MessageEvent, PostbackEvent, MessageEvent,
                          MessageEvent, MessageEvent, MessageEvent, FollowEvent, UnfollowEvent,
                          JoinEvent, LeaveEvent, MemberJoinedEvent]
    contents = [type(event.message) for event in parsed if isinstance(event, MessageEvent)]
    assert contents == [TextMessageContent, TextMessageContent, ImageMessageContent,
                        FileMessageContent, VideoMessageContent, AudioMessageContent]
    # A type the SDK does not know becomes its legacy UnknownEvent, not an error.
    assert type(parsed[12]).__name__ == "UnknownEvent"
    assert type(parsed[12]).__module__ == "linebot.v3.models.events"
    assert parsed[12].type == "futureThing"

    assert parsed[0].message.text == "我要填自評表 🍎"
    assert parsed[0].reply_token == events[0]["replyToken"]
    assert parsed[0].webhook_event_id == events[0]["webhookEventId"]
    assert isinstance(parsed[1].source, GroupSource)
    assert (parsed[1].source.group_id, parsed[1].source.user_id) == (OFFICE, ALICE)
    assert parsed[2].postback.data == "action=next&step=2"
    assert parsed[4].message.file_name == "自評表.pdf"
    assert [m.user_id for m in parsed[11].joined.members] == [ALICE, BOB]


def test_events_carry_the_common_properties_and_options() -> None:
    event = webhook.text_event(ALICE, "hi", redelivery=True, event_id="01" + "A" * 24,
                               reply_token="token-1", timestamp=1_700_000_000_000)
    assert event["mode"] == "active"
    assert event["deliveryContext"] == {"isRedelivery": True}
    assert event["webhookEventId"] == "01" + "A" * 24
    assert event["replyToken"] == "token-1"
    assert event["timestamp"] == 1_700_000_000_000
    assert len(webhook.text_event(ALICE, "hi")["webhookEventId"]) == 26
    assert "replyToken" not in webhook.unfollow_event(ALICE)
    assert "replyToken" not in webhook.leave_event(OFFICE)
    assert webhook.image_event(ALICE, "1")["message"]["contentProvider"] == {"type": "line"}


def test_builders_fail_loudly_on_what_line_would_never_send() -> None:
    with pytest.raises(ValueError, match="not a LINE ID"):
        webhook.text_event("alice", "hi")
    with pytest.raises(ValueError, match=r"webhook\.yml"):
        webhook.file_event(ALICE, "1", "a.pdf", "12 bytes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"webhook\.yml"):
        webhook.validate_event({**webhook.follow_event(ALICE), "mode": "sleeping"})
    with pytest.raises(ValueError, match="destination"):
        webhook.body(webhook.follow_event(ALICE), destination="bot")


def test_a_wrong_signature_is_refused_by_the_sdk() -> None:
    body = webhook.body(webhook.text_event(ALICE, "hi"))
    with pytest.raises(InvalidSignatureError):
        WebhookParser(SECRET).parse(body.decode(), webhook.signature(body, "another secret"))
    assert webhook.headers(body, SECRET)["X-Line-Signature"] == webhook.signature(body, SECRET)


# -- the Messaging API ---------------------------------------------------------------------


def test_a_reply_token_works_once(line: FakeLine, client: ApiClient) -> None:
    api = MessagingApi(client)
    token = line.issue_reply_token(ALICE)
    response = api.reply_message(ReplyMessageRequest(reply_token=token,
                                                     messages=[text("您好"), text("請問")]))
    assert len(response.sent_messages) == 2
    assert response.sent_messages[0].quote_token

    with pytest.raises(ApiException) as raised:
        api.reply_message(ReplyMessageRequest(reply_token=token, messages=[text("again")]))
    assert raised.value.status == 400
    assert error_of(raised) == {"message": "Invalid reply token"}

    expired = line.issue_reply_token(ALICE, expired=True)
    with pytest.raises(ApiException, match="Invalid reply token"):
        api.reply_message(ReplyMessageRequest(reply_token=expired, messages=[text("late")]))
    assert line.texts_to(ALICE) == ["您好", "請問"]
    assert len(line.sent("reply")) == 1
    assert line.consumption == 0  # replies are free


def test_a_quick_reply_has_at_most_13_items(line: FakeLine, client: ApiClient) -> None:
    api = MessagingApi(client)

    def items(count: int, label: str = "選項") -> QuickReply:
        return QuickReply.construct(items=[
            QuickReplyItem(action=PostbackAction(label=f"{label}{n}", data=f"choice={n}"))
            for n in range(count)])

    api.push_message(PushMessageRequest(to=ALICE, messages=[text("選一個",
                                                                 quick_reply=items(13))]))
    with pytest.raises(ApiException) as raised:
        api.push_message(unchecked_push(ALICE, text("選一個", quick_reply=items(14))))
    assert raised.value.status == 400
    assert error_of(raised) == {
        "message": "The request body has 1 error(s)",
        "details": [{"message": "Size must be between 0 and 13",
                     "property": "messages[0].quickReply.items"}],
    }
    with pytest.raises(ApiException) as raised:
        api.push_message(PushMessageRequest(to=ALICE, messages=[
            text("選一個", quick_reply=items(1, label="一二三四五六七八九十" * 2))]))
    assert error_of(raised)["details"] == [{
        "message": "Length must be between 0 and 20",
        "property": "messages[0].quickReply.items[0].action.label"}]
    assert line.texts_to(ALICE) == ["選一個"]


def test_text_is_at_most_5000_utf16_code_units(line: FakeLine, client: ApiClient) -> None:
    api = MessagingApi(client)
    apples = "🍎" * 2500  # 2,500 code points, 5,000 UTF-16 code units
    assert utf16_len(apples) == 5000
    for accepted in ("a" * 5000, apples):
        api.push_message(PushMessageRequest(to=ALICE, messages=[text(accepted)]))
    for refused in ("a" * 5001, apples + "a"):
        with pytest.raises(ApiException) as raised:
            api.push_message(PushMessageRequest(to=ALICE, messages=[text(refused)]))
        assert error_of(raised)["details"] == [{"message": "Length must be between 1 and 5000",
                                                "property": "messages[0].text"}]
    with pytest.raises(ApiException, match="May not be empty"):
        api.push_message(PushMessageRequest(to=ALICE, messages=[text("")]))
    assert line.texts_to(ALICE) == ["a" * 5000, apples]


def test_a_repeated_retry_key_is_refused_and_not_delivered_again(line: FakeLine,
                                                                client: ApiClient) -> None:
    api = MessagingApi(client)
    key = str(uuid.uuid4())
    request = PushMessageRequest(to=ALICE, messages=[text("第一季自評表已開放")])
    first = api.push_message_with_http_info(request, x_line_retry_key=key)
    assert first.status_code == 200

    with pytest.raises(ApiException) as raised:
        api.push_message(request, x_line_retry_key=key)
    assert raised.value.status == 409
    assert error_of(raised)["message"] == "The retry key is already accepted"
    original_id = first.headers["x-line-request-id"]
    assert raised.value.headers["x-line-accepted-request-id"] == original_id
    assert len(line.sent("push")) == 1
    assert line.texts_to(ALICE) == ["第一季自評表已開放"]
    assert [r.status for r in line.requests] == [200, 409]
    assert line.accepted_retry_keys == {key: original_id}

    with pytest.raises(ApiException) as raised:
        api.push_message(request, x_line_retry_key="not-a-uuid")
    assert raised.value.status == 400


def test_a_retry_after_an_accepted_500_is_not_delivered_twice(line: FakeLine,
                                                             client: ApiClient) -> None:
    api = MessagingApi(client)
    key = str(uuid.uuid4())
    request = MulticastRequest(to=[ALICE, BOB], messages=[text("提醒")])
    line.fail_next("/message/multicast", status=500, deliver=True)
    with pytest.raises(ApiException) as raised:
        api.multicast(request, x_line_retry_key=key)
    assert raised.value.status == 500
    assert error_of(raised) == {"message": "Internal server error"}
    with pytest.raises(ApiException) as raised:
        api.multicast(request, x_line_retry_key=key)
    assert raised.value.status == 409
    assert line.texts_to(ALICE) == line.texts_to(BOB) == ["提醒"]


def test_multicast_reaches_1_to_500_users(line: FakeLine, client: ApiClient) -> None:
    api = MessagingApi(client)
    assert api.multicast(MulticastRequest(to=[ALICE, BOB], messages=[text("hi")])) == {}
    assert line.consumption == 2
    users = [webhook.user_id(str(n)) for n in range(501)]
    with pytest.raises(ApiException) as raised:
        api.multicast(MulticastRequest.construct(to=users, messages=[text("hi")],
                                                 notification_disabled=False))
    assert error_of(raised)["details"] == [{"message": "Size must be between 1 and 500",
                                            "property": "to"}]
    with pytest.raises(ApiException, match="The property, 'to'"):
        api.multicast(MulticastRequest(to=[ALICE, OFFICE], messages=[text("hi")]))
    assert line.texts_to(ALICE) == ["hi"]
    assert line.consumption == 2


def test_push_goes_to_a_user_group_or_room_id(line: FakeLine, client: ApiClient) -> None:
    api = MessagingApi(client)
    api.push_message(PushMessageRequest(to=OFFICE, messages=[text("各位好")]))
    assert line.texts_to(OFFICE) == ["各位好"]
    for wrong in ("alice", ALICE.upper(), ALICE + "0"):
        with pytest.raises(ApiException) as raised:
            api.push_message(PushMessageRequest(to=wrong, messages=[text("x")]))
        assert error_of(raised) == {"message": "The property, 'to', in the request body is "
                                               "invalid (line: -, column: -)"}


def test_quota_and_consumption(line: FakeLine, client: ApiClient) -> None:
    api = MessagingApi(client)
    quota = api.get_message_quota()
    assert (quota.type, quota.value) == ("limited", 500)
    # LINE counts one message per recipient and request, whatever the number of objects.
    api.push_message(PushMessageRequest(to=ALICE, messages=[text("1"), text("2"), text("3")]))
    line.groups[OFFICE] = {"groupName": "規劃課", "memberCount": 4}
    api.push_message(PushMessageRequest(to=OFFICE, messages=[text("group")]))
    assert api.get_message_quota_consumption().total_usage == 5

    line.quota = 6
    with pytest.raises(ApiException) as raised:
        api.multicast(MulticastRequest(to=[ALICE, BOB], messages=[text("over")]))
    assert (raised.value.status, error_of(raised)) == (
        429, {"message": "You have reached your monthly limit."})
    line.blocked.add(BOB)
    api.multicast(MulticastRequest(to=[ALICE, BOB], messages=[text("blocked bob")]))
    assert line.consumption == 6
    assert line.texts_to(BOB) == []

    line.quota = None
    assert api.get_message_quota().type == "none"


def test_content_download_returns_the_bytes(line: FakeLine, client: ApiClient) -> None:
    blob = MessagingApiBlob(client)
    picture = bytes(range(256)) * 4
    line.add_content("100001", picture, "image/jpeg")
    response = blob.get_message_content_with_http_info("100001")
    assert bytes(response.data) == picture
    assert response.headers["content-type"] == "image/jpeg"
    with pytest.raises(ApiException) as raised:
        blob.get_message_content("999")
    assert raised.value.status == 404
    assert line.requests[0].path == "/v2/bot/message/100001/content"


def test_fail_next_429_then_success(line: FakeLine, client: ApiClient) -> None:
    api = MessagingApi(client)
    line.fail_next("/message/push", status=429)
    request = PushMessageRequest(to=ALICE, messages=[text("稍後")])
    with pytest.raises(ApiException) as raised:
        api.push_message(request)
    assert raised.value.status == 429
    assert error_of(raised) == {
        "message": "The API rate limit has been exceeded. Try again later."}
    api.push_message(request)
    assert [r.status for r in line.requests] == [429, 200]
    assert len(line.sent("push")) == 1

    line.fail_next("/message/reply", status=400, message="Failed to send messages", times=2)
    token = line.issue_reply_token(ALICE)
    for _ in range(2):
        with pytest.raises(ApiException, match="Failed to send messages"):
            api.reply_message(ReplyMessageRequest(reply_token=token, messages=[text("x")]))
    api.reply_message(ReplyMessageRequest(reply_token=token, messages=[text("x")]))


def test_every_request_needs_the_bearer_token(line: FakeLine) -> None:
    missing = httpx.get(line.base_url + "/v2/bot/info")
    assert missing.status_code == 401
    assert missing.json()["message"].startswith("Authorization header required")
    wrong = Configuration(host=line.base_url, access_token="not-the-token")
    with ApiClient(wrong) as api_client, pytest.raises(ApiException) as raised:
        MessagingApi(api_client).get_bot_info()
    assert raised.value.status == 401
    assert error_of(raised)["message"].startswith("Authentication failed")
    assert [r.status for r in line.requests] == [401, 401]
    assert "authorization" not in line.requests[0].headers


def test_profiles_groups_and_bot_info(line: FakeLine, client: ApiClient) -> None:
    api = MessagingApi(client)
    line.profiles[ALICE] = {"displayName": "王小明", "statusMessage": "忙"}
    profile = api.get_profile(ALICE)
    assert (profile.user_id, profile.display_name, profile.picture_url) == (ALICE, "王小明", None)
    with pytest.raises(ApiException) as raised:
        api.get_profile(BOB)
    assert (raised.value.status, error_of(raised)) == (404, {"message": "Not found"})
    line.groups[OFFICE] = {"groupName": "規劃課"}
    assert api.get_group_summary(OFFICE).group_name == "規劃課"
    assert api.get_group_member_profile(OFFICE, ALICE).display_name == "王小明"
    assert api.get_bot_info().chat_mode == "bot"


def test_message_objects_are_validated_as_deep_as_the_spec_goes(line: FakeLine) -> None:
    bubble = {"type": "bubble", "body": {"type": "box", "layout": "vertical", "contents": [
        {"type": "text", "text": "第一季", "weight": "bold"},
        {"type": "button", "action": {"type": "uri", "label": "開啟",
                                      "uri": "https://example.org/form"}},
    ]}}
    flex = {"type": "flex", "altText": "自評表", "contents": {"type": "carousel",
                                                             "contents": [bubble, bubble]}}
    assert raw_post(line, "/v2/bot/message/push",
                    {"to": ALICE, "messages": [flex]}).status_code == 200

    broken = json.loads(json.dumps(flex))
    broken["contents"]["contents"][1]["body"]["contents"][0]["weight"] = "heavy"
    del broken["contents"]["contents"][1]["body"]["contents"][1]["action"]["uri"]
    broken["contents"]["contents"][0]["body"]["layout"] = "diagonal"
    response = raw_post(line, "/v2/bot/message/push", {"to": ALICE, "messages": [
        broken, {"type": "sticker", "packageId": "1"}, {"type": "carrier-pigeon"},
        {"type": "text", "text": "x", "quickReply": {"items": [
            {"type": "action", "action": {"type": "postback", "data": "d" * 301}}]}},
        {"type": "template", "altText": "a" * 1501, "template": {
            "type": "buttons", "text": "選", "actions": [
                {"type": "message", "label": "好", "text": "好"}] * 5}},
    ]})
    assert response.status_code == 400
    details = {d["property"]: d["message"] for d in response.json()["details"]}
    assert details == {
        "messages[0].contents.contents[0].body.layout":
            "Must be one of the following values: [horizontal, vertical, baseline]",
        "messages[0].contents.contents[1].body.contents[0].weight":
            "Must be one of the following values: [regular, bold]",
        "messages[0].contents.contents[1].body.contents[1].action.uri": "Must be specified",
        "messages[1].stickerId": "Must be specified",
        "messages[2].type": "Must be one of the following values: [text, textV2, sticker, "
                            "image, video, audio, location, imagemap, template, flex, coupon]",
        "messages[3].quickReply.items[0].action.data": "Length must be between 0 and 300",
        "messages[4].altText": "Length must be between 1 and 1500",
        "messages[4].template.actions": "Size must be between 1 and 4",
    }
    assert response.json()["message"] == f"The request body has {len(details)} error(s)"
    assert len(line.sent()) == 1  # only the valid flex message


def test_documented_limits_beyond_the_spec() -> None:
    def push(*messages: dict[str, Any]) -> list[tuple[str, str]]:
        return request_errors("PushMessageRequest", {"to": ALICE, "messages": list(messages)})

    assert push(*[{"type": "text", "text": "x"}] * 6) == [
        ("messages", "Size must be between 1 and 5")]
    assert push({"type": "text", "text": "x", "quickReply": {"items": [{"type": "action",
                 "action": {"type": "postback", "data": "x", "displayText": "字" * 301}}]}}) == [
        ("messages[0].quickReply.items[0].action.displayText", "Length must be between 0 and 300")]
    assert push({"type": "image", "originalContentUrl": "http://example.org/a.jpg",
                 "previewImageUrl": "https://example.org/a.jpg"}) == [
        ("messages[0].originalContentUrl", "Must be an HTTPS URL")]
    assert push({"type": "template", "altText": "確認", "template": {
        "type": "confirm", "text": "確定嗎？", "actions": [
            {"type": "message", "label": "是", "text": "是"}]}}) == [
        ("messages[0].template.actions", "Size must be between 2 and 2")]
    assert grapheme_len("👋🏻e\u0301🇹🇼\r\n") == 4
    assert utf16_len("👋🏻") == 4


async def test_the_async_client_talks_to_the_fake(line: FakeLine) -> None:
    configuration = Configuration(host=line.base_url, access_token=line.access_token)
    line.add_content("100002", b"%PDF-1.7", "application/pdf")
    async with AsyncApiClient(configuration) as api_client:
        api = AsyncMessagingApi(api_client)
        response = await api.push_message(PushMessageRequest(to=ALICE, messages=[text("async")]))
        assert len(response.sent_messages) == 1
        with pytest.raises(ApiException) as raised:
            await api.reply_message(ReplyMessageRequest(reply_token="nope",
                                                        messages=[text("x")]))
        assert raised.value.status == 400
        content = await AsyncMessagingApiBlob(api_client).get_message_content("100002")
        assert bytes(content) == b"%PDF-1.7"
    assert line.texts_to(ALICE) == ["async"]
