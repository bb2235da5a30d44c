"""``sqbot run --workers 3``: three worker processes behind one port, one database.

Staff of two sections answer at the same time over LINE; each request is a new connection,
so the kernel hands them to whichever worker accepts first. Checked: every event applied
once and each person's answers in the order they were sent (no lost update although three
people write one section's assessment through three processes); a burst of outbox messages
drained by several workers, each message delivered once; one reminder scheduler, taken
over by another worker when the leader is killed, the reminder still sent once; SIGTERM
stops every worker. The whole run logs at DEBUG, and the log is searched for secrets and
for the staff's names.
"""

from __future__ import annotations

import collections
import hashlib
import itertools
import os
import re
import signal
import socket
import subprocess
import threading
import time
from datetime import datetime

import httpx
import pytest
from sqlmodel import col, select

from handlers.messages import Outgoing
from rubric import load_year
from rubric.periods import TAIPEI
from storage.db import Database
from storage.models import (
    Answer,
    AnswerRevision,
    Assessment,
    OutboxMessage,
    ProcessedEvent,
    Section,
)
from storage.outbox import enqueue
from tests.bot.test_run import LINE_SECRET, SQBOT, free_port, invite, wait_until
from tests.fakes import line_webhook as hook
from tests.fakes.line_api import FakeLine

# These tests start sqbot processes of their own: under xdist they share one worker.
pytestmark = pytest.mark.xdist_group("processes")
RUBRIC = load_year(105)
STAFF = {"規劃課": ["甄小芸", "賈大同", "錢多多"], "工務課": ["孫悟淨", "豬八戒", "沙和尚"]}
SECRETARY = "白秘書"
BURST = 240


def log_lines(path, pattern: str) -> list[tuple[int, str]]:
    """(pid, message) of the log lines matching ``pattern``."""
    found = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        match = re.search(r"\[(\d+)\] [\w.]+: (.*)$", line)
        if match and re.search(pattern, match.group(2)):
            found.append((int(match.group(1)), match.group(2)))
    return found


@pytest.fixture
def office(database_url, tmp_path):
    today = datetime.now(TAIPEI).date()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path),
           "DATABASE_URL": database_url, "DATA_DIR": str(tmp_path / "data"),
           "PYTHONUNBUFFERED": "1", "LOG_LEVEL": "DEBUG",
           # One secretariat countdown due today, whatever day CI runs on.
           "REPORT_COUNTDOWN": today.strftime("%m-%d"), "REMINDER_TIME": "00:00",
           "EXTRA_WORKING_DAYS": today.isoformat(), "SCHEDULER_CHECK_SECONDS": "1"}
    subprocess.run([SQBOT, "init", "--demo"], env=env, cwd=tmp_path, check=True,
                   capture_output=True, timeout=120)
    return env


def test_three_workers_one_database(office, database_url, tmp_path):
    with FakeLine() as fake:
        fake.quota = None
        fake.latency = 0.02  # a burst takes one sender long enough for the others to join in
        env = {**office, "LINE_CHANNEL_SECRET": LINE_SECRET,
               "LINE_CHANNEL_ACCESS_TOKEN": fake.access_token, "LINE_API_BASE_URL": fake.base_url}
        people = [(section, name) for section, names in STAFF.items() for name in names]
        codes = {name: invite(env, tmp_path, section=section, role="staff", name=name)
                 for section, name in people}
        codes[SECRETARY] = invite(env, tmp_path, role="secretariat", name=SECRETARY)
        users = {name: hook.user_id(f"worker-test-{name}") for name in codes}

        port = free_port()
        log = tmp_path / "workers.log"
        with log.open("w") as out:
            supervisor = subprocess.Popen([SQBOT, "run", "--workers", "3", "--port", str(port)],
                                          env=env, cwd=tmp_path, stdout=out,
                                          stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until(lambda: len(log_lines(log, r"sqbot serving on .*\(worker \d\)")) == 3,
                       timeout=90, what="three workers serving")
            workers = {pid for pid, _ in log_lines(log, r"sqbot serving on")}
            assert len(workers) == 3

            # -- one person's events across workers, in order; no lost updates --------------
            sent: dict[str, list[tuple[str, int]]] = {}
            events = collections.Counter[str]()
            problems: list[str] = []

            def post(name: str, text: str) -> None:
                body = hook.body(hook.text_event(users[name], text))
                for _ in range(50):  # LINE redelivers what was not answered 200
                    try:
                        response = httpx.post(f"{url}/line/webhook", content=body, timeout=30,
                                              headers=hook.headers(body, LINE_SECRET))
                    except httpx.HTTPError:
                        time.sleep(0.1)
                        continue
                    if response.status_code == 200:
                        events[name] += 1
                        return
                    time.sleep(0.1)
                problems.append(f"{text!r} from {name} never acknowledged")

            def answer(index: int, name: str) -> None:
                post(name, codes[name])
                post(name, "填寫自評")
                mine = RUBRIC.questions[index::3][:4]  # disjoint within the section
                sent[name] = []
                for question in mine:
                    for score in (question.max // 3, question.max // 2):
                        post(name, f"跳到 {question.code}")
                        post(name, str(score))
                        sent[name].append((question.code, score))

            post(SECRETARY, codes[SECRETARY])
            threads = [threading.Thread(target=answer, args=(i % 3, name))
                       for i, (_, name) in enumerate(people)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=300)
            assert not problems

            database = Database.from_url(database_url)
            with database.transaction() as session:
                processed = session.exec(select(ProcessedEvent.event_id)).all()
                for section_name, names in STAFF.items():
                    section = session.exec(select(Section).where(
                        Section.name == section_name)).one()
                    assessments = session.exec(select(Assessment).where(
                        Assessment.section_id == section.id)).all()
                    assert len(assessments) == 1  # three people, one assessment
                    answers = {a.question_code: a for a in session.exec(select(Answer).where(
                        Answer.assessment_id == assessments[0].id)).all()}
                    for name in names:
                        for code in {code for code, _ in sent[name]}:
                            in_order = [str(s) for c, s in sent[name] if c == code]
                            history = session.exec(
                                select(AnswerRevision.new_value)
                                .where(AnswerRevision.answer_id == answers[code].id,
                                       AnswerRevision.field == "self_score")
                                .order_by(col(AnswerRevision.id))).all()
                            assert list(history) == in_order, (name, code)
                            assert str(answers[code].self_score) == in_order[-1]
            assert len(processed) == sum(events.values()) == len(set(processed))
            handled_by = {pid for pid, _ in log_lines(log, r"LINE webhook: \d+ events")}
            assert len(handled_by) >= 2, "the connections all went to one worker"

            # -- a burst of outbox messages, drained by several workers, each sent once -----
            now = datetime.now(TAIPEI)
            texts = [f"測試通知第 {n} 則" for n in range(BURST)]
            with database.transaction() as session:
                for n, text in enumerate(texts):
                    enqueue(session=session, destination=("line", users[people[n % 6][1]]),
                            payload=Outgoing(text).to_payload(), now=now,
                            key=hashlib.sha256(text.encode()).hexdigest())

            def drained() -> bool:
                with database.transaction() as session:
                    return not session.exec(select(OutboxMessage.id).where(
                        OutboxMessage.status == "pending")).first()

            wait_until(drained, timeout=120, what="the outbox to drain")
            delivered = collections.Counter(
                t for name in codes for t in fake.texts_to(users[name]) if t in texts)
            assert set(delivered) == set(texts) and set(delivered.values()) == {1}
            senders = {pid for pid, _ in log_lines(log, r"outbox: \d+ rows tried")}
            assert len(senders) >= 2, "one worker drained the whole outbox"

            # -- one scheduler; another takes over when it dies; the reminder goes out once -
            def countdowns() -> list[str]:
                return [t for t in fake.texts_to(users[SECRETARY]) if "【年度報告倒數】" in t]

            wait_until(countdowns, timeout=60, what="today's countdown to the secretariat")
            leaders = {pid for pid, _ in log_lines(log, "now runs the reminder scheduler")}
            assert len(leaders) == 1
            (leader,) = leaders
            os.kill(leader, signal.SIGKILL)
            wait_until(lambda: {pid for pid, _ in log_lines(
                log, "now runs the reminder scheduler")} - {leader}, timeout=60,
                what="another worker to take the scheduler over")
            wait_until(lambda: len(log_lines(log, r"sqbot serving on .*\(worker \d\)")) == 4,
                       timeout=90, what="the killed worker to be started again")
            time.sleep(2)  # the new leader's first round has run; nothing more is due
            assert len(countdowns()) == 1
            restarted = log_lines(log, rf"pid {leader}\) exited with -9; starting it again")
            assert len(restarted) == 1
        finally:
            supervisor.send_signal(signal.SIGTERM)
            code = supervisor.wait(timeout=60)
        assert code == 0
        output = log.read_text(encoding="utf-8")
        live = {pid for pid, _ in log_lines(log, "sqbot serving on")}
        for pid in live:
            assert not os.path.exists(f"/proc/{pid}") or _zombie(pid), f"worker {pid} left"
        # Secrets and people's names stay out of the log even at DEBUG.
        for secret in (LINE_SECRET, fake.access_token, *codes.values(), *codes,
                       *users.values()):
            assert secret not in output, f"{secret!r} in the log"
        database.dispose()


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[1].startswith("Z")
    except OSError:
        return True


def test_workers_on_a_port_in_use_fail_with_the_setting_named(office, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([SQBOT, "run", "--workers", "2", "--port", str(port)],
                              env=office, cwd=tmp_path, capture_output=True, text=True,
                              timeout=120)
    assert done.returncode == 1
    assert f"無法監聽 127.0.0.1:{port}（HOST、PORT）" in done.stderr
    assert "sqbot serving" not in done.stdout + done.stderr  # no worker was started


def test_a_worker_that_keeps_dying_is_restarted_ever_more_slowly():
    """A crash loop (a worker that exits right after it starts) backs off: each restart waits
    twice as long as the one before, up to the limit, instead of spinning."""
    import sys
    import threading

    from bot.workers import Supervisor, bind

    supervisor = Supervisor(bind("127.0.0.1", 0), 1,
                            command=lambda fd, index: [sys.executable, "-c", "exit(3)"],
                            restart_delay=0.2, max_restart_delay=0.8, grace=5)
    starts: list[float] = []
    original = supervisor.start

    def start(index: int) -> None:
        starts.append(time.monotonic())
        original(index)

    supervisor.start = start  # type: ignore[method-assign]
    running = threading.Thread(target=supervisor.run)
    running.start()
    wait_until(lambda: len(starts) >= 6, timeout=30, what="six starts")
    supervisor.request_stop()
    running.join(timeout=30)
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    assert gaps[0] >= 0.2 and gaps[1] >= 0.4 and gaps[2] >= 0.8, gaps
    assert all(gap >= 0.8 for gap in gaps[2:]) and max(gaps) < 5, gaps
