"""``sqbot run --workers N``: several worker processes behind one listening socket.

The supervisor binds ``HOST:PORT`` once and starts N ``sqbot run`` workers that inherit the
socket, so the kernel spreads connections over them. Each worker is a whole sqbot (webhooks,
outbox sender, reminder scheduler candidate); what keeps them correct together lives in the
database (docs/deployment.md): per-conversation row locks, unique event ids, ``SKIP LOCKED``
outbox claims and one scheduler leader. Telegram polling, which allows one consumer, runs
in worker 0 only.

A worker that dies is started again with the same index; SIGTERM or SIGINT to the
supervisor stops every worker gracefully (SIGKILL after ``grace`` seconds). Workers get
SIGTERM if the supervisor itself dies, so none is left behind serving.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1


def bind(host: str, port: int) -> socket.socket:
    """The listening socket the workers share (inheritable)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def worker_command(fd: int, index: int) -> list[str]:
    """How a worker is started: this interpreter, ``sqbot run`` on an inherited socket."""
    return [sys.executable, "-m", "bot.cli", "run", "--listen-fd", str(fd),
            "--worker-index", str(index)]



@dataclass
class Supervisor:
    """Starts, watches and stops the workers."""

    sock: socket.socket
    count: int
    command: Callable[[int, int], Sequence[str]] = worker_command
    grace: float = 30.0
    restart_delay: float = 1.0
    """Wait before starting a dead worker again; doubled each time it dies within
    ``healthy_after`` seconds of its start (a crash loop), up to ``max_restart_delay``."""
    max_restart_delay: float = 60.0
    healthy_after: float = 60.0
    children: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)
    started_at: dict[int, float] = field(default_factory=dict)
    _stopping: bool = False

    def start(self, index: int) -> None:
        fd = self.sock.fileno()
        self.children[index] = subprocess.Popen(
            list(self.command(fd, index)), pass_fds=(fd,), preexec_fn=_die_with_parent)
        self.started_at[index] = time.monotonic()
        logger.info("worker %s started (pid %s)", index, self.children[index].pid)

    def request_stop(self, *_: object) -> None:
        self._stopping = True

    def run(self) -> int:
        """Serve until SIGTERM/SIGINT (or :meth:`request_stop`); returns the exit code."""
        logger.info("supervising %s workers", self.count)
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, self.request_stop)
        for index in range(self.count):
            self.start(index)
        restart_at: dict[int, float] = {}
        delays = dict.fromkeys(range(self.count), self.restart_delay)
        while not self._stopping:
            for index, child in list(self.children.items()):
                code = child.poll()
                if code is None:
                    continue
                now = time.monotonic()
                if index not in restart_at:
                    if now - self.started_at[index] >= self.healthy_after:
                        delays[index] = self.restart_delay  # it had been running fine
                    restart_at[index] = now + delays[index]
                    logger.warning("worker %s (pid %s) exited with %s; starting it again in %.0f s",
                                   index, child.pid, code, delays[index])
                    delays[index] = min(delays[index] * 2, self.max_restart_delay)
                if now >= restart_at[index] and not self._stopping:
                    del restart_at[index]
                    self.start(index)
            time.sleep(0.05)
        self.stop()
        return 0

    def stop(self) -> None:
        """SIGTERM every worker, wait up to ``grace`` seconds, then SIGKILL the rest."""
        for child in self.children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.grace
        for child in self.children.values():
            try:
                child.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                logger.warning("worker pid %s did not stop in %ss; killing it", child.pid,
                               self.grace)
                child.kill()
                child.wait()
        self.sock.close()

