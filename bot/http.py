"""The HTTP server's protocol, with a deadline for reading each request.

uvicorn (0.55, h11) never times out a request that is still arriving: a client that opens a
connection and sends nothing, half a header or half a body keeps the connection — and an
open file — for as long as it likes, so a few thousand such clients exhaust the process
(slowloris). :class:`BoundedH11Protocol` gives every request ``read_timeout`` seconds from
the connection (or the previous response) to arrive whole; past it the connection is
closed. The app's own time to answer a request that did arrive is not bounded here.
Together with uvicorn's ``limit_concurrency`` (503 beyond it) this bounds what slow or idle
clients can hold.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

logger = logging.getLogger(__name__)

READ_TIMEOUT = 10.0


class BoundedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, closing a connection whose request does not arrive in time."""

    read_timeout: float = READ_TIMEOUT

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._read_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()  # the next request on this connection gets its own deadline

    def _arm(self) -> None:
        self._disarm()
        self._read_deadline = self.loop.call_later(self.read_timeout, self._read_timed_out)

    def _disarm(self) -> None:
        if self._read_deadline is not None:
            self._read_deadline.cancel()
            self._read_deadline = None

    def _read_timed_out(self) -> None:
        self._read_deadline = None
        cycle = self.cycle
        if cycle is not None and not cycle.more_body and not cycle.response_complete:
            return  # the whole request is here; the app is answering it
        if not self.transport.is_closing():
            logger.info("closed a connection whose request did not arrive within %gs",
                        self.read_timeout)
            self.transport.close()


def bounded_protocol(read_timeout: float) -> type[BoundedH11Protocol]:
    """The protocol class with ``read_timeout`` (uvicorn instantiates it per connection)."""
    return type("BoundedH11Protocol", (BoundedH11Protocol,), {"read_timeout": read_timeout})
