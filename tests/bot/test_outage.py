"""Platform trouble end to end (issue #10): the Messaging API and the Bot API answer 429 and
500, time out, reset and refuse connections for a while; messages wait in the outbox and go
out once it recovers, each once.

The real channel adapters talk over real HTTP to the fake platforms through a ``ChaosProxy``;
users' messages come in through the real webhooks, and their replies, which cannot go out,
fall back to the outbox. The ``OutboxSender`` is driven by hand with ``drain_once`` and the
desk's clock, moved past every backoff: nothing sleeps for a backoff.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import ClassVar

import httpx
import pytest

from bot.line import REQUEST_TIMEOUT, LineChannel
from bot.outbox import MAX_ATTEMPTS, backoff
from bot.server import create_app
from bot.telegram import REQUEST_TIMEOUT as TELEGRAM_TIMEOUT
from bot.telegram import TelegramChannel
from handlers.messages import Choice, Outgoing
from storage.models import OutboxMessage, Role
from storage.org import ensure_demo_agency
from storage.outbox import enqueue, secretariat_destinations
from tests.bot.conftest import Desk, serving
from tests.fakes import line_webhook as hook
from tests.fakes.chaos import ChaosProxy
from tests.fakes.line_api import FakeLine, request_errors
from tests.fakes.telegram_api import FakeTelegram

SECRET = "0123456789abcdef0123456789abcdef"
TOKEN = "123456:" + "A" * 35
#: The adapters' request timeout while the platform hangs (seconds). A hung platform costs this
#: much per request, so it is short then; otherwise the adapters keep their own, and a slow
#: answer is never taken for trouble (a Telegram send that timed out after the platform took
#: it would be a duplicate the test could not tell from a bug).
HANG_TIMEOUT = 0.05
#: Telegram's flood wait during the outage (LINE's 429 carries none: the adapter waits 30 s).
RETRY_AFTER = 60
#: One cycle of the outage; the transient test rides out two (10 failed attempts a row).
CYCLE = ("429", "hang", "reset", "refuse", "500")
FAILED_NOTICE = "傳送失敗"

#: Texts the outbox holds for several of a platform's ``staff`` (by index) at once: LINE sends
#: each as one multicast.
SAME_TO_MANY = [
    ("115年第4季自評已開始，請於 115年12月20日 前完成。", range(0, 8)),
    ("提醒：本季自評將於 3 天後截止。", range(2, 8)),
    ("【考核小組】12月5日 下午2時 召開審查會議。", range(6, 10)),
]


def planned_messages() -> list[tuple[int | None, Outgoing]]:
    """30 messages: 18 identical ones to several users, 11 distinct ones (some with a button),
    1 to a group chat (``None``)."""
    plan: list[tuple[int | None, Outgoing]] = []
    for text, users in SAME_TO_MANY:
        plan += [(n, Outgoing(text)) for n in users]
    for n in range(11):
        choices = (Choice("填寫自評", "0:m:fill"),) if n % 3 == 0 else ()
        plan.append((n % 10, Outgoing(f"第 {n + 1} 則個別通知：佐證資料第 {n + 1} 件已收到。",
                                      choices)))
    plan.append((None, Outgoing("規劃課本季自評進度 3/5")))
    return plan


# --- the platforms behind a chaos proxy ------------------------------------------------------


class LinePlatform:
    """LineChannel → ChaosProxy → FakeLine; signed webhooks into the app under uvicorn."""

    name = "line"
    #: The adapter's wait after a 429 (LINE sends no Retry-After).
    wait_429 = 30.0
    errors: ClassVar[dict[str, str]] = {
        "429": "LINE answered 429", "500": "LINE answered 500", "hang": "LINE not reachable",
        "reset": "LINE not reachable", "refuse": "LINE not reachable"}

    def __init__(self, fake: FakeLine, proxy: ChaosProxy, channel: LineChannel,
                 client: httpx.AsyncClient) -> None:
        self.fake, self.proxy, self.channel, self.client = fake, proxy, channel, client
        self.staff = [hook.user_id(f"staff{n}") for n in range(10)]
        self.group = hook.group_id("planning")
        self.alice, self.bob = hook.user_id("alice"), hook.user_id("bob")
        self.chen = hook.user_id("chen")  # the secretariat

    def fault(self, kind: str, *, deliver: bool = False) -> None:
        """From now on every message request meets ``kind`` of trouble. ``deliver``: LINE takes
        pushes and multicasts although it answers 500 (only the answer fails)."""
        self.fake.clear_failures()
        self.channel.timeout = HANG_TIMEOUT if kind == "hang" else REQUEST_TIMEOUT
        if kind in ("429", "500"):
            self.proxy.mode = "pass"
            for path in ("/message/push", "/message/multicast", "/message/reply"):
                self.fake.fail_next(path, status=int(kind), times=100_000,
                                    deliver=deliver and path != "/message/reply")
        else:
            self.proxy.mode = kind

    def recover(self) -> None:
        self.fake.clear_failures()
        self.channel.timeout = REQUEST_TIMEOUT
        self.proxy.mode = "pass"

    async def says(self, user: str, text: str) -> None:
        """``user`` types ``text``: a signed webhook, then the reply (or its fallback)."""
        payload = hook.body(hook.text_event(user, text,
                                            reply_token=self.fake.issue_reply_token(user)))
        response = await self.client.post(
            "/line/webhook", content=payload,
            headers={"content-type": "application/json",
                     "x-line-signature": hook.signature(payload, SECRET)})
        assert response.status_code == 200, response.text
        await self.channel.drain_replies()

    def texts_to(self, chat: str) -> list[str]:
        return self.fake.texts_to(chat)

    def deliveries(self) -> int:
        """Message requests the platform took so far."""
        return len(self.fake.sent())

    def check_retry_keys(self) -> None:
        """No X-Line-Retry-Key was taken twice, and retries of requests LINE had taken did
        meet its 409."""
        keys = collections.Counter(r.retry_key for r in self.fake.sent() if r.retry_key)
        assert keys and max(keys.values()) == 1, keys.most_common(3)
        assert any(r.status == 409 for r in self.fake.requests)


class TelegramPlatform:
    """TelegramChannel (webhook mode) → ChaosProxy → FakeTelegram."""

    name = "telegram"
    wait_429 = float(RETRY_AFTER)
    errors: ClassVar[dict[str, str]] = {
        "429": "Telegram asked to wait", "500": "Telegram not reachable",
        "hang": "Telegram not reachable", "reset": "Telegram not reachable",
        "refuse": "Telegram not reachable"}

    def __init__(self, fake: FakeTelegram, proxy: ChaosProxy,
                 channel: TelegramChannel) -> None:
        self.fake, self.proxy, self.channel = fake, proxy, channel
        self.staff = [str(6001 + n) for n in range(10)]
        self.group = "-100555"
        self.alice, self.bob = "5001", "5002"
        self.chen = "5009"

    def fault(self, kind: str, *, deliver: bool = False) -> None:
        assert not deliver, "the fake Bot API has no taken-but-failed answers"
        self.fake.clear_failures()
        self.channel.timeout = HANG_TIMEOUT if kind == "hang" else TELEGRAM_TIMEOUT
        if kind in ("429", "500"):
            self.proxy.mode = "pass"
            self.fake.fail_next("sendMessage", kind=kind, times=100_000,
                                retry_after=RETRY_AFTER)
        else:
            self.proxy.mode = kind

    def recover(self) -> None:
        self.fake.clear_failures()
        self.channel.timeout = TELEGRAM_TIMEOUT
        self.proxy.mode = "pass"

    async def says(self, user: str, text: str) -> None:
        """``user`` types ``text``; Telegram posts the update to the webhook (not through the
        proxy: the trouble is on the way out) and the reply (or its fallback) is done when
        the webhook answers."""
        self.fake.user_text(int(user), text)
        response = await self.fake.adeliver_webhook()
        assert response.status_code == 200, response.text

    def texts_to(self, chat: str) -> list[str]:
        return self.fake.sent_texts(int(chat))

    def deliveries(self) -> int:
        return len(self.fake.calls_to("sendMessage"))

    def check_retry_keys(self) -> None:
        """Telegram has no retry key: exactly once rests on the counts alone."""


Platform = LinePlatform | TelegramPlatform


@pytest.fixture
def line_fake() -> Iterator[FakeLine]:
    # The fake compiles LINE's schemas on first use (a second or two): done before the test.
    message = [{"type": "text", "text": "x"}]
    for schema, body in (("PushMessageRequest", {"to": hook.user_id("x"), "messages": message}),
                         ("MulticastRequest", {"to": [hook.user_id("x")], "messages": message}),
                         ("ReplyMessageRequest", {"replyToken": "x", "messages": message})):
        assert request_errors(schema, body) == []
    with FakeLine() as server:
        yield server


@pytest.fixture
def telegram_fake() -> Iterator[FakeTelegram]:
    with FakeTelegram(TOKEN) as server:
        yield server


@pytest.fixture
async def line_platform(line_fake: FakeLine, desk: Desk) -> AsyncIterator[LinePlatform]:
    port = int(line_fake.base_url.rsplit(":", 1)[1])
    with ChaosProxy("127.0.0.1", port) as proxy:
        channel = LineChannel.from_dispatcher(
            desk.dispatcher, channel_secret=SECRET, access_token=line_fake.access_token,
            max_evidence_bytes=64 * 1024, api_base_url=proxy.url, fallback=desk.fallback)
        desk.outbox.senders = {"line": channel}
        app = create_app(database=desk.database, line=channel, on_shutdown=channel.close)
        async with serving(app) as url, httpx.AsyncClient(base_url=url) as client:
            yield LinePlatform(line_fake, proxy, channel, client)


@pytest.fixture
async def telegram_platform(telegram_fake: FakeTelegram,
                            desk: Desk) -> AsyncIterator[TelegramPlatform]:
    with ChaosProxy("127.0.0.1", telegram_fake.port) as proxy:
        channel = TelegramChannel.from_dispatcher(
            desk.dispatcher, token=TOKEN, max_evidence_bytes=64 * 1024,
            api_base_url=f"{proxy.url}/bot", webhook_url="http://127.0.0.1/telegram/webhook",
            fallback=desk.fallback, commands_retry_delay=0.05)
        desk.outbox.senders = {"telegram": channel}
        app = create_app(database=desk.database, telegram=channel)
        async with serving(app) as url:
            channel.webhook_url = f"{url}/telegram/webhook"  # known once uvicorn listens
            await channel.start()
            await telegram_fake.await_calls("setMyCommands")
            try:
                yield TelegramPlatform(telegram_fake, proxy, channel)
            finally:
                await channel.stop()


# --- the scenario ----------------------------------------------------------------------------


async def office(desk: Desk, platform: Platform) -> int:
    """Alice and Bob (staff) and 陳秘書 (the secretariat) bound on the platform and everything
    so far delivered; returns the agency's id."""
    for user, name, role, section in ((platform.alice, "王小明", Role.STAFF, "規劃課"),
                                      (platform.bob, "李大華", Role.STAFF, "規劃課"),
                                      (platform.chen, "陳秘書", Role.SECRETARIAT, "秘書室")):
        await platform.says(user, desk.invite(role=role, section=section, name=name))
        assert any(f"{name}您好" in t for t in platform.texts_to(user))
    await drain_all(desk)
    with desk.database.transaction() as session:
        agency_id = ensure_demo_agency(session=session).id
        assert agency_id is not None
        # The secretariat would hear of a failure: the checks that it heard of none mean
        # something.
        assert secretariat_destinations(session=session, agency_id=agency_id) == [
            (platform.name, platform.chen)]
    return agency_id


def queue(desk: Desk, platform: Platform, agency_id: int,
          plan: list[tuple[int | None, Outgoing]]) -> None:
    with desk.database.transaction() as session:
        for n, (who, message) in enumerate(plan):
            destination = platform.group if who is None else platform.staff[who]
            enqueue(session=session, destination=(platform.name, destination),
                    payload=message.to_payload(), key=f"outage-{platform.name}-{n}",
                    now=desk.clock.now, agency_id=agency_id)


def pending(desk: Desk) -> list[OutboxMessage]:
    return [r for r in desk.outbox_rows() if r.status == "pending"]


def newest_id(desk: Desk) -> int:
    return max([0, *(r.id or 0 for r in desk.outbox_rows())])


def all_due(desk: Desk) -> None:
    """Move the clock to when every pending row is due (past every backoff)."""
    desk.clock.set(max([desk.clock.now, *(r.next_attempt_at for r in pending(desk))]))


async def drain_all(desk: Desk, *, rounds: int = 5) -> None:
    for _ in range(rounds):
        if not pending(desk):
            return
        all_due(desk)
        await desk.outbox.drain_once()


async def nothing_more(desk: Desk) -> None:
    """Later drains, hours later, find nothing to send."""
    for _ in range(3):
        desk.clock.set(desk.clock.now + timedelta(hours=2))
        assert await desk.outbox.drain_once() == 0


async def outage_round(desk: Desk, platform: Platform, kind: str, *, deliver: bool = False,
                       says: tuple[tuple[str, str], ...] = ()) -> None:
    """One round of trouble: users talk (their replies fail and fall back to the outbox), then
    every pending row is tried once, fails, and waits max(the platform's wait, its backoff);
    none is sent, none given up, the secretariat hears nothing."""
    platform.fault(kind, deliver=deliver)
    for user, text in says:
        last = newest_id(desk)
        await platform.says(user, text)
        queued = {r.destination for r in desk.outbox_rows() if (r.id or 0) > last}
        assert queued == {user}  # the reply fell back to the outbox
    before = {r.id: r for r in pending(desk)}
    accepted = platform.deliveries()
    all_due(desk)
    start, tick = desk.clock.now, desk.clock.tick
    desk.clock.tick = timedelta(0)  # the drain happens at ``start``: its waits are exact
    try:
        assert await desk.outbox.drain_once() == len(before)
    finally:
        desk.clock.tick = tick
    if not deliver:
        assert platform.deliveries() == accepted, f"something got through a {kind}"
    for row in desk.outbox_rows():
        if row.id not in before:
            assert row.status == "sent"  # delivered before the outage
            continue
        assert row.status == "pending", (kind, row.status, row.last_error)
        assert row.attempts == before[row.id].attempts + 1 < MAX_ATTEMPTS
        assert platform.errors[kind] in (row.last_error or ""), (kind, row.last_error)
        # A multicast's rows wait alike, by the most tried of them (they go out together).
        tries = max(r.attempts for r in desk.outbox_rows()
                    if r.id == row.id or (row.batch_key and r.batch_key == row.batch_key))
        wait = max(timedelta(seconds=platform.wait_429 if kind == "429" else 0),
                   backoff(tries))
        assert row.next_attempt_at == start + wait, (kind, row.attempts)
        assert FAILED_NOTICE not in row.payload["text"]


async def ride_out(desk: Desk, platform: Platform) -> None:
    agency_id = await office(desk, platform)
    last_before = newest_id(desk)
    plan = planned_messages()
    queue(desk, platform, agency_id, plan)
    chats = {*platform.staff, platform.group, platform.alice, platform.bob, platform.chen}
    seen = {chat: len(platform.texts_to(chat)) for chat in chats}
    outage_start = desk.clock.now

    # Two cycles through every kind of trouble: each row fails 10 times, fewer than
    # MAX_ATTEMPTS. Alice and Bob talk in the first. On LINE the first 500s are answered to
    # requests LINE took all the same; that round comes after the last reply is queued, since
    # a reply's own push has no key the outbox could reuse (it would then arrive twice).
    talk = {"429": ((platform.alice, "說明"),), "hang": ((platform.bob, "說明"),),
            "reset": ((platform.alice, "我的進度"),), "refuse": ((platform.bob, "我的進度"),)}
    for cycle in range(2):
        for kind in CYCLE:
            deliver = cycle == 0 and kind == "500" and platform.name == "line"
            await outage_round(desk, platform, kind, deliver=deliver,
                               says=talk.get(kind, ()) if cycle == 0 else ())

    # The platform recovers, "after a while": every message goes out, once.
    platform.recover()
    all_due(desk)
    assert desk.clock.now - outage_start > timedelta(hours=1)
    await drain_all(desk)
    rows = [r for r in desk.outbox_rows() if (r.id or 0) > last_before]
    assert len(rows) > len(plan) and all(r.status == "sent" for r in rows)
    await nothing_more(desk)
    expected: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for row in rows:
        expected[row.destination][row.payload["text"]] += 1
    assert set(expected) <= chats
    for chat in chats:
        got = collections.Counter(platform.texts_to(chat)[seen[chat]:])
        assert got == expected.get(chat, collections.Counter()), chat
    platform.check_retry_keys()
    # A transient outage is not the secretariat's business.
    assert not any(FAILED_NOTICE in t for t in platform.texts_to(platform.chen))
    assert not any(FAILED_NOTICE in r.payload["text"] for r in desk.outbox_rows())


async def give_up(desk: Desk, platform: Platform) -> None:
    agency_id = await office(desk, platform)
    last_before = newest_id(desk)
    plan = planned_messages()[:3] + planned_messages()[18:22]  # a multicast and 4 singles
    queue(desk, platform, agency_id, plan)
    trouble = ("429", "500", "reset", "refuse")  # (a hang costs real seconds: left out)
    for attempt in range(1, MAX_ATTEMPTS):
        await outage_round(desk, platform, trouble[attempt % len(trouble)])
    platform.fault("500")
    all_due(desk)
    assert await desk.outbox.drain_once() == len(plan)  # the last attempt
    rows = [r for r in desk.outbox_rows() if (r.id or 0) > last_before]
    failed = [r for r in rows if r.status == "failed"]
    notices = [r for r in rows if FAILED_NOTICE in r.payload["text"]]
    # Not lost: still in the table, with the reason.
    assert sorted(r.payload["text"] for r in failed) == sorted(m.text for _, m in plan)
    assert all(f"gave up after {MAX_ATTEMPTS} attempts: {platform.errors['500']}"
               in (r.last_error or "") for r in failed)
    assert len(notices) == len(plan) and {r.destination for r in notices} == {platform.chen}

    platform.recover()
    await drain_all(desk)
    await nothing_more(desk)
    told = [t for t in platform.texts_to(platform.chen) if FAILED_NOTICE in t]
    assert len(told) == len(plan)  # once per row
    for row in failed:
        assert sum(row.payload["text"][:40] in t and row.destination[-6:] in t
                   for t in told) == 1, (row.destination, row.payload["text"])
        assert row.payload["text"] not in platform.texts_to(row.destination)
    still = {r.id: r.status for r in desk.outbox_rows()}
    assert all(still[r.id] == "failed" for r in failed)


def no_errors_logged(caplog: pytest.LogCaptureFixture) -> None:
    errors = [f"{r.name}: {r.getMessage()}" for r in caplog.records
              if r.levelno >= logging.ERROR]
    assert errors == []


# --- the tests -------------------------------------------------------------------------------


async def test_line_outage_is_ridden_out_and_every_message_goes_out_once(
        desk, line_platform, caplog):
    await ride_out(desk, line_platform)
    no_errors_logged(caplog)


async def test_telegram_outage_is_ridden_out_and_every_message_goes_out_once(
        desk, telegram_platform, caplog):
    await ride_out(desk, telegram_platform)
    no_errors_logged(caplog)


async def test_line_outage_past_the_horizon_fails_rows_and_tells_the_secretariat_once(
        desk, line_platform, caplog):
    await give_up(desk, line_platform)
    no_errors_logged(caplog)


async def test_telegram_outage_past_the_horizon_fails_rows_and_tells_the_secretariat_once(
        desk, telegram_platform, caplog):
    await give_up(desk, telegram_platform)
    no_errors_logged(caplog)
