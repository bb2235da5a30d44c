"""Uploads: what three 100 MB files sent at once cost ``sqbot run`` in resident memory.

Three bound members, each at a question, send a 100 MB image at the same moment (their
evidence limit raised to 128 MiB so every byte is streamed and kept), and three strangers do
the same. The fake LINE serves the content in 64 KiB chunks from this process; sqbot's
resident memory is sampled every 20 ms. Target: the three members' uploads add < 64 MB over
the idle process, the strangers' add nothing and are never downloaded.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import httpx

from benchmarks.bench_channels import SECRET, SQBOT, free_port, rss_mb, wait_healthy
from benchmarks.common import populate, write
from storage.db import Database
from storage.migrate import upgrade
from tests.fakes import line_webhook as hook
from tests.fakes.line_api import FakeLine

MB = 1024 * 1024
SIZE = 100 * MB


class Sampler:
    """The peak resident memory of ``pid`` while running."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mb(self.pid))
            time.sleep(0.02)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


async def send(url: str, bodies: list[bytes]) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=300) as client:
        answers = await asyncio.gather(*(client.post("/line/webhook", content=b,
                                                     headers=hook.headers(b, SECRET))
                                         for b in bodies))
    assert all(a.status_code == 200 for a in answers), [a.status_code for a in answers]


def settled(pid: int) -> float:
    time.sleep(1.0)
    return rss_mb(pid)


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="sqbot-bench-uploads-"))
    db_path = folder / "uploads.db"
    db = Database.from_url(f"sqlite:///{db_path}")
    upgrade(db.engine)
    members = populate(db, 3, channel="line", sections=3)
    db.dispose()
    strangers = [hook.user_id(f"stranger-{n}") for n in range(3)]
    figures: dict[str, object] = {}
    with FakeLine() as fake:
        fake.quota = None
        env = {"PATH": os.environ["PATH"], "HOME": str(folder), "LOG_LEVEL": "WARNING",
               "DATABASE_URL": f"sqlite:///{db_path}", "DATA_DIR": str(folder / "data"),
               "LINE_CHANNEL_SECRET": SECRET, "LINE_CHANNEL_ACCESS_TOKEN": fake.access_token,
               "LINE_API_BASE_URL": fake.base_url, "EVIDENCE_MAX_BYTES": str(128 * MB)}
        port = free_port()
        proc = subprocess.Popen([SQBOT, "run", "--port", str(port)], env=env,
                                stdout=(folder / "sqbot.log").open("w"),
                                stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_healthy(url, proc)
            for text in ("填寫自評", "100"):  # each member at 1.2, 1.1 answered
                asyncio.run(send(url, [hook.body(hook.text_event(u, text)) for u in members]))
            idle = settled(proc.pid)
            for n in range(len(strangers)):
                fake.add_large_content(f"s-{n}", SIZE, "image/jpeg")
            with Sampler(proc.pid) as sampler:
                asyncio.run(send(url, [hook.body(hook.image_event(u, f"s-{n}"))
                                       for n, u in enumerate(strangers)]))
            figures["strangers"] = {"added_mb": round(max(sampler.peak - idle, 0), 1),
                                    "bytes_downloaded": sum(fake.served[f"s-{n}"]
                                                            for n in range(3))}
            for n in range(len(members)):
                fake.add_large_content(f"m-{n}", SIZE, "image/jpeg")
            idle = settled(proc.pid)
            start = time.perf_counter()
            with Sampler(proc.pid) as sampler:
                asyncio.run(send(url, [hook.body(hook.image_event(u, f"m-{n}"))
                                       for n, u in enumerate(members)]))
            seconds = time.perf_counter() - start
            kept = sum(f.stat().st_size for f in (folder / "data" / "evidence").rglob("*")
                       if f.is_file())
            figures["members"] = {"uploads": 3, "mb_each": SIZE // MB,
                                  "rss_mb_idle": idle, "rss_mb_peak": sampler.peak,
                                  "added_mb": round(sampler.peak - idle, 1),
                                  "seconds": round(seconds, 2),
                                  "mb_kept_in_store": round(kept / MB, 1)}
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
    write("uploads", figures, targets={"members.added_mb": "< 64",
                                       "strangers.bytes_downloaded": 0})


if __name__ == "__main__":
    main()
