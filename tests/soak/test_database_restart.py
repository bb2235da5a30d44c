"""PostgreSQL restarted, then crashed, under ``sqbot run`` while staff keep answering.

A private PostgreSQL server (tests/fakes/pgcluster.py, never the shared one) is restarted
and later SIGKILLed and started again while four people answer over LINE. The bot process
must ride it out: events that arrive while the database is away are answered 500 (so LINE
delivers them again) and nothing acknowledged is lost or applied twice; /healthz says 503
while the database is down; afterwards replies flow, the outbox drains and the scheduler
holds its lock again, all in the same process.
"""

from __future__ import annotations

import os
import random
import subprocess
import threading
import time

import httpx
import pytest
from sqlmodel import col, select

from rubric import load_year
from storage.db import Database
from storage.models import Answer, AnswerRevision, OutboxMessage, ProcessedEvent
from tests.bot.test_run import LINE_SECRET, SQBOT, invite, wait_until
from tests.conftest import REQUIRE_PG
from tests.fakes import line_webhook as hook
from tests.fakes.line_api import FakeLine
from tests.fakes.pgcluster import PrivatePostgres, available
from tests.soak.test_crash_soak import Server

# These tests start sqbot processes of their own: under xdist they share one worker.
pytestmark = pytest.mark.xdist_group("processes")
RUBRIC = load_year(105)
STAFF = ["甲同仁", "乙同仁", "丙同仁", "丁同仁"]


@pytest.fixture
def private_postgres():
    problem = available()
    if problem is not None:
        if REQUIRE_PG:
            pytest.fail(f"a private PostgreSQL server cannot be made here: {problem}")
        pytest.skip(problem)
    with PrivatePostgres() as pg:
        yield pg


def test_postgresql_restart_and_crash_lose_nothing(private_postgres, tmp_path):
    pg = private_postgres
    url = pg.create_database("sqbot_restart")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path),
           "DATABASE_URL": url, "DATA_DIR": str(tmp_path / "data"), "LOG_LEVEL": "INFO",
           "SCHEDULER_CHECK_SECONDS": "1"}
    subprocess.run([SQBOT, "init", "--demo"], env=env, cwd=tmp_path, check=True,
                   capture_output=True, timeout=120)
    codes = {name: invite(env, tmp_path, section="規劃課", role="staff", name=name)
             for name in STAFF}
    users = {name: hook.user_id(f"pg-restart-{name}") for name in STAFF}
    with FakeLine() as fake:
        fake.quota = None
        env = {**env, "LINE_CHANNEL_SECRET": LINE_SECRET,
               "LINE_CHANNEL_ACCESS_TOKEN": fake.access_token, "LINE_API_BASE_URL": fake.base_url}
        server = Server(env, tmp_path)
        server.start()
        assert server.proc is not None
        acknowledged: list[str] = []
        scores: dict[tuple[str, str], list[int]] = {}
        problems: list[str] = []
        refused = {"count": 0}

        def post(name: str, text: str) -> bool:
            event_id = hook.new_event_id()
            body = hook.body(hook.text_event(users[name], text, event_id=event_id))
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:  # LINE redelivers until it gets a 200
                try:
                    response = httpx.post(f"{server.url}/line/webhook", content=body,
                                          headers=hook.headers(body, LINE_SECRET), timeout=30)
                except httpx.HTTPError as exc:
                    problems.append(f"the bot itself did not answer: {exc!r}")
                    return False
                if response.status_code == 200:
                    acknowledged.append(event_id)
                    return True
                refused["count"] += 1
                time.sleep(0.2)
            problems.append(f"{text!r} from {name} never acknowledged")
            return False

        for name in STAFF:
            assert post(name, codes[name]) and post(name, "填寫自評")

        stop = threading.Event()

        def answer(name: str, seed: int) -> None:
            rng = random.Random(seed)
            mine = RUBRIC.questions[seed::len(STAFF)]  # disjoint: each history is one person's
            while not stop.is_set():
                question = rng.choice(mine)
                score = rng.randint(0, question.max)
                if post(name, f"跳到 {question.code}") and post(name, str(score)):
                    scores.setdefault((name, question.code), []).append(score)

        threads = [threading.Thread(target=answer, args=(name, n))
                   for n, name in enumerate(STAFF)]
        for thread in threads:
            thread.start()
        health: list[int] = []

        def watch_health(seconds: float) -> None:
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                health.append(httpx.get(f"{server.url}/healthz", timeout=10).status_code)
                time.sleep(0.2)

        try:
            watch_health(2)
            pg.restart(down_for=3)  # a planned restart: connections closed, refused for 3 s
            watch_health(3)
            pg.kill()  # a crash: the postmaster is gone, its backends with it
            watch_health(2)
            pg.start()  # crash recovery
            watch_health(3)
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=120)
        assert not problems, problems[:5]
        assert 503 in health and health[-1] == 200
        assert refused["count"] > 0, "no event arrived while the database was away"

        # The same process, serving: a new event is answered and the outbox drains.
        assert server.proc.poll() is None, "sqbot run died with the database"
        before = len(fake.texts_to(users[STAFF[0]]))
        assert post(STAFF[0], "說明")
        wait_until(lambda: len(fake.texts_to(users[STAFF[0]])) > before, timeout=30,
                   what="a reply after the database came back")
        wait_until(lambda: httpx.get(f"{server.url}/healthz").json()["scheduler"] == "leading",
                   timeout=30, what="the scheduler to hold its lock again")
        server.kill()

    database = Database.from_url(url)
    with database.transaction() as session:
        processed = session.exec(select(ProcessedEvent.event_id)).all()
        revisions = session.exec(select(AnswerRevision).where(
            AnswerRevision.field == "self_score")).all()
        answers = session.exec(select(Answer)).all()
        stuck = session.exec(select(OutboxMessage.id).where(
            col(OutboxMessage.status) != "sent")).all()
    database.dispose()
    assert set(acknowledged) <= set(processed)  # every acknowledged event committed …
    assert len(processed) == len(set(processed))  # … once
    # Each answer's history is exactly the scores its one author had acknowledged, in order
    # (a score equal to the one before changes nothing and is not a revision): none lost,
    # none applied twice, none out of order.
    history: dict[int, list[str | None]] = {}
    for revision in sorted(revisions, key=lambda r: r.id or 0):
        history.setdefault(revision.answer_id, []).append(revision.new_value)
    by_code = {answer.question_code: answer for answer in answers}
    for (_, code), sent in scores.items():
        expected = [str(v) for i, v in enumerate(sent) if i == 0 or v != sent[i - 1]]
        answer = by_code[code]
        assert history.get(answer.id or 0) == expected, code
        assert str(answer.self_score) == expected[-1]
    assert len(revisions) == sum(len(v) for v in history.values())
    assert not stuck
