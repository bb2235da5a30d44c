"""The outbox sender: delivers queued messages once, with retries, and never drops one.

Transient failures (429, 5xx, network) wait and retry with backoff; a recipient who blocked
the bot or a chat that is gone is marked unreachable and the secretariat is told; after
``MAX_ATTEMPTS`` the row is marked failed with its reason — still in the table, not lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import sqlalchemy as sa

from bot.delivery import ChannelSender, DeliveryError, RetryLater, Unreachable
from handlers.messages import Outgoing
from storage.db import Database
from storage.delivery import (
    LEASE,
    assign_batch,
    claim_due,
    mark_failed,
    mark_progress,
    mark_retry,
    mark_sent,
    mark_unreachable,
    renew_lease,
)
from storage.models import Member, OutboxMessage
from storage.outbox import enqueue, secretariat_destinations

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 12
MULTICAST_LIMIT = 500


class Row(NamedTuple):
    """A claimed outbox row, detached from its session."""

    id: int
    channel: str
    destination: str
    payload: dict[str, Any]
    key: str
    attempts: int
    batch: str | None
    parts_sent: int



def backoff(attempts: int) -> timedelta:
    """Wait before attempt ``attempts + 1``: 5 s, 10 s, 20 s … at most an hour."""
    return timedelta(seconds=min(5 * 2 ** max(attempts - 1, 0), 3600))


class OutboxSender:
    """Drains the outbox through the configured channels."""

    def __init__(self, database: Database, senders: Mapping[str, ChannelSender],
                 clock: Callable[[], datetime], *, lease: timedelta = LEASE) -> None:
        self.database = database
        self.senders = dict(senders)
        self.clock = clock
        self.lease = lease
        self._wake = asyncio.Event()

    async def check_quota(self, channel: str, agency_id: int) -> bool:
        """Warn the secretariat (once a day) when the channel's monthly message quota left is
        smaller than what waits in the outbox for it. True if a warning was queued."""
        sender = self.senders.get(channel)
        quota = getattr(sender, "quota_left", None)
        if quota is None:
            return False
        left = await quota()
        if left is None:
            return False
        waiting = await asyncio.to_thread(self._pending_count, channel)
        if waiting <= left:
            return False
        now = self.clock()
        text = (f"【訊息額度提醒】{channel.upper()} 本月可再傳送 {left} 則訊息，"
                f"但待傳送的提醒與通知有 {waiting} 則，超出部分將無法送達。"
                "請至 LINE Official Account Manager 提高方案額度，或改用 Telegram／群組通知。")
        await asyncio.to_thread(self._warn, agency_id, text, f"quota:{channel}:{now.date()}")
        return True

    def _pending_count(self, channel: str) -> int:
        from sqlmodel import func, select

        with self.database.transaction() as session:
            return int(session.exec(select(func.count()).select_from(OutboxMessage).where(
                OutboxMessage.channel == channel, OutboxMessage.status == "pending")).one())

    def _warn(self, agency_id: int, text: str, key: str) -> None:
        with self.database.transaction() as session:
            for destination in secretariat_destinations(session=session, agency_id=agency_id):
                digest = hashlib.sha256(f"{key}:{destination}".encode()).hexdigest()
                enqueue(session=session, destination=destination,
                        payload=Outgoing(text).to_payload(), key=digest, now=self.clock(),
                        agency_id=agency_id)

    def wake(self) -> None:
        """Look at the outbox now (something was just queued)."""
        self._wake.set()

    async def run(self, stop: asyncio.Event, *, interval: float = 2.0) -> None:
        """Drain until ``stop``, every ``interval`` seconds or when woken."""
        while not stop.is_set():
            try:
                while await self.drain_once():
                    pass
            except sa.exc.OperationalError as exc:  # the database restarting, or locked
                logger.warning("outbox: database unavailable (%s); retrying",
                               exc.__class__.__name__)
            except Exception:  # keep the loop alive; the rows stay pending
                logger.exception("outbox drain failed; retrying")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=interval)

    async def drain_once(self, limit: int = 50) -> int:
        """Send what is due now; return how many rows were tried."""
        if not self.senders:
            return 0
        now = self.clock()
        rows = await asyncio.to_thread(self._claim, now, limit)
        if not rows:
            return 0
        # While a slow platform keeps this batch busy, renew the lease on what is not done
        # yet, so another sender (another worker) does not take those rows and send them
        # again once the first lease runs out.
        renewing = asyncio.create_task(self._keep_lease([r.id for r in rows], now + self.lease))
        try:
            singles, groups = self._group_for_multicast(rows)
            for batch in groups:
                await self._deliver_multicast(batch)
            for row in singles:
                await self._deliver(row)
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing
        if rows:
            logger.debug("outbox: %s rows tried", len(rows))
        return len(rows)

    async def _keep_lease(self, row_ids: list[int], held_until: datetime) -> None:
        while True:
            await asyncio.sleep(self.lease.total_seconds() / 3)
            until = self.clock() + self.lease

            def renew(held: datetime = held_until, new: datetime = until) -> int:
                with self.database.transaction() as session:
                    return renew_lease(session=session, row_ids=row_ids, held_until=held,
                                       until=new)

            try:
                if not await asyncio.to_thread(renew):
                    return
            except Exception:  # the database away: the lease may lapse, rows are kept
                logger.warning("outbox: could not renew the lease on %s rows", len(row_ids))
                return
            held_until = until

    def _group_for_multicast(self, rows: list[Row]) -> tuple[list[Row], list[list[Row]]]:
        """Rows with the same message to several users of a channel that can multicast.

        Rows that went out in a multicast before are grouped by that batch again, never with
        other rows: retried with the same recipients, the request carries the same retry key,
        so LINE delivers it once even if the earlier attempt did arrive. Likewise a row tried
        before on its own is pushed on its own again, with its own retry key: in a new
        multicast (a new key) a push LINE took despite an error would arrive twice.
        """
        by_message: dict[tuple[str, str], list[Row]] = {}
        retried: dict[tuple[str, str], list[Row]] = {}
        singles: list[Row] = []
        for row in rows:
            sender = self.senders[row.channel]
            if row.batch is not None:
                retried.setdefault((row.channel, row.batch), []).append(row)
            elif (hasattr(sender, "send_multicast") and row.destination.startswith("U")
                  and row.attempts <= 1):
                signature = json.dumps(row.payload, sort_keys=True, ensure_ascii=False)
                by_message.setdefault((row.channel, signature), []).append(row)
            else:
                singles.append(row)
        groups: list[list[Row]] = list(retried.values())
        for batch in by_message.values():
            if len(batch) == 1:
                singles.extend(batch)
            else:
                groups += [batch[i:i + MULTICAST_LIMIT]
                           for i in range(0, len(batch), MULTICAST_LIMIT)]
        return singles, groups

    async def _deliver_multicast(self, batch: list[Row]) -> None:
        channel = batch[0].channel
        sender = self.senders[channel]
        if batch[0].batch is not None:
            # A retry keeps the batch's retry key even if some of its rows were marked sent
            # before a crash: LINE took that request, and must not deliver it again.
            key = batch[0].batch
        else:  # first try: remember the batch before the request goes
            key = hashlib.sha256("|".join(sorted(r.key for r in batch)).encode()).hexdigest()
            await asyncio.to_thread(self._assign_batch, [r.id for r in batch], key)
        try:
            await sender.send_multicast(  # type: ignore[attr-defined]
                [r.destination for r in batch], Outgoing.from_payload(batch[0].payload),
                key=key)
        except DeliveryError as exc:
            logger.warning("multicast of %s rows failed (%s); trying the same again later",
                           len(batch), exc)
            await asyncio.to_thread(self._retry, [r.id for r in batch],
                                    max(r.attempts for r in batch), str(exc),
                                    getattr(exc, "after", None))
            return
        await asyncio.to_thread(self._sent, [row.id for row in batch])

    def _assign_batch(self, row_ids: list[int], key: str) -> None:
        with self.database.transaction() as session:
            assign_batch(session=session, row_ids=row_ids, batch_key=key)

    def _claim(self, now: datetime, limit: int) -> list[Row]:
        with self.database.transaction() as session:
            claimed = claim_due(session=session, channels=self.senders, now=now, limit=limit,
                                lease=self.lease)
            return [Row(r.id or 0, r.channel, r.destination, r.payload, r.idempotency_key,
                        r.attempts, r.batch_key, r.parts_sent) for r in claimed]

    async def _deliver(self, row: Row) -> None:
        row_id, channel, destination, attempts = row.id, row.channel, row.destination, \
            row.attempts
        sender = self.senders[channel]

        async def progress(parts: int) -> None:  # a retry sends only what did not arrive
            await asyncio.to_thread(self._progress, row_id, parts)

        try:
            await sender.send(destination, Outgoing.from_payload(row.payload), key=row.key,
                              skip=row.parts_sent, progress=progress)
        except Unreachable as exc:
            logger.warning("outbox row %s: recipient unreachable (%s)", row_id, exc)
            await asyncio.to_thread(self._unreachable, row_id, channel, destination, str(exc))
        except RetryLater as exc:
            await asyncio.to_thread(self._retry, row_id, attempts, str(exc), exc.after)
        except DeliveryError as exc:
            if exc.retryable:
                await asyncio.to_thread(self._retry, row_id, attempts, str(exc), None)
            else:  # the platform refused this message itself: retrying cannot help
                logger.error("outbox row %s refused: %s", row_id, exc)
                await asyncio.to_thread(self._retry, row_id, MAX_ATTEMPTS, str(exc), None)
        except Exception as exc:  # an unexpected platform answer: keep the row, retry later
            logger.exception("outbox row %s: unexpected error", row_id)
            await asyncio.to_thread(self._retry, row_id, attempts, repr(exc), None)
        else:
            await asyncio.to_thread(self._sent, row_id)

    def _progress(self, row_id: int, parts: int) -> None:
        with self.database.transaction() as session:
            mark_progress(session=session, row_id=row_id, parts_sent=parts)

    def _sent(self, row_ids: int | list[int]) -> None:
        """Delivered; a multicast's rows all in one transaction."""
        with self.database.transaction() as session:
            for row_id in [row_ids] if isinstance(row_ids, int) else row_ids:
                mark_sent(session=session, row_id=row_id, now=self.clock())

    def _retry(self, row_ids: int | list[int], attempts: int, error: str,
               after: float | None) -> None:
        """Try again later, or give up after ``MAX_ATTEMPTS``. Several rows (a multicast) wait
        alike, by the most tried of them, so they come due together and go out as the same
        request again."""
        now = self.clock()
        ids = [row_ids] if isinstance(row_ids, int) else row_ids
        with self.database.transaction() as session:
            if attempts >= MAX_ATTEMPTS:
                for row_id in ids:
                    row = mark_failed(session=session, row_id=row_id,
                                      error=f"gave up after {attempts} attempts: {error}")
                    if row is not None:
                        self._tell_secretariat(session, row, "多次重試仍無法送達")
                return
            # The platform's own wait (Telegram's retry_after) is a minimum; while trouble lasts
            # the backoff grows, so a long outage is ridden out rather than given up on.
            wait = max(timedelta(seconds=after or 0), backoff(attempts))
            for row_id in ids:
                mark_retry(session=session, row_id=row_id, when=now + wait, error=error)

    def _unreachable(self, row_id: int, channel: str, destination: str, error: str) -> None:
        now = self.clock()
        with self.database.transaction() as session:
            row = mark_failed(session=session, row_id=row_id, error=f"unreachable: {error}")
            who = mark_unreachable(session=session, channel=channel, destination=destination,
                                   now=now)
            if row is not None and who is not None and not who.startswith("group"):
                self._tell_secretariat(session, row, "對方已封鎖或無法聯繫", who)
            elif row is not None and who is not None:
                self._tell_secretariat(session, row, "秘書室群組無法聯繫（機器人可能已被移出）")

    def _tell_secretariat(self, session: object, row: OutboxMessage, reason: str,
                          who: str | None = None) -> None:
        from sqlmodel import Session

        assert isinstance(session, Session)
        if row.agency_id is None:
            return
        name = ""
        if who and who.startswith("member:"):
            member = session.get(Member, int(who.split(":")[1]))
            name = f"{member.name}（{row.channel}）" if member else ""
        text = (f"【傳送失敗】{name or row.channel + ' ' + row.destination[-6:]}：{reason}。"
                f"訊息內容開頭：「{Outgoing.from_payload(row.payload).text[:40]}」")
        destinations = [d for d in secretariat_destinations(session=session,
                                                            agency_id=row.agency_id)
                        if d != (row.channel, row.destination)]
        for destination in destinations:
            key = hashlib.sha256(f"failed:{row.id}:{destination}".encode()).hexdigest()
            enqueue(session=session, destination=destination, payload=Outgoing(text).to_payload(),
                    key=key, now=self.clock(), agency_id=row.agency_id)


def fallback_to_outbox(database: Database, clock: Callable[[], datetime],
                       sender: OutboxSender | None = None):  # type: ignore[no-untyped-def]
    """A reply fallback for channels: replies that failed right after the commit are queued."""
    async def queue(channel: str, destination: str, replies: Sequence[Outgoing],
                    delivered: int = 0) -> None:
        def write() -> None:
            now = clock()
            with database.transaction() as session:
                for index, reply in enumerate(replies):
                    key = hashlib.sha256(
                        f"reply:{channel}:{destination}:{now.isoformat()}:{index}".encode()
                    ).hexdigest()
                    enqueue(session=session, destination=(channel, destination),
                            payload=reply.to_payload(), key=key, now=now,
                            parts_sent=delivered if index == 0 else 0)

        await asyncio.to_thread(write)
        if sender is not None:
            sender.wake()

    return queue
