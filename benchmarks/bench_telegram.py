"""Telegram: the same answers as Updates through the real ``Application.process_update``,
each committed, against the same Application with a one-line echo handler; and the outbox
fan-out of a reminder round to 10,000 members under the platforms' real limits."""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections import Counter
from pathlib import Path

from telegram import Update
from telegram.ext import Application, MessageHandler, filters

from benchmarks.common import TickingClock, database, dispatcher, populate, write
from bot.line import LineChannel
from bot.outbox import OutboxSender
from bot.telegram import TelegramChannel
from handlers.messages import Outgoing
from rubric import load_year
from storage.outbox import enqueue
from tests.fakes.line_api import FakeLine
from tests.fakes.telegram_api import FakeTelegram

TOKEN = "123456:" + "A" * 35
STAFF = 1000
UPDATES = 1000
FANOUT = 10_000
TELEGRAM_SECONDS = 15.0


def update(n: int, user: int, text: str) -> dict[str, object]:
    return {"update_id": n, "message": {
        "message_id": n, "date": 1764205200, "text": text,
        "chat": {"id": user, "type": "private", "first_name": "測試"},
        "from": {"id": user, "is_bot": False, "first_name": "測試"}}}


def answers(users: list[str]) -> list[dict[str, object]]:
    rubric = load_year(105)
    codes = [q.code for q in rubric.questions]
    found = []
    for n in range(UPDATES):
        user = int(users[n % len(users)].split("-")[1])
        text = "略過" if (n // len(users)) % 2 else \
            str(rubric.question(codes[(n // len(users) // 2) % len(codes)]).max // 2)
        found.append(update(100_000 + n, user, text))
    return found


async def telegram_rates(fake: FakeTelegram, folder: Path) -> dict[str, object]:
    results: dict[str, object] = {}
    with database("sqlite") as db:
        users = populate(db, STAFF, channel="telegram")
        ids = [f"telegram-{u.split('-')[1]}" for u in users]
        channel = TelegramChannel.from_dispatcher(dispatcher(db, folder), token=TOKEN,
                                                  max_evidence_bytes=1 << 20,
                                                  api_base_url=fake.base_url,
                                                  rate_limiter=False)
        await channel.application.initialize()
        warm = [update(50_000 + n, int(u.split("-")[1]), "填寫自評") for n, u in enumerate(ids)]
        for data in warm:
            await channel.process(data)
        start = time.perf_counter()
        for data in answers(ids):
            await channel.process(data)
        results["sqbot_updates_per_s"] = round(UPDATES / (time.perf_counter() - start), 1)
        await channel.application.shutdown()

    echo = Application.builder().token(TOKEN).base_url(fake.base_url).updater(None).build()

    async def reply(update: Update, context: object) -> None:
        assert update.message is not None
        await update.message.reply_text(update.message.text or "")

    echo.add_handler(MessageHandler(filters.TEXT, reply))
    await echo.initialize()
    batch = [Update.de_json(data, echo.bot) for data in answers(
        [f"x-{n + 1}" for n in range(STAFF)])]
    start = time.perf_counter()
    for item in batch:
        await echo.process_update(item)
    results["echo_updates_per_s"] = round(UPDATES / (time.perf_counter() - start), 1)
    await echo.shutdown()
    results["ratio_to_echo"] = round(
        results["sqbot_updates_per_s"] / results["echo_updates_per_s"], 3)  # type: ignore[operator]
    return results


async def fanout(telegram_fake: FakeTelegram, line_fake: FakeLine) -> dict[str, object]:
    """A reminder round to 10,000 members: Telegram at 30/s for a while, LINE by multicast."""
    results: dict[str, object] = {}
    with database("sqlite") as db:
        telegram_users = populate(db, FANOUT, channel="telegram", sections=200)
        clock = TickingClock()
        message = Outgoing("【自評開始】115年第4季服務品質自行考核開始了，"
                           "請於115年12月18日前完成並送出。")
        with db.transaction() as session:
            for n, user in enumerate(telegram_users):
                enqueue(session=session, destination=("telegram", user.split("-")[1]),
                        payload=message.to_payload(), key=f"t{n}", now=clock.now)
        channel = TelegramChannel(dispatch=None, token=TOKEN,  # type: ignore[arg-type]
                                  max_evidence_bytes=1, api_base_url=telegram_fake.base_url)
        await channel.application.initialize()
        sender = OutboxSender(db, {"telegram": channel}, clock)
        start = time.perf_counter()
        sent = 0
        while time.perf_counter() - start < TELEGRAM_SECONDS:
            sent += await sender.drain_once(limit=30)
        elapsed = time.perf_counter() - start
        await channel.application.shutdown()
        delivered = Counter(str(c.params["chat_id"]) for c in telegram_fake.calls_to("sendMessage"))
        rate = sum(delivered.values()) / elapsed
        results["telegram"] = {"limit_per_s": 30, "sent": sum(delivered.values()),
                               "seconds": round(elapsed, 1), "rate_per_s": round(rate, 1),
                               "share_of_limit": round(rate / 30, 3),
                               "duplicates": sum(c - 1 for c in delivered.values() if c > 1)}
    with database("sqlite") as db:
        line_users = populate(db, FANOUT, channel="line", sections=200)
        clock = TickingClock()
        with db.transaction() as session:
            for n, user in enumerate(line_users):
                enqueue(session=session, destination=("line", user), payload=message.to_payload(),
                        key=f"l{n}", now=clock.now)
        line_fake.quota = None
        channel_line = LineChannel(channel_secret="0" * 32, access_token=line_fake.access_token,
                                   dispatch=None, max_evidence_bytes=1,  # type: ignore[arg-type]
                                   api_base_url=line_fake.base_url)
        sender = OutboxSender(db, {"line": channel_line}, clock)
        start = time.perf_counter()
        while await sender.drain_once(limit=500):
            pass
        elapsed = time.perf_counter() - start
        await channel_line.close()
        delivered_line = Counter(to for r in line_fake.sent("multicast") for to in r.body["to"])
        results["line"] = {"recipients": FANOUT, "requests": len(line_fake.sent("multicast")),
                           "delivered": sum(delivered_line.values()),
                           "seconds": round(elapsed, 1),
                           "duplicates": sum(c - 1 for c in delivered_line.values() if c > 1)}
    return results


def main() -> None:
    """Run both and write telegram.json and fanout.json."""
    with tempfile.TemporaryDirectory() as folder, FakeTelegram(TOKEN) as fake:
        write("telegram", asyncio.run(telegram_rates(fake, Path(folder))),
              targets={"ratio_to_echo": 0.5})
    with FakeTelegram(TOKEN) as telegram_fake, FakeLine() as line_fake:
        write("fanout", asyncio.run(fanout(telegram_fake, line_fake)),
              targets={"telegram_share_of_limit": 0.95, "duplicates": 0})


if __name__ == "__main__":
    main()
