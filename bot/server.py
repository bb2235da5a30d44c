"""sqbot's ASGI app: the platforms' webhooks and a health check, on one port."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bot.files import FileLinks, LinkRefused
from bot.line import LineChannel, MalformedBody
from bot.telegram import TelegramChannel
from storage.db import Database

logger = logging.getLogger(__name__)

HEALTH_TIMEOUT = 5.0  # seconds the database may take to answer the health check
MAX_BODY = 1024 * 1024  # a webhook body is a few KB; refuse anything absurd
SECRET_HEADER = "x-telegram-bot-api-secret-token"


async def read_body(request: Request, limit: int = MAX_BODY) -> bytes | None:
    """The request body, or None when it is larger than ``limit``."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return None
    return body


def create_app(*, database: Database, telegram: TelegramChannel | None = None,
               line: LineChannel | None = None, extra_routes: list[Route] | None = None,
               on_startup: Callable[[], Awaitable[None]] | None = None,
               on_shutdown: Callable[[], Awaitable[None]] | None = None,
               health: Callable[[], dict[str, Any]] | None = None,
               links: FileLinks | None = None) -> Starlette:
    """The app: ``POST /telegram/webhook`` (webhook mode), ``POST /line/webhook``,
    ``GET /healthz``."""

    def check_database() -> dict[str, Any]:
        with database.engine.connect() as connection:
            pending, oldest = connection.execute(sa.text(
                # Console identities' rows are shown when that console chat opens; the
                # server never sends them, so they are no backlog.
                "SELECT count(*), min(created_at) FROM outbox "
                "WHERE status = 'pending' AND channel <> 'console'")).one()
        if isinstance(oldest, str):  # SQLite hands timestamps back as text here
            oldest = datetime.fromisoformat(oldest)
        if oldest is not None and oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=UTC)
        age = None if oldest is None else max(int((datetime.now(UTC) - oldest).total_seconds()), 0)
        return {"database": "ok", "outbox": {"pending": int(pending), "oldest_seconds": age}}

    async def healthz(request: Request) -> Response:
        report: dict[str, Any] = {}
        try:  # in a thread, bounded: a database that hangs must not stall the webhooks
            report.update(await asyncio.wait_for(asyncio.to_thread(check_database),
                                                 timeout=HEALTH_TIMEOUT))
        except (TimeoutError, sa.exc.SQLAlchemyError) as exc:
            logger.warning("health check: database unavailable: %s", exc.__class__.__name__)
            report["database"] = "unavailable"
        report["telegram"] = telegram.mode if telegram else "off"
        if telegram is not None and telegram.privacy_mode is not None:
            # On: typed words in groups never arrive; the group is given /commands@bot.
            report["telegram_privacy_mode"] = telegram.privacy_mode
        report["line"] = "webhook" if line is not None else "off"
        if health is not None:
            report.update(health())
        status = 200 if report["database"] == "ok" else 503
        return JSONResponse(report, status_code=status)

    async def telegram_webhook(request: Request) -> Response:
        assert telegram is not None
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), telegram.webhook_secret.encode()):
            return PlainTextResponse("forbidden", status_code=403)
        if "json" not in request.headers.get("content-type", ""):
            return PlainTextResponse("expected application/json", status_code=415)
        try:
            body = await read_body(request)
        except ClientDisconnect:  # one line: anyone can send half a body
            logger.info("a webhook client went away before its body was read")
            return Response(status_code=400)
        if body is None:
            return PlainTextResponse("body too large", status_code=413)
        try:
            data = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            return PlainTextResponse("malformed JSON", status_code=400)
        except RecursionError:  # authenticated, so 200: a 5xx would be redelivered for ever
            logger.warning("Telegram update rejected: its JSON is nested too deeply")
            return Response(status_code=200)
        if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
            return PlainTextResponse("not an Update", status_code=400)
        # 200 only once the update is committed: otherwise Telegram delivers it again.
        if await telegram.process(data):
            logger.debug("Telegram webhook: update %s committed", data["update_id"])
            return Response(status_code=200)
        return PlainTextResponse("not processed; please retry", status_code=500)

    async def line_webhook(request: Request) -> Response:
        assert line is not None
        signature = request.headers.get("x-line-signature")
        if not signature:
            return PlainTextResponse("missing X-Line-Signature", status_code=400)
        if "json" not in request.headers.get("content-type", ""):
            return PlainTextResponse("expected application/json", status_code=415)
        try:
            body = await read_body(request)
        except ClientDisconnect:  # one line: anyone can send half a body
            logger.info("a webhook client went away before its body was read")
            return Response(status_code=400)
        if body is None:
            return PlainTextResponse("body too large", status_code=413)
        try:
            events = line.verify(body, signature)  # before anything is parsed or stored
        except MalformedBody:
            return PlainTextResponse("malformed webhook body", status_code=400)
        if events is None:
            return PlainTextResponse("bad signature", status_code=400)
        try:
            handled = await line.handle(events)
        except sa.exc.OperationalError:
            logger.warning("LINE events not committed (database busy); LINE will redeliver")
            handled = False
        # 200 only once every event is committed: otherwise LINE redelivers the batch.
        if handled:
            logger.debug("LINE webhook: %s events committed", len(events))
            return Response(status_code=200)
        return PlainTextResponse("not processed; please retry", status_code=500)

    async def download(request: Request) -> Response:
        assert links is not None
        params = request.path_params
        try:
            content, media_type = await asyncio.to_thread(
                links.open, params["digest"], params["expires"], params["signature"],
                params["name"])
        except LinkRefused as refused:
            messages = {403: "這個下載連結無效。", 404: "檔案已不存在。",
                        410: "這個下載連結已過期，請在對話中重新索取。"}
            return PlainTextResponse(messages.get(refused.status, "無法下載。"),
                                     status_code=refused.status)
        disposition = f"attachment; filename*=UTF-8''{quote(params['name'], safe='')}"
        return Response(content, media_type=media_type, headers={
            "content-disposition": disposition, "cache-control": "private, max-age=3600",
            "x-content-type-options": "nosniff"})

    routes = [Route("/healthz", healthz, methods=["GET"])]
    if links is not None:
        routes.append(Route("/files/{digest}/{expires}/{signature}/{name}", download,
                            methods=["GET"]))
    if telegram is not None and telegram.mode == "webhook":
        routes.append(Route("/telegram/webhook", telegram_webhook, methods=["POST"]))
    if line is not None:
        routes.append(Route("/line/webhook", line_webhook, methods=["POST"]))
    routes += extra_routes or []

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if on_startup is not None:
            await on_startup()
        try:
            yield
        finally:
            if on_shutdown is not None:
                await on_shutdown()

    return Starlette(routes=routes, lifespan=lifespan)
