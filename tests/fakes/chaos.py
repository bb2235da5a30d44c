"""A TCP proxy for tests that puts network trouble between our HTTP clients and a fake server.

``ChaosProxy`` listens on 127.0.0.1 and forwards every connection to an upstream server (a fake
platform API) until told to misbehave. It runs its own event loop in a daemon thread, so sync
and asyncio tests drive it the same way::

    with FakeTelegram() as fake, ChaosProxy("127.0.0.1", fake.port) as proxy:
        bot = telegram.Bot(fake.token, base_url=f"{proxy.url}/bot")
        ...
        proxy.mode = "reset"      # every connection is now reset by the peer
        ...
        proxy.mode = "pass"       # and the same URL works again

Modes (``ChaosProxy.MODES``):

``"pass"``
    Forward bytes both ways, half-closes included (the default).
``"reset"``
    Accept, and abort the connection with a TCP RST as soon as the client sends anything.
``"hang"``
    Accept, read and discard, never answer: the client has to time out.
``"refuse"``
    Refuse connections for real (the client's ``connect`` fails with ECONNREFUSED). The
    listening socket is closed and opened again on the same port when the mode changes back;
    meanwhile the port stays reserved by a bound socket that does not listen (both sockets use
    ``SO_REUSEPORT``), so no other socket can take it. Where ``SO_REUSEPORT`` is missing the
    port is bound again with ``SO_REUSEADDR`` alone, and ``set_mode`` raises ``OSError`` in the
    unlikely case that something took the port meanwhile.

Changing the mode aborts every open connection with a TCP RST (``SO_LINGER`` 0), whatever the
old and new modes are: clients pool keep-alive connections, and a connection opened in
``"pass"`` must suffer the new trouble as well; hung connections end the same way when the
mode leaves ``"hang"``. Setting the mode it already has changes nothing. ``cut_all`` aborts
the open connections without changing the mode (a peer restart).

A mode change, ``cut_all`` and ``stop`` return once the affected sockets are closed, so the
next request a test makes already meets the new behaviour. Connections the kernel had accepted
but the proxy had not yet taken when it closes its listener ("refuse", ``stop``) are reset.

When the upstream cannot be reached in ``"pass"`` mode the client's connection is reset (and a
warning logged), as behind a real proxy whose backend is down; the reset can reach the client
while it is still setting the connection up, so httpx may report it as a ``ConnectError``.
``connections`` counts every connection the proxy accepted, in any mode.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import socket
import struct
import threading
from collections.abc import Coroutine
from types import TracebackType
from typing import Any, ClassVar, Final, Literal

logger = logging.getLogger(__name__)

HOST: Final = "127.0.0.1"
BACKLOG: Final = 512
CONTROL_TIMEOUT: Final = 10.0
"""Seconds a mode change, ``cut_all``, ``start`` or ``stop`` may take before it fails."""

_RST_LINGER: Final = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends RST

End = Literal["client", "upstream"]


def _abort_with_rst(transport: asyncio.Transport) -> None:
    """Close ``transport`` at once with a TCP RST, dropping whatever it has not sent."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RST_LINGER)
    transport.abort()


class _Side(asyncio.Protocol):
    """One end of a link: hands every event to the link, saying which end it came from."""

    def __init__(self, link: _Link, end: End) -> None:
        self.link = link
        self.end: End = end

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.link.made(self.end, transport)

    def data_received(self, data: bytes) -> None:
        self.link.received(self.end, data)

    def eof_received(self) -> bool:
        return self.link.eof(self.end)

    def connection_lost(self, exc: Exception | None) -> None:
        self.link.lost(self.end, exc)

    def pause_writing(self) -> None:
        self.link.throttle(self.end, paused=True)

    def resume_writing(self) -> None:
        self.link.throttle(self.end, paused=False)


class _Link:
    """One accepted connection and, in ``"pass"`` mode, its connection to the upstream.

    The mode is fixed when the connection is accepted; a mode change aborts the link instead
    of changing its behaviour half-way. ``finished`` resolves once every socket of the link is
    closed.
    """

    def __init__(self, mode: str, upstream: tuple[str, int]) -> None:
        self.mode = mode
        self.upstream_address = upstream
        self.loop = asyncio.get_running_loop()
        self.finished: asyncio.Future[None] = self.loop.create_future()
        self.client: asyncio.Transport | None = None
        self.upstream: asyncio.Transport | None = None
        self.client_lost = False
        self.upstream_lost = False
        self.connecting: asyncio.Task[None] | None = None
        self.aborted = False
        self.eofs: set[End] = set()

    def other(self, end: End) -> asyncio.Transport | None:
        return self.upstream if end == "client" else self.client

    # ---- events

    def made(self, end: End, transport: asyncio.Transport) -> None:
        if end == "upstream":
            self.upstream = transport
            if self.aborted or self.client_lost:
                transport.abort()
            elif self.client is not None and not self.client.is_closing():
                self.client.resume_reading()
            return
        self.client = transport
        if self.aborted:
            _abort_with_rst(transport)
        elif self.mode == "pass":
            # The client's bytes wait in the kernel until the upstream connection is up.
            transport.pause_reading()
            self.connecting = self.loop.create_task(self._connect())
            self.connecting.add_done_callback(self._connected)

    def received(self, end: End, data: bytes) -> None:
        if end == "client" and self.mode == "reset":
            self.abort()
        elif self.mode == "pass":
            sink = self.other(end)
            if sink is not None and not sink.is_closing():
                sink.write(data)
        # "hang": the bytes are read and dropped.

    def eof(self, end: End) -> bool:
        if self.mode != "pass":
            return False  # the transport closes itself
        self.eofs.add(end)
        sink = self.other(end)
        if len(self.eofs) == 2:
            for transport in (self.client, self.upstream):
                if transport is not None:
                    transport.close()
        elif sink is not None and not sink.is_closing():
            sink.write_eof()
        return True

    def lost(self, end: End, exc: Exception | None) -> None:
        if end == "client":
            self.client_lost = True
        else:
            self.upstream_lost = True
        if self.connecting is not None and not self.connecting.done():
            self.connecting.cancel()  # the client left before the upstream answered
        other = self.other(end)
        if other is not None and not other.is_closing():
            if exc is None:
                other.close()  # after what is still buffered for it
            elif end == "upstream":
                _abort_with_rst(other)  # the client sees the upstream's reset
            else:
                other.abort()
        self._check_finished()

    def throttle(self, end: End, *, paused: bool) -> None:
        """``end`` cannot take more data for now (or can again): stop (resume) reading the
        other end, so a large body never piles up in memory."""
        source = self.other(end)
        if source is None or source.is_closing():
            return
        if paused:
            source.pause_reading()
        else:
            source.resume_reading()

    # ---- upstream

    async def _connect(self) -> None:
        host, port = self.upstream_address
        try:
            await self.loop.create_connection(lambda: _Side(self, "upstream"), host, port)
        except OSError as exc:
            # A proxy that cannot reach its backend drops the client; the test sees a reset.
            logger.warning("chaos proxy cannot reach upstream %s:%s: %s", host, port, exc)
            self.abort()

    def _connected(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            logger.error("chaos proxy: connecting upstream failed", exc_info=task.exception())
            self.abort()
        self._check_finished()

    # ---- the end

    def abort(self) -> None:
        """Reset the client connection and drop the upstream one."""
        self.aborted = True
        if self.connecting is not None and not self.connecting.done():
            self.connecting.cancel()
        if self.client is not None and not self.client.is_closing():
            _abort_with_rst(self.client)
        if self.upstream is not None and not self.upstream.is_closing():
            self.upstream.abort()

    def _check_finished(self) -> None:
        if self.finished.done() or self.client is None or not self.client_lost:
            return
        if self.connecting is not None and not self.connecting.done():
            return
        if self.upstream is not None and not self.upstream_lost:
            return
        self.finished.set_result(None)


class ChaosProxy:
    """A TCP proxy on 127.0.0.1 that can reset, hang or refuse connections (see the module
    docstring). Use as a context manager, or call ``start`` and ``stop``."""

    MODES: ClassVar[tuple[str, ...]] = ("pass", "reset", "hang", "refuse")

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        if not 0 < upstream_port < 65536:
            raise ValueError(f"upstream_port must be 1..65535, not {upstream_port}")
        self.upstream_host = upstream_host
        self.upstream_port = upstream_port
        self.port = 0
        """The port the proxy listens on (0 before ``start``); it stays the same in every
        mode until ``stop``."""
        self._mode = "pass"
        self._accepted = 0
        self._control = threading.Lock()  # one start/stop/mode change/cut at a time
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._upstream_address: tuple[str, int] = (upstream_host, upstream_port)
        self._reservation: socket.socket | None = None
        self._listener: socket.socket | None = None
        self._accepting: asyncio.Task[None] | None = None
        self._links: set[_Link] = set()

    # ---- public surface

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``: the base URL to give the client instead of the
        upstream's."""
        if not self.port:
            raise RuntimeError("ChaosProxy is not started")
        return f"http://{HOST}:{self.port}"

    @property
    def connections(self) -> int:
        """How many connections the proxy has accepted since it was created."""
        return self._accepted

    @property
    def mode(self) -> str:
        """The current mode; assigning it is ``set_mode``."""
        return self._mode

    @mode.setter
    def mode(self, mode: str) -> None:
        self.set_mode(mode)

    def set_mode(self, mode: str) -> None:
        """Switch to ``mode`` (one of ``MODES``) from any thread; return once it applies.

        A different mode aborts every open connection with a RST first (see the module
        docstring); the same mode again changes nothing.
        """
        if mode not in self.MODES:
            raise ValueError(f"unknown chaos mode {mode!r}; expected one of {self.MODES}")
        with self._control:
            if self._loop is None:
                self._mode = mode  # applied by start()
                return
            self._call(self._apply_mode(mode))

    def cut_all(self) -> None:
        """Abort every open connection with a RST without changing the mode (a peer restart)."""
        with self._control:
            if self._loop is not None:
                self._call(self._abort_all())

    def start(self) -> None:
        """Listen on 127.0.0.1 (a free port) in a background thread; return once it accepts
        connections (or, in ``"refuse"`` mode, once it is ready to)."""
        with self._control:
            if self._thread is not None:
                raise RuntimeError("ChaosProxy is already started")
            found = socket.getaddrinfo(self.upstream_host, self.upstream_port,
                                       type=socket.SOCK_STREAM)
            address = found[0][4]
            self._upstream_address = (str(address[0]), int(address[1]))
            self._reservation = _reserve_port()
            self.port = 0 if self._reservation is None else self._reservation.getsockname()[1]
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=self._run, args=(loop,),
                                      name=f"ChaosProxy:{self.port}", daemon=True)
            thread.start()
            self._loop, self._thread = loop, thread
            try:
                self._call(self._begin())
            except BaseException:
                self._halt()
                raise
            thread.name = f"ChaosProxy:{self.port}"

    def stop(self) -> None:
        """Close the listener and every connection, and end the thread (idempotent)."""
        with self._control:
            if self._loop is None:
                return
            try:
                self._call(self._end())
            finally:
                self._halt()

    def __enter__(self) -> ChaosProxy:
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()

    # ---- the thread

    def _run(self, loop: asyncio.AbstractEventLoop) -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()

    def _call(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` in the proxy's loop and wait for it (with ``_control`` held)."""
        assert self._loop is not None
        future = asyncio.run_coroutine_threadsafe(work, self._loop)
        future.result(timeout=CONTROL_TIMEOUT)

    def _halt(self) -> None:
        """Stop the loop, join the thread and release the port (with ``_control`` held)."""
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(CONTROL_TIMEOUT)
        if self._reservation is not None:
            self._reservation.close()
        self._loop = self._thread = self._reservation = None

    # ---- in the loop

    async def _begin(self) -> None:
        if self._mode != "refuse":
            self._listen()

    async def _end(self) -> None:
        await self._stop_listening()
        await self._abort_all()

    async def _apply_mode(self, mode: str) -> None:
        if mode == self._mode:
            return
        logger.debug("chaos proxy on port %s: %s -> %s", self.port, self._mode, mode)
        self._mode = mode
        if mode == "refuse":
            await self._stop_listening()
        await self._abort_all()
        if mode != "refuse" and self._listener is None:
            self._listen()

    async def _abort_all(self) -> None:
        links = list(self._links)
        for link in links:
            link.abort()
        if links:
            await asyncio.wait([link.finished for link in links])

    def _listen(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if self._reservation is not None:
                listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            listener.bind((HOST, self.port))
            listener.listen(BACKLOG)
            listener.setblocking(False)
        except OSError:
            listener.close()
            raise
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._accepting = asyncio.get_running_loop().create_task(self._accept(listener))

    async def _stop_listening(self) -> None:
        accepting, listener = self._accepting, self._listener
        self._accepting = self._listener = None
        if accepting is not None:
            accepting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await accepting
        if listener is not None:
            listener.close()  # connections still in the backlog get a RST

    async def _accept(self, listener: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                client, _ = await loop.sock_accept(listener)
            except OSError as exc:  # EMFILE and the like: let the client retry
                logger.warning("chaos proxy on port %s cannot accept: %s", self.port, exc)
                await asyncio.sleep(0.05)
                continue
            self._accepted += 1
            # Without it every small write waits for the peer's delayed ACK (Nagle).
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            link = _Link(self._mode, self._upstream_address)
            self._links.add(link)
            link.finished.add_done_callback(functools.partial(self._forget, link))
            try:
                await loop.connect_accepted_socket(functools.partial(_Side, link, "client"),
                                                   sock=client)
            except BaseException as exc:
                if link.client is None:  # no transport owns the socket
                    self._links.discard(link)
                    client.close()
                if not isinstance(exc, OSError):
                    raise
                logger.warning("chaos proxy on port %s dropped a connection: %s", self.port, exc)

    def _forget(self, link: _Link, _finished: asyncio.Future[None]) -> None:
        self._links.discard(link)


def _reserve_port() -> socket.socket | None:
    """A socket bound with ``SO_REUSEPORT`` to a free port of 127.0.0.1 and never listening: it
    keeps the port ours while the listener is closed ("refuse"). ``None`` where the platform
    lacks ``SO_REUSEPORT``."""
    if not hasattr(socket, "SO_REUSEPORT"):
        return None
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((HOST, 0))
    except OSError:
        sock.close()
        return None
    return sock
