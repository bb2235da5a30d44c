"""Slow and idle clients are cut off, and the number of connections is bounded.

A real uvicorn server with sqbot's protocol (``bot.http``) on a real socket; raw sockets play
the slow clients (slowloris): nothing sent, half a header, half a body.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from bot.http import bounded_protocol
from bot.server import read_body

READ_TIMEOUT = 0.5


async def echo(request: Request) -> PlainTextResponse:
    body = await read_body(request)
    return PlainTextResponse(f"{len(body or b'')}")


def serve(max_connections: int | None = None) -> Iterator[int]:
    app = Starlette(routes=[Route("/echo", echo, methods=["POST"])])
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                            lifespan="off", http=bounded_protocol(READ_TIMEOUT),
                            limit_concurrency=max_connections)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def port() -> Iterator[int]:
    yield from serve()


def closed_by_server(sock: socket.socket, within: float) -> bool:
    """Whether the server closes ``sock`` within ``within`` seconds (reads until EOF)."""
    sock.settimeout(within)
    try:
        while sock.recv(4096):
            pass
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True
    return True


def response(sock: socket.socket, timeout: float = 5) -> bytes:
    """One whole HTTP response read from ``sock`` (headers, then Content-Length bytes)."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        assert chunk, f"closed before the headers: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    while len(body) < length:
        chunk = sock.recv(4096)
        assert chunk, "closed before the body"
        body += chunk
    return head + b"\r\n\r\n" + body


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=5)


HEADERS = (b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           b"Content-Length: 100\r\n\r\n")


@pytest.mark.parametrize("sent", [b"", HEADERS[:20], HEADERS + b'{"half": '],
                         ids=["nothing", "half-a-header", "half-a-body"])
def test_a_request_that_does_not_arrive_in_time_is_cut_off(port, sent):
    with connect(port) as sock:
        sock.sendall(sent)
        assert closed_by_server(sock, within=READ_TIMEOUT + 3)


def test_a_whole_request_is_answered_and_the_connection_is_then_bounded_too(port):
    with connect(port) as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi")
        answer = response(sock)
        assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"2")
        sock.sendall(HEADERS[:20])  # a second, slow request on the same connection
        assert closed_by_server(sock, within=READ_TIMEOUT + 6)


def test_a_slow_app_is_not_cut_off_by_the_read_deadline():
    async def slow(request: Request) -> PlainTextResponse:
        import asyncio

        await asyncio.sleep(READ_TIMEOUT * 3)
        return PlainTextResponse("done")

    app = Starlette(routes=[Route("/slow", slow)])
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free, log_level="warning",
                                           lifespan="off", http=bounded_protocol(READ_TIMEOUT)))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        with connect(free) as sock:
            sock.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
            assert response(sock, timeout=READ_TIMEOUT * 6).endswith(b"done")
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_connections_beyond_the_bound_get_503():
    for port in serve(max_connections=3):
        held = [connect(port) for _ in range(3)]
        try:
            for sock in held:
                sock.sendall(HEADERS[:20])
            time.sleep(0.1)
            with connect(port) as sock:
                sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi")
                assert response(sock).startswith(b"HTTP/1.1 503")
            for sock in held:  # and the held ones are still cut off in time
                assert closed_by_server(sock, within=READ_TIMEOUT + 3)
        finally:
            for sock in held:
                sock.close()
