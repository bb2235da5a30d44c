"""A throwaway, private PostgreSQL server for tests that stop, restart or crash the database.

The rest of the suite shares one PostgreSQL server (``SQBOT_TEST_POSTGRES_URL``, by default
127.0.0.1:5432); a test must never stop or restart that one. ``PrivatePostgres`` makes its own:
``initdb`` into a fresh directory under /tmp, a postmaster on 127.0.0.1 and a free port, trust
authentication, and no fsync, so it starts in about a second and can be stopped, restarted and
SIGKILLed at will::

    with PrivatePostgres() as pg:
        url = pg.create_database("sqbot_restart")
        ...
        pg.restart(down_for=1.0)   # same port: the URL stays valid, open connections break
        pg.kill()                  # a crash; pg.start() runs crash recovery
        pg.start()

PostgreSQL refuses to run as root. When the tests run as root (CI) the server's programs run
as the ``postgres`` system user and the cluster's directory belongs to it; otherwise they run
as the current user. ``available()`` says why a private server cannot be made here, if it
cannot. A server still running when its ``PrivatePostgres`` is garbage-collected, or when the
interpreter exits, is stopped and its directory removed.
"""

from __future__ import annotations

import contextlib
import functools
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from urllib.parse import quote

import psycopg
from psycopg import sql

SERVICE_USER = "postgres"
"""The system user that runs the server when the tests run as root."""

SUPERUSER = "postgres"
"""The database superuser ``initdb`` creates (trust authentication: no password)."""

PROGRAMS = ("initdb", "postgres")

STOP_SIGNALS = {"smart": signal.SIGTERM, "fast": signal.SIGINT, "immediate": signal.SIGQUIT}
"""The postmaster's shutdown signals, by ``pg_ctl stop -m`` mode."""

SETTINGS: dict[str, str] = {
    "fsync": "off",
    "full_page_writes": "off",
    "listen_addresses": "127.0.0.1",
    "max_connections": "50",
    "shared_buffers": "16MB",
    "max_wal_size": "64MB",
}
"""Server settings besides ``port`` and ``unix_socket_directories``, for speed.

``fsync=off`` and ``full_page_writes=off`` only matter if the *machine* crashes, so
``kill()`` stays a faithful crash: every commit the client saw acknowledged survives it.
``synchronous_commit`` stays on for that reason: with it off, a commit is acknowledged before
its WAL leaves shared memory, and a SIGKILL right after loses it (with fsync off, turning it
off would save only a write() per commit)."""

COMMAND_TIMEOUT = 120.0
"""Seconds initdb, or a shutdown, may take before it is abandoned."""


# --------------------------------------------------------------------------------------------
# Where the programs are and who runs them
# --------------------------------------------------------------------------------------------


def _version_key(path: Path) -> tuple[int, ...]:
    """Sort key for /usr/lib/postgresql/<version>/bin: numerically by version."""
    return tuple(int(part) for part in re.findall(r"\d+", path.parent.name))


def _complete(directory: Path) -> bool:
    return all(os.access(directory / name, os.X_OK) for name in PROGRAMS)


@functools.cache
def find_bin_dir() -> Path | None:
    """The directory holding ``initdb`` and ``postgres``, or None.

    The one ``initdb`` on PATH lives in (after resolving symlinks: initdb looks for
    ``postgres`` beside its real self), else the newest /usr/lib/postgresql/*/bin.
    """
    on_path = shutil.which("initdb")
    if on_path is not None:
        directory = Path(on_path).resolve().parent
        if _complete(directory):
            return directory
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_version_key,
                        reverse=True)
    return next((directory for directory in candidates if _complete(directory)), None)


def _running_as_root() -> bool:
    return os.geteuid() == 0


@functools.cache
def available() -> str | None:
    """None if a private cluster can be made here, else the reason it cannot."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        return ("PostgreSQL server programs (initdb, postgres) not found on PATH nor in "
                "/usr/lib/postgresql/*/bin")
    if _running_as_root():
        try:
            pwd.getpwnam(SERVICE_USER)
        except KeyError:
            return (f"running as root, and PostgreSQL refuses root, but there is no "
                    f"{SERVICE_USER!r} user to run it as")
    if not os.path.isdir(_base_dir()):
        return f"no directory {_base_dir()} for the cluster"
    try:
        result = _run([str(bin_dir / "postgres"), "--version"], timeout=30)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"cannot run {bin_dir / 'postgres'}: {exc}"
    if result.returncode != 0:
        return f"{bin_dir / 'postgres'} --version failed: {(result.stderr or '').strip()}"
    return None


def _base_dir() -> str:
    """Where cluster directories go: /tmp when root, as the service user must reach them."""
    return "/tmp" if _running_as_root() else tempfile.gettempdir()


def _server_env() -> dict[str, str]:
    """The server programs' environment: the caller's without PG* variables (PGDATA, PGPORT,
    ...), in the C locale, with the service user's HOME and name when running as root."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    env.update(LC_ALL="C", LANG="C")
    if _running_as_root():
        env.update(HOME=pwd.getpwnam(SERVICE_USER).pw_dir, USER=SERVICE_USER,
                   LOGNAME=SERVICE_USER)
    return env


def _server_user() -> tuple[int | None, int | None, list[int] | None]:
    """``subprocess``'s ``user``, ``group`` and ``extra_groups`` for the server programs.

    As root: the service user's (the child does setgroups/setgid/setuid before exec, as
    ``runuser -u postgres`` would); otherwise None: the current user.
    """
    if not _running_as_root():
        return None, None, None
    entry = pwd.getpwnam(SERVICE_USER)
    return entry.pw_uid, entry.pw_gid, os.getgrouplist(SERVICE_USER, entry.pw_gid)


def _run(command: list[str], *, timeout: float = COMMAND_TIMEOUT
         ) -> subprocess.CompletedProcess[str]:
    """Run a server program as the server's user, from ``/`` (a directory it can enter)."""
    user, group, extra_groups = _server_user()
    return subprocess.run(command, env=_server_env(), cwd="/", user=user, group=group,
                          extra_groups=extra_groups, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout, check=False)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


# --------------------------------------------------------------------------------------------
# Processes
# --------------------------------------------------------------------------------------------


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie has let go of its shared memory: not alive)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def _children(pid: int) -> list[int]:
    """The live processes whose parent is ``pid`` (a postmaster's backends and workers)."""
    found = []
    for entry in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = entry.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] not in ("Z", "X"):
            found.append(int(entry.parent.name))
    return found


def _wait_gone(pids: list[int], timeout: float) -> list[int]:
    """Wait up to ``timeout`` seconds for ``pids`` to end; the ones still alive."""
    deadline = time.monotonic() + timeout
    remaining = [pid for pid in pids if _alive(pid)]
    while remaining and time.monotonic() < deadline:
        time.sleep(0.01)
        remaining = [pid for pid in remaining if _alive(pid)]
    return remaining


@dataclass
class _Cluster:
    """What the cleanup needs, apart from the ``PrivatePostgres`` (for ``weakref.finalize``)."""

    dir: Path
    postmaster: subprocess.Popen[bytes] | None = None

    def crash(self) -> None:
        """SIGKILL the postmaster and reap it; wait for its children to notice and exit.

        The children (backends, checkpointer, ...) notice their postmaster's death within
        milliseconds; any still there after 5 seconds are SIGKILLed: a new postmaster cannot
        take over the shared memory while one of them holds it.
        """
        process, self.postmaster = self.postmaster, None
        if process is None or process.poll() is not None:
            return
        children = _children(process.pid)
        process.kill()
        process.wait()
        stragglers = _wait_gone(children, 5.0)
        for pid in stragglers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        _wait_gone(stragglers, 5.0)

    def shut_down(self, mode: str, timeout: float) -> bool:
        """Send the postmaster ``mode``'s signal, as ``pg_ctl stop -m mode`` does, and wait.

        True once it has exited (it waits for its children first), False after ``timeout``.
        """
        process = self.postmaster
        if process is None:
            return True
        if process.poll() is None:
            process.send_signal(STOP_SIGNALS[mode])
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                return False
        self.postmaster = None
        return True

    def teardown(self) -> None:
        """Stop the server (fast, else SIGKILL) and delete the directory."""
        if not self.shut_down("fast", 30.0):
            self.crash()
        shutil.rmtree(self.dir, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------


class PrivatePostgres:
    """initdb into a temp dir, listen on 127.0.0.1:<free port>, trust auth, fsync off for speed.

    The directory and the port are chosen at construction; the cluster is made (initdb) on the
    first ``start()``. Should that first start find the port taken meanwhile, it moves to
    another free port (so read ``port`` and ``url`` after ``start()``). From then on the port
    never changes: after ``restart()``, or ``start()`` after ``stop()`` or ``kill()``, every URL
    handed out is valid again.

    The postmaster is this process's own child, in a session of its own (a Ctrl-C in the
    terminal does not reach it), logging to ``log_path``: ``kill()`` can then reap it at once.
    """

    def __init__(self) -> None:
        problem = available()
        if problem is not None:
            raise RuntimeError(f"cannot make a private PostgreSQL server: {problem}")
        bin_dir = find_bin_dir()
        assert bin_dir is not None
        self.bin_dir: Path = bin_dir
        self.dir = Path(tempfile.mkdtemp(prefix="sqbot-pg-", dir=_base_dir()))
        """The cluster's own directory: ``data/``, ``postgres.log`` and the Unix socket."""
        self._cluster = _Cluster(self.dir)
        self._finalizer = weakref.finalize(self, self._cluster.teardown)
        if _running_as_root():
            entry = pwd.getpwnam(SERVICE_USER)
            os.chown(self.dir, entry.pw_uid, entry.pw_gid)
        self.data_dir = self.dir / "data"
        self.log_path = self.dir / "postgres.log"
        self.port = _free_port()
        self._initialized = False
        self._started_once = False

    # ---- addresses ---------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Database ``postgres`` as superuser: ``postgresql://postgres@127.0.0.1:<port>/postgres``."""
        return self.database_url("postgres")

    def database_url(self, name: str) -> str:
        """The URL of database ``name`` on this server (which need not exist)."""
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{quote(name, safe='')}"

    # ---- life cycle --------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether the postmaster is alive (it may still be starting up)."""
        process = self._cluster.postmaster
        return process is not None and process.poll() is None

    def start(self, timeout: float = 60.0) -> None:
        """initdb on first start; then start the server; return when it accepts connections.

        Does nothing if the server is running already. After ``kill()`` or
        ``stop("immediate")`` the server first runs crash recovery, which this waits out.
        """
        self._check_alive()
        if self.running:
            return
        if not self._initialized:
            self._initdb()
        attempts = 1 if self._started_once else 3
        for attempt in range(1, attempts + 1):
            try:
                self._launch(timeout)
                break
            except _PortTaken:
                if attempt == attempts:
                    raise
                self.port = _free_port()
        self._started_once = True

    def stop(self, mode: str = "fast") -> None:
        """Stop as ``pg_ctl stop -m <mode> -w`` would, and return once the server is down.

        "smart" waits for the clients to disconnect, "fast" disconnects them, "immediate" quits
        without a checkpoint (crash recovery on the next start). Does nothing if the server is
        not running.
        """
        if mode not in STOP_SIGNALS:
            raise ValueError(f"stop mode must be one of {tuple(STOP_SIGNALS)}, not {mode!r}")
        self._check_alive()
        if not self._cluster.shut_down(mode, COMMAND_TIMEOUT):
            raise RuntimeError(f"private PostgreSQL on port {self.port} did not stop ({mode}) "
                               f"within {COMMAND_TIMEOUT:.0f}s\n{self._log_section()}")

    def restart(self, *, down_for: float = 0.0, mode: str = "fast") -> None:
        """Stop (``mode``), stay down ``down_for`` seconds, start again on the same port.

        Connections open before the restart are broken: their next use raises
        ``psycopg.OperationalError``.
        """
        self.stop(mode)
        if down_for > 0:
            time.sleep(down_for)
        self.start()

    def kill(self) -> None:
        """SIGKILL the postmaster (a crash); the server then needs ``start()`` again.

        Returns once its backends and auxiliary processes have exited too, so that ``start()``
        can follow at once. Every commit acknowledged before the kill survives it.
        """
        self._check_alive()
        self._cluster.crash()

    def destroy(self) -> None:
        """Stop the server if it runs (fast, else SIGKILL) and delete its directory.

        Idempotent. The object cannot be started again afterwards.
        """
        self._finalizer()

    def create_database(self, name: str) -> str:
        """Create database ``name`` (owned by the superuser); its URL."""
        with psycopg.connect(self.url, autocommit=True, connect_timeout=10) as connection:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.database_url(name)

    def log_tail(self, lines: int = 40) -> str:
        """The last ``lines`` lines of the server's log (empty if there is none yet)."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> PrivatePostgres:
        try:
            self.start()
        except BaseException:
            self.destroy()
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.destroy()

    def __repr__(self) -> str:
        state = ("destroyed" if not self._finalizer.alive
                 else "running" if self.running else "stopped")
        return f"<PrivatePostgres 127.0.0.1:{self.port} {state} in {self.dir}>"

    # ---- internals ---------------------------------------------------------------------

    def _check_alive(self) -> None:
        if not self._finalizer.alive:
            raise RuntimeError(f"{self!r} has been destroyed")

    def _initdb(self) -> None:
        command = [str(self.bin_dir / "initdb"), "-D", str(self.data_dir), "-U", SUPERUSER,
                   "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"]
        result = _run(command)
        if result.returncode != 0:
            output = "\n".join(part.strip() for part in (result.stdout, result.stderr) if part)
            raise RuntimeError(f"initdb failed (exit {result.returncode}) in {self.dir}:\n"
                               f"{output}")
        self._initialized = True

    def _command(self) -> list[str]:
        settings = {**SETTINGS, "port": str(self.port),
                    "unix_socket_directories": str(self.dir)}
        command = [str(self.bin_dir / "postgres"), "-D", str(self.data_dir)]
        for name, value in settings.items():
            command += ["-c", f"{name}={value}"]
        return command

    def _launch(self, timeout: float) -> None:
        """Start the postmaster and wait until it answers a query."""
        user, group, extra_groups = _server_user()
        with self.log_path.open("ab") as log:
            if user is not None and group is not None:
                os.chown(self.log_path, user, group)
            process = subprocess.Popen(self._command(), stdin=subprocess.DEVNULL, stdout=log,
                                       stderr=subprocess.STDOUT, env=_server_env(), cwd=self.dir,
                                       user=user, group=group, extra_groups=extra_groups,
                                       start_new_session=True)
        self._cluster.postmaster = process
        deadline = time.monotonic() + timeout
        while True:
            code = process.poll()
            if code is not None:
                self._cluster.postmaster = None
                tail = self.log_tail(20)
                if "could not bind" in tail or "could not create any TCP/IP sockets" in tail:
                    raise _PortTaken(f"port {self.port} is taken")
                raise RuntimeError(f"private PostgreSQL exited (status {code}) while starting "
                                   f"on port {self.port}\n{self._log_section()}")
            problem = "not ready"
            if self._ready(process.pid):
                try:
                    with psycopg.connect(self.url, connect_timeout=5) as connection:
                        connection.execute("SELECT 1")
                    return
                except psycopg.OperationalError as exc:
                    problem = str(exc).strip()
            if time.monotonic() >= deadline:
                self._cluster.crash()
                raise RuntimeError(f"private PostgreSQL on port {self.port} did not accept "
                                   f"connections within {timeout:.0f}s ({problem})\n"
                                   f"{self._log_section()}")
            time.sleep(0.02)

    def _ready(self, pid: int) -> bool:
        """Whether ``postmaster.pid`` says postmaster ``pid`` is ready, as ``pg_ctl -w`` asks.

        Only then is it worth connecting: before, the port may belong to someone else.
        """
        try:
            lines = (self.data_dir / "postmaster.pid").read_text().splitlines()
        except OSError:
            return False
        return len(lines) >= 8 and lines[0].strip() == str(pid) and lines[7].strip() == "ready"

    def _log_section(self) -> str:
        return f"--- {self.log_path} (tail) ---\n{self.log_tail()}"


class _PortTaken(RuntimeError):
    """The postmaster could not bind its port: someone took it after ``_free_port()``."""
