"""The LINE baseline: a bare Starlette endpoint that verifies the signature and parses the
body with line-bot-sdk, nothing else (run under uvicorn by bench_channels)."""

from __future__ import annotations

import os

from linebot.v3 import WebhookParser
from linebot.v3.exceptions import InvalidSignatureError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

parser = WebhookParser(os.environ.get("LINE_CHANNEL_SECRET", "0" * 32))


async def webhook(request: Request) -> Response:
    body = (await request.body()).decode()
    try:
        parser.parse(body, request.headers.get("x-line-signature", ""))
    except InvalidSignatureError:
        return Response(status_code=400)
    return Response(status_code=200)


app = Starlette(routes=[Route("/line/webhook", webhook, methods=["POST"])])
