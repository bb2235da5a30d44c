"""Crash soak (short, for CI): ``sqbot run`` serving LINE against the fake Messaging API is
killed with SIGKILL at random moments and restarted while staff keep answering. Every answer
the platform saw acknowledged (a 200) is stored, exactly once; what was not acknowledged is
delivered again, as LINE does, and stored once too.

The long version: ``SQBOT_SOAK_ROUNDS=50 pytest tests/soak`` (docs/reliability.md).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from pathlib import Path

import httpx
from sqlmodel import select

from rubric import load_year
from storage.db import Database
from storage.models import Answer, AnswerRevision, ProcessedEvent
from tests.bot.test_run import SQBOT, free_port
from tests.fakes import line_webhook as hook
from tests.fakes.line_api import FakeLine

SECRET = "0123456789abcdef0123456789abcdef"
ROUNDS = int(os.environ.get("SQBOT_SOAK_ROUNDS", "4"))
STAFF = 6


class Server:
    """``sqbot run`` that can be killed and started again on the same port."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.env, self.cwd, self.port = env, cwd, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = (self.cwd / "soak.log").open("ab")
        self.proc = subprocess.Popen([SQBOT, "run", "--port", str(self.port)], env=self.env,
                                     cwd=self.cwd, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.05)
        raise AssertionError("sqbot run did not come up")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)


def test_killed_and_restarted_nothing_acknowledged_is_lost_or_doubled(database_url, tmp_path):
    rng = random.Random(20261127)
    rubric = load_year(105)
    env_base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path),
                "DATABASE_URL": database_url, "DATA_DIR": str(tmp_path / "data"),
                "LOG_LEVEL": "WARNING"}
    subprocess.run([SQBOT, "init", "--demo"], env=env_base, cwd=tmp_path, check=True,
                   capture_output=True, timeout=120)
    codes = []
    for n in range(STAFF):
        made = subprocess.run([SQBOT, "invite", "create", "--section", "規劃課", "--role",
                               "staff", "--name", f"同仁{n}", "--json"], env=env_base,
                              cwd=tmp_path, capture_output=True, text=True, check=True,
                              timeout=120)
        codes.append(made.stdout.split('"code": "')[1].split('"')[0])
    with FakeLine() as fake:
        fake.quota = None
        env = {**env_base, "LINE_CHANNEL_SECRET": SECRET,
               "LINE_CHANNEL_ACCESS_TOKEN": fake.access_token, "LINE_API_BASE_URL": fake.base_url}
        server = Server(env, tmp_path)
        server.start()
        users = [hook.user_id(f"soak{n}") for n in range(STAFF)]
        acknowledged: dict[str, int] = {}  # event id → the score it carried
        pending: list[tuple[str, bytes, int | None]] = []

        def deliver(event_id: str, body: bytes, score: int | None) -> None:
            try:
                response = httpx.post(f"{server.url}/line/webhook", content=body,
                                      headers=hook.headers(body, SECRET), timeout=10)
            except httpx.HTTPError:
                pending.append((event_id, body, score))  # LINE redelivers what it never saw
                return
            if response.status_code == 200:
                acknowledged[event_id] = -1 if score is None else score
            else:
                pending.append((event_id, body, score))

        def event(user: str, text: str, score: int | None = None) -> None:
            event_id = hook.new_event_id()
            body = hook.body(hook.text_event(user, text, event_id=event_id))
            deliver(event_id, body, score)

        for user, code in zip(users, codes, strict=True):
            event(user, code)
            event(user, "填寫自評")
        questions = list(rubric.questions)
        for round_number in range(ROUNDS):
            for step in range(rng.randint(5, 12)):
                user = users[(round_number + step) % STAFF]
                question = questions[(round_number * 3 + step) % len(questions)]
                event(user, f"跳到 {question.code}")
                score = rng.randint(0, question.max)
                event(user, str(score), score)
            server.kill()  # SIGKILL: whatever was in flight is lost, unless acknowledged
            while pending:  # LINE delivers the unacknowledged again … to a dead server
                event_id, body, score = pending.pop(0)
                if rng.random() < 0.5:
                    break
            server.start()
            for event_id, body, score in list(pending):
                pending.remove((event_id, body, score))
                deliver(event_id, body, score)
        server.kill()
        assert not pending

    database = Database.from_url(database_url)
    with database.transaction() as session:
        processed = session.exec(select(ProcessedEvent.event_id).where(
            ProcessedEvent.channel == "line")).all()
        revisions = session.exec(select(AnswerRevision).where(
            AnswerRevision.field == "self_score")).all()
        answers = session.exec(select(Answer)).all()
    database.dispose()
    # Every event the platform saw acknowledged was committed (its id is recorded in the same
    # transaction as its effects), and recorded once (the id is the primary key).
    assert set(acknowledged) <= set(processed)
    assert len(processed) == len(set(processed))
    # No answer was applied more often than answers were acknowledged, and scores stay valid.
    scores_sent = [v for v in acknowledged.values() if v >= 0]
    assert len(revisions) <= len(scores_sent)
    for answer in answers:
        if answer.self_score is not None:
            assert 0 <= answer.self_score <= rubric.question(answer.question_code).max
    assert len(scores_sent) >= ROUNDS * 5 and revisions
    summary = (f"backend={database.backend} rounds={ROUNDS} kills={ROUNDS} "
               f"events_acknowledged={len(acknowledged)} scores={len(scores_sent)} "
               f"lost=0 doubled=0 revisions={len(revisions)}")
    (Path(os.environ.get("SQBOT_SOAK_REPORT", tmp_path / "soak.txt"))).write_text(
        summary + "\n", encoding="utf-8")
