"""``sqbot run``: the webhook server, Telegram polling, the outbox sender and the reminder
scheduler in one event loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
from dataclasses import dataclass, field
from datetime import datetime

import uvicorn

from bot.app import build_dispatcher, schedule_config
from bot.delivery import ChannelSender
from bot.files import FileLinks
from bot.http import bounded_protocol
from bot.line import LineChannel
from bot.outbox import OutboxSender, fallback_to_outbox
from bot.scheduler import ReminderScheduler, leader_for
from bot.server import create_app
from bot.settings import Settings
from bot.telegram import TelegramChannel
from handlers.dispatch import Clock, system_clock
from handlers.reminders import Reminders
from storage.db import Database
from storage.housekeeping import prune

logger = logging.getLogger(__name__)


@dataclass
class Service:
    """Everything ``sqbot run`` runs, built from the settings."""

    settings: Settings
    database: Database
    clock: Clock = system_clock
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    telegram: TelegramChannel | None = None
    line: LineChannel | None = None
    scheduler: ReminderScheduler | None = None
    outbox: OutboxSender | None = None
    links: FileLinks | None = None
    worker_index: int | None = None
    """This process's place under ``sqbot run --workers`` (None: the only process)."""
    listen_fd: int | None = None
    """A listening socket inherited from the supervisor, instead of binding HOST:PORT."""
    _telegram_start: asyncio.Task[None] | None = field(default=None, init=False)

    @property
    def polls_telegram(self) -> bool:
        """Telegram allows one getUpdates consumer: the only process, or worker 0."""
        return self.telegram is not None and self.telegram.mode == "polling" \
            and self.worker_index in (None, 0)

    def _prune(self, now: datetime) -> dict[str, int]:
        """What is past its retention goes (the leader runs it every few hours)."""
        with self.database.transaction() as session:
            return prune(session=session, now=now)

    def health(self) -> dict[str, object]:
        """What /healthz adds about this process."""
        report: dict[str, object] = {"pid": os.getpid()}
        if self.worker_index is not None:
            report["worker"] = self.worker_index
        if self.scheduler is not None:
            report["scheduler"] = "leading" if self.scheduler.leading else "standby"
        return report

    def build(self) -> uvicorn.Server:
        """Wire the channels and return the (not yet started) HTTP server."""
        dispatcher = build_dispatcher(self.settings, self.database, clock=self.clock)
        senders: dict[str, ChannelSender] = {}
        self.outbox = OutboxSender(self.database, senders, self.clock)
        fallback = fallback_to_outbox(self.database, self.clock, self.outbox)
        if self.settings.telegram_bot_token is not None:
            self.telegram = TelegramChannel.from_dispatcher(
                dispatcher, token=self.settings.telegram_bot_token.get_secret_value(),
                max_evidence_bytes=self.settings.evidence_max_bytes,
                api_base_url=self.settings.telegram_api_base_url,
                webhook_url=self.settings.telegram_webhook_url, fallback=fallback)
            senders[self.telegram.channel] = self.telegram
        if self.settings.line_channel_secret is not None \
                and self.settings.line_channel_access_token is not None:
            if self.settings.public_base_url is not None:
                self.links = FileLinks.for_line(
                    self.settings.data_dir / "downloads", self.settings.public_base_url,
                    self.settings.line_channel_secret.get_secret_value(),
                    self.settings.file_link_days)
            self.line = LineChannel.from_dispatcher(
                dispatcher,
                channel_secret=self.settings.line_channel_secret.get_secret_value(),
                access_token=self.settings.line_channel_access_token.get_secret_value(),
                max_evidence_bytes=self.settings.evidence_max_bytes,
                api_base_url=self.settings.line_api_base_url, fallback=fallback,
                links=self.links, office=self._office_name())
            senders[self.line.channel] = self.line
        self.outbox.senders = senders
        reminders = Reminders(self.database, schedule_config(self.settings))
        self.scheduler = ReminderScheduler(
            reminders, leader_for(self.database), self.clock, on_queued=self.outbox.wake,
            check_seconds=self.settings.scheduler_check_seconds, housekeeping=self._prune)
        app = create_app(database=self.database, telegram=self.telegram, line=self.line,
                         on_startup=self._start_channels, on_shutdown=self._stop_channels,
                         health=self.health, links=self.links)
        config = uvicorn.Config(app, host=self.settings.host, port=self.settings.port,
                                log_level="warning", lifespan="on", access_log=False,
                                http=bounded_protocol(self.settings.http_read_timeout),
                                limit_concurrency=self.settings.http_max_connections)
        return uvicorn.Server(config)

    async def _start_channels(self) -> None:
        if self.scheduler is not None:
            self.scheduler.start()
        if self.telegram is not None:  # in the background: Telegram may be down at boot
            self._telegram_start = asyncio.create_task(self.telegram.start_retrying(self.stop))

    async def _stop_channels(self) -> None:
        self.stop.set()
        if self._telegram_start is not None:
            await asyncio.gather(self._telegram_start, return_exceptions=True)
        if self.scheduler is not None:
            self.scheduler.shutdown()
        if self.telegram is not None:
            await self.telegram.stop()
        if self.line is not None:
            await self.line.close()

    async def run(self) -> None:
        """Serve until SIGINT/SIGTERM."""
        server = self.build()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._request_stop, server)
        background: list[asyncio.Task[None]] = []
        sockets = None if self.listen_fd is None else [socket.socket(fileno=self.listen_fd)]
        serving = asyncio.create_task(server.serve(sockets=sockets))
        while not server.started and not serving.done():
            await asyncio.sleep(0.05)
        if serving.done():
            await serving  # raises the start-up error (port in use …)
            return
        logger.info("sqbot serving on %s:%s%s", self.settings.host, self.settings.port,
                    "" if self.worker_index is None else f" (worker {self.worker_index})")
        if self.outbox is not None:
            background.append(asyncio.create_task(self.outbox.run(self.stop)))
        if self.telegram is not None and self.polls_telegram:
            background.append(asyncio.create_task(self.telegram.poll(self.stop)))
        if self.line is not None:
            background.append(asyncio.create_task(self._watch_line_quota()))
            if self.worker_index in (None, 0):  # one process sets the rich menus up
                background.append(asyncio.create_task(self.line.keep_menus(self.stop)))
        await serving
        self.stop.set()
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)

    def _office_name(self) -> str:
        """The office drawn on LINE's rich menus: the agency's name when there is one."""
        from storage.org import list_agencies

        with self.database.transaction() as session:
            names = [a.name for a in list_agencies(session=session)]
        wanted = self.settings.agency
        return wanted if wanted in names else (names[0] if names else "服務品質小幫手")

    async def _watch_line_quota(self, every: float = 3600.0) -> None:
        """Hourly: warn the secretariat when LINE's monthly quota cannot carry what waits."""
        from storage.org import list_agencies

        while not self.stop.is_set():
            try:
                with self.database.transaction() as session:
                    agency_ids = [a.id for a in list_agencies(session=session) if a.id]
                for agency_id in agency_ids:
                    assert self.outbox is not None
                    await self.outbox.check_quota("line", agency_id)
            except Exception:  # the quota API being down must not stop the bot
                logger.exception("LINE quota check failed; will try again")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), timeout=every)

    def _request_stop(self, server: uvicorn.Server) -> None:
        self.stop.set()
        server.should_exit = True
