"""Logging set-up: one format, and a filter that keeps secrets out of every record."""

from __future__ import annotations

import logging
from collections.abc import Iterable


class RedactSecrets(logging.Filter):
    """Replace any configured secret in a log record with ``***``.

    Code never logs secrets on purpose; this catches the accident (a URL with the bot token
    in it, a library's debug line) before it reaches a file.
    """

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = [s for s in secrets if len(s) >= 8]

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        message = record.getMessage()
        redacted = message
        for secret in self._secrets:
            redacted = redacted.replace(secret, "***")
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def configure_logging(level: str, secrets: Iterable[str]) -> None:
    """Log to stderr at ``level`` with secrets redacted (idempotent)."""
    root = logging.getLogger()
    root.setLevel(level)
    handler = next((h for h in root.handlers if getattr(h, "_sqbot", False)), None)
    if handler is None:
        handler = logging.StreamHandler()
        # The process id tells the workers of `sqbot run --workers` apart.
        handler.setFormatter(logging.Formatter(
            "%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s"))
        handler._sqbot = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    handler.filters = [RedactSecrets(secrets)]
    # httpx logs every request URL at INFO, and Telegram's URLs carry the bot token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # python-telegram-bot logs every Bot API call's parameters and answer at DEBUG: message
    # texts with people's names and chat ids. Personal data stays out even at DEBUG.
    logging.getLogger("telegram").setLevel(max(root.level, logging.INFO))
    # Alembic narrates every migration step at INFO; the CLI reports the outcome itself.
    # APScheduler narrates every job it adds and runs; sqbot logs what a round queued.
    if level != "DEBUG":
        logging.getLogger("alembic").setLevel(logging.WARNING)
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
