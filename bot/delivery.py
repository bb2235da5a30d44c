"""Sending to a platform: the typed errors a channel's sender raises, and the protocol.

    DeliveryError            not delivered; ``retryable`` says whether trying again may help
    ├── RetryLater           the platform asked us to wait ``after`` seconds (429, 5xx, network)
    └── Unreachable          the recipient cannot be reached (blocked the bot, left, chat gone)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from handlers.messages import Outgoing

#: Told, after each part of a message went out, how many parts have been delivered so far.
Progress = Callable[[int], Awaitable[None]]


class DeliveryError(Exception):
    """A message was not delivered."""

    retryable = False


class RetryLater(DeliveryError):
    """Transient: try again after ``after`` seconds at the earliest (None: the sender's
    backoff decides, which grows while the trouble lasts)."""

    retryable = True

    def __init__(self, reason: str, after: float | None = None) -> None:
        super().__init__(reason)
        self.after = after


class Unreachable(DeliveryError):
    """Permanent for this recipient: it blocked the bot, left the group, or does not exist."""


class ChannelSender(Protocol):
    """What the outbox sender needs from a channel."""

    channel: str

    async def send(self, destination: str, message: Outgoing, *, key: str, skip: int = 0,
                   progress: Progress | None = None) -> None:
        """Deliver ``message`` to ``destination``; ``key`` is the row's idempotency key.

        A message may go out in several parts (a long text split, then its files). The
        first ``skip`` parts were delivered before and are not sent again; ``progress`` is
        awaited after each part with the number delivered, so a retry can skip them."""
