"""LINE webhook and Telegram, each side by side with a bare-SDK baseline in the same run;
the outbox fan-out under the platforms' limits; resident memory with 10,000 assessments in
progress. Ratios, not bare times: these machines are noisy."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import sqlalchemy as sa

from benchmarks.common import percentiles, populate, write
from rubric import load_year
from storage.db import Database
from storage.migrate import upgrade
from storage.models import Assessment, Section
from tests.fakes import line_webhook as hook
from tests.fakes.line_api import FakeLine

SECRET = "0123456789abcdef0123456789abcdef"
STAFF = 1000
SQBOT = str(Path(sys.executable).parent / "sqbot")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the server exited")
        try:
            if httpx.post(f"{url}/line/webhook", content=b"{}", timeout=1).status_code in (
                    400, 415):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the server never answered")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def in_progress(db: Database, count: int) -> None:
    """``count`` sections, each with a draft assessment of the quarter."""
    with db.transaction() as session:
        agency_id = 1
        session.execute(sa.insert(Section), [
            {"agency_id": agency_id, "name": f"壓測課{n:05d}", "position": 1000 + n,
             "assessed": True, "created_at": datetime.now(UTC)} for n in range(count)])
        ids = [row[0] for row in session.execute(
            sa.select(Section.id).where(Section.name.like("壓測課%")))]  # type: ignore[attr-defined]
        now = datetime.now(UTC)
        session.execute(sa.insert(Assessment), [
            {"agency_id": agency_id, "section_id": sid, "roc_year": 115, "quarter": 4,
             "rubric_year": 105, "status": "draft", "version": 1, "created_at": now,
             "updated_at": now} for sid in ids])


async def post_all(url: str, bodies: list[bytes], concurrency: int) -> tuple[float, int]:
    """POST every body as fast as ``concurrency`` allows; (seconds, failures)."""
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    failures = 0

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal failures
        while not queue.empty():
            body = queue.get_nowait()
            response = await client.post("/line/webhook", content=body,
                                         headers=hook.headers(body, SECRET))
            failures += response.status_code != 200

    start = time.perf_counter()
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    return time.perf_counter() - start, failures


async def fixed_rate(url: str, bodies: list[bytes], rate: float) -> list[float]:
    """Open loop: one POST every 1/rate seconds; the latency of each."""
    latencies: list[float] = []

    async def one(client: httpx.AsyncClient, body: bytes) -> None:
        start = time.perf_counter()
        await client.post("/line/webhook", content=body, headers=hook.headers(body, SECRET))
        latencies.append(time.perf_counter() - start)

    async with httpx.AsyncClient(base_url=url, timeout=30,
                                 limits=httpx.Limits(max_connections=200)) as client:
        tasks = []
        start = time.perf_counter()
        for n, body in enumerate(bodies):
            delay = start + n / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(client, body)))
        await asyncio.gather(*tasks)
    return latencies


def line_events(users: list[str], count: int, offset: int = 0) -> list[bytes]:
    """Answers (typed scores) from the staff in turn, one event per request."""
    rubric = load_year(105)
    codes = [q.code for q in rubric.questions]
    bodies = []
    for n in range(count):
        user = users[n % len(users)]
        if (n // len(users)) % 2:
            text = "略過"
        else:
            text = str(rubric.question(codes[(n // len(users) // 2) % len(codes)]).max // 2)
        bodies.append(hook.body(hook.text_event(user, text,
                                                event_id=hook.new_event_id(),
                                                reply_token=None)))
    return bodies


def bench_line(folder: Path) -> dict[str, object]:
    """sqbot's webhook (every event committed) against the bare-SDK baseline."""
    db_path = folder / "line.db"
    db = Database.from_url(f"sqlite:///{db_path}")
    upgrade(db.engine)
    users = populate(db, STAFF, channel="line")
    in_progress(db, 10_000)
    db.dispose()
    results: dict[str, object] = {}
    with FakeLine() as fake:
        fake.quota = None  # no monthly limit: the benchmark is about speed
        env = {"PATH": os.environ["PATH"], "HOME": str(folder), "LOG_LEVEL": "WARNING",
               "DATABASE_URL": f"sqlite:///{db_path}", "DATA_DIR": str(folder / "data"),
               "LINE_CHANNEL_SECRET": SECRET, "LINE_CHANNEL_ACCESS_TOKEN": fake.access_token,
               "LINE_API_BASE_URL": fake.base_url}
        for name, command in (
                ("baseline", [sys.executable, "-m", "uvicorn", "benchmarks.baseline_line:app",
                              "--log-level", "warning"]),
                ("sqbot", [SQBOT, "run"])):
            port = free_port()
            argv = [*command, "--port", str(port)]
            proc = subprocess.Popen(argv, env={**env, "PORT": str(port)},
                                    cwd=Path(__file__).resolve().parents[1],
                                    stdout=(folder / f"{name}.log").open("w"),
                                    stderr=subprocess.STDOUT)
            url = f"http://127.0.0.1:{port}"
            try:
                wait_healthy(url, proc)
                idle = rss_mb(proc.pid)
                warm = [hook.body(hook.text_event(u, "填寫自評", event_id=hook.new_event_id()))
                        for u in users]
                asyncio.run(post_all(url, warm, 16))
                seconds, failures = asyncio.run(post_all(url, line_events(users, 2000, 1), 16))
                latencies = asyncio.run(fixed_rate(url, line_events(users, 2000, 2), 200.0))
                calm = asyncio.run(fixed_rate(url, line_events(users, 500, 3), 50.0))
                results[name] = {"events_per_s": round(2000 / seconds, 1),
                                 "failures": failures,
                                 "at_200_per_s": percentiles(latencies),
                                 "at_50_per_s": percentiles(calm),
                                 "rss_mb_idle": idle, "rss_mb": rss_mb(proc.pid)}
            finally:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=60)
    base = results["baseline"]["events_per_s"]  # type: ignore[index]
    ours = results["sqbot"]["events_per_s"]  # type: ignore[index]
    results["ratio_to_baseline"] = round(ours / base, 3)
    return results


def main() -> None:
    """Run the channel benchmarks and write their result files."""
    folder = Path(tempfile.mkdtemp(prefix="sqbot-bench-"))
    line = bench_line(folder)
    write("line_webhook", line, targets={"ratio_to_baseline": 0.5, "p99_ms_at_200_per_s": 50})
    sqbot = line["sqbot"]
    write("memory", {"assessments_in_progress": 10_000, "staff": STAFF,
                     "rss_mb_idle": sqbot["rss_mb_idle"],  # type: ignore[index]
                     "rss_mb_after_line_run": sqbot["rss_mb"]},  # type: ignore[index]
          targets={"rss_mb": 200})


if __name__ == "__main__":
    main()
