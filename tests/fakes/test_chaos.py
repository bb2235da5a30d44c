"""Self-test of the chaos proxy: every mode over real sockets, between httpx and uvicorn."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.fakes.chaos import ChaosProxy
from tests.fakes.telegram_api import BackgroundServer

# Unclosed sockets and transports surface as ResourceWarnings: they fail the test.
pytestmark = pytest.mark.filterwarnings("error")

RESET_ERRORS = (httpx.ReadError, httpx.RemoteProtocolError, httpx.WriteError)
"""What httpx raises for a connection the peer reset after it was opened."""

SLOW_SECONDS = 0.3


async def hello(request: Request) -> Response:
    return Response(b"hello", media_type="text/plain")


async def echo(request: Request) -> Response:
    return Response(await request.body(), media_type="application/octet-stream")


async def slow(request: Request) -> Response:
    await asyncio.sleep(SLOW_SECONDS)
    return Response(b"slow", media_type="text/plain")


@pytest.fixture(scope="module")
def upstream() -> Iterator[BackgroundServer]:
    app = Starlette(routes=[Route("/hello", hello), Route("/echo", echo, methods=["POST"]),
                            Route("/slow", slow)])
    server = BackgroundServer(app, name="chaos-upstream")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def proxy(upstream: BackgroundServer) -> Iterator[ChaosProxy]:
    with ChaosProxy("127.0.0.1", upstream.port) as started:
        yield started


@pytest.fixture(autouse=True)
def no_loop_complaints(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """No "Task was destroyed", "Unclosed transport" or proxy warning in any test."""
    yield
    noisy = [record for record in caplog.records
             if record.name in ("asyncio", "tests.fakes.chaos")
             and record.levelno >= logging.WARNING]
    assert noisy == []


def open_socket(proxy: ChaosProxy) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", proxy.port), timeout=2)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def raw_get(sock: socket.socket, path: str = "/hello") -> bytes:
    """One keep-alive GET on ``sock``; the response body."""
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: upstream\r\n\r\n".encode())
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before the response headers: {received!r}"
        received += chunk
    head, body = received.split(b"\r\n\r\n", 1)
    length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed in the middle of the body"
        body += chunk
    return body


def assert_reset(sock: socket.socket) -> None:
    """The peer aborted ``sock`` with a RST (not a FIN)."""
    with pytest.raises(ConnectionResetError):
        while sock.recv(65536):
            pass


def chaos_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name.startswith("ChaosProxy")]


# --------------------------------------------------------------------------------------------
# pass
# --------------------------------------------------------------------------------------------


def test_pass_forwards_requests(proxy: ChaosProxy) -> None:
    assert proxy.mode == "pass"
    assert proxy.url == f"http://127.0.0.1:{proxy.port}"
    with httpx.Client(base_url=proxy.url, timeout=5) as client:
        assert client.get("/hello").text == "hello"
        assert client.get("/hello").text == "hello"
    assert proxy.connections == 1  # the second request reused the pooled connection


@pytest.mark.parametrize("size", [2 * 1024 * 1024, 8 * 1024 * 1024])
def test_pass_forwards_large_bodies_both_ways(proxy: ChaosProxy, size: int) -> None:
    body = os.urandom(size)
    response = httpx.post(f"{proxy.url}/echo", content=body, timeout=10)
    assert response.status_code == 200
    assert response.content == body


async def test_pass_serves_many_connections_at_once(proxy: ChaosProxy) -> None:
    count = 60
    limits = httpx.Limits(max_connections=count, max_keepalive_connections=count)
    async with httpx.AsyncClient(base_url=proxy.url, limits=limits, timeout=5) as client:
        began = time.monotonic()
        responses = await asyncio.gather(*(client.get("/slow") for _ in range(count)))
        elapsed = time.monotonic() - began
    assert [response.text for response in responses] == ["slow"] * count
    assert proxy.connections == count
    assert elapsed < 10 * SLOW_SECONDS  # concurrently, not one after the other


def test_unreachable_upstream_resets_the_client(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        closed_port = placeholder.getsockname()[1]  # bound, never listening: refuses
        # The reset may land while httpx still sets the connection up: ConnectError then.
        with (ChaosProxy("127.0.0.1", closed_port) as proxy,
              pytest.raises((*RESET_ERRORS, httpx.ConnectError))):
            httpx.get(f"{proxy.url}/hello", timeout=2)
    assert "cannot reach upstream" in caplog.text
    caplog.clear()


# --------------------------------------------------------------------------------------------
# reset, hang, refuse
# --------------------------------------------------------------------------------------------


def test_reset_aborts_as_soon_as_the_client_sends(proxy: ChaosProxy) -> None:
    proxy.mode = "reset"
    with pytest.raises(RESET_ERRORS):
        httpx.get(f"{proxy.url}/hello", timeout=2)
    with open_socket(proxy) as sock:  # the connection itself is accepted ...
        sock.sendall(b"GET /hello HTTP/1.1\r\nHost: upstream\r\n\r\n")
        assert_reset(sock)  # ... and reset, not closed
    assert proxy.connections == 2


def test_hang_never_answers(proxy: ChaosProxy) -> None:
    proxy.mode = "hang"
    began = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{proxy.url}/echo", content=b"x" * 100_000, timeout=0.5)
    assert 0.4 < time.monotonic() - began < 3
    assert proxy.connections == 1


def test_leaving_hang_resets_the_hung_connections(proxy: ChaosProxy) -> None:
    proxy.mode = "hang"
    with open_socket(proxy) as sock:
        sock.sendall(b"GET /hello HTTP/1.1\r\nHost: upstream\r\n\r\n")
        sock.settimeout(0.2)
        with pytest.raises(TimeoutError):
            sock.recv(1)
        sock.settimeout(2)
        proxy.mode = "pass"
        assert_reset(sock)
    with open_socket(proxy) as sock:
        assert raw_get(sock) == b"hello"


def test_refuse_refuses_for_real_and_pass_recovers_on_the_same_port(proxy: ChaosProxy) -> None:
    url, port = proxy.url, proxy.port
    proxy.mode = "refuse"
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/hello", timeout=2)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2)
    assert proxy.connections == 0
    with socket.socket() as stranger:  # the port stays ours while refusing
        stranger.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        with pytest.raises(OSError):
            stranger.bind(("127.0.0.1", port))

    proxy.mode = "pass"
    assert (proxy.port, proxy.url) == (port, url)
    assert httpx.get(f"{url}/hello", timeout=2).text == "hello"
    assert proxy.connections == 1


def test_refuse_then_reset_then_pass(proxy: ChaosProxy) -> None:
    proxy.mode = "refuse"
    proxy.mode = "reset"  # the listener is back, resetting
    with pytest.raises(RESET_ERRORS):
        httpx.get(f"{proxy.url}/hello", timeout=2)
    proxy.mode = "pass"
    assert httpx.get(f"{proxy.url}/hello", timeout=2).text == "hello"


def test_a_mode_set_before_start_applies_from_the_start(upstream: BackgroundServer) -> None:
    proxy = ChaosProxy("127.0.0.1", upstream.port)
    proxy.mode = "refuse"
    with proxy:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", proxy.port), timeout=2)
        proxy.mode = "pass"
        assert httpx.get(f"{proxy.url}/hello", timeout=2).text == "hello"


# --------------------------------------------------------------------------------------------
# Open connections
# --------------------------------------------------------------------------------------------


def test_a_mode_change_resets_open_keep_alive_connections(proxy: ChaosProxy) -> None:
    with open_socket(proxy) as sock:
        assert raw_get(sock) == b"hello"
        proxy.mode = "hang"
        assert_reset(sock)


def test_a_pooled_client_suffers_the_new_mode_and_recovers(proxy: ChaosProxy) -> None:
    with httpx.Client(base_url=proxy.url, timeout=2) as client:
        assert client.get("/hello").text == "hello"
        proxy.mode = "reset"
        with pytest.raises(RESET_ERRORS):
            client.get("/hello")
        proxy.mode = "pass"
        assert client.get("/hello").text == "hello"
    assert proxy.connections == 3  # pass, the one reset, pass again


async def test_a_pooled_async_client_suffers_hang(proxy: ChaosProxy) -> None:
    async with httpx.AsyncClient(base_url=proxy.url, timeout=0.5) as client:
        assert (await client.get("/hello")).text == "hello"
        proxy.mode = "hang"
        with pytest.raises(httpx.ReadTimeout):
            await client.get("/hello")
        proxy.mode = "pass"
        assert (await client.get("/hello")).text == "hello"


def test_cut_all_resets_open_connections_and_keeps_the_mode(proxy: ChaosProxy) -> None:
    with open_socket(proxy) as first, open_socket(proxy) as second:
        assert raw_get(first) == b"hello"
        assert raw_get(second) == b"hello"
        proxy.cut_all()
        assert_reset(first)
        assert_reset(second)
    assert proxy.mode == "pass"
    with httpx.Client(base_url=proxy.url, timeout=2) as client:
        assert client.get("/hello").text == "hello"
        proxy.cut_all()
        # httpx notices the dead pooled connection and opens a new one
        assert client.get("/hello").text == "hello"
    assert proxy.connections == 4


def test_setting_the_same_mode_keeps_open_connections(proxy: ChaosProxy) -> None:
    with open_socket(proxy) as sock:
        assert raw_get(sock) == b"hello"
        proxy.mode = "pass"
        assert raw_get(sock) == b"hello"


def test_modes_can_change_from_many_threads(proxy: ChaosProxy) -> None:
    def flip() -> None:
        for mode in ("reset", "hang", "refuse", "pass") * 5:
            proxy.set_mode(mode)

    threads = [threading.Thread(target=flip) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    proxy.mode = "pass"
    assert httpx.get(f"{proxy.url}/hello", timeout=2).text == "hello"


# --------------------------------------------------------------------------------------------
# API and lifecycle
# --------------------------------------------------------------------------------------------


def test_unknown_modes_are_refused(proxy: ChaosProxy) -> None:
    with pytest.raises(ValueError, match="unknown chaos mode 'drop'"):
        proxy.mode = "drop"
    with pytest.raises(ValueError, match="unknown chaos mode"):
        proxy.set_mode("PASS")
    assert proxy.mode == "pass"


def test_url_needs_a_started_proxy(upstream: BackgroundServer) -> None:
    proxy = ChaosProxy("127.0.0.1", upstream.port)
    with pytest.raises(RuntimeError, match="not started"):
        _ = proxy.url
    with pytest.raises(ValueError, match="upstream_port"):
        ChaosProxy("127.0.0.1", 0)


def test_stop_closes_everything_and_is_idempotent(upstream: BackgroundServer) -> None:
    before = set(chaos_threads())
    proxy = ChaosProxy("127.0.0.1", upstream.port)
    proxy.start()
    with pytest.raises(RuntimeError, match="already started"):
        proxy.start()
    assert len(set(chaos_threads()) - before) == 1
    with open_socket(proxy) as forwarded:
        assert raw_get(forwarded) == b"hello"
        proxy.mode = "hang"
        with open_socket(proxy) as hung:
            hung.sendall(b"GET /hello HTTP/1.1\r\nHost: upstream\r\n\r\n")
            time.sleep(0.05)
            proxy.stop()
            assert_reset(hung)
        assert_reset(forwarded)
    proxy.stop()
    assert set(chaos_threads()) - before == set()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", proxy.port), timeout=2)
