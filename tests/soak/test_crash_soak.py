"""Crash soak: ``sqbot run`` serving LINE and Telegram is killed with SIGKILL at random moments
and restarted while staff (50 in the long run) answer at the same time, evidence photos
included, and while the outbox is sending a burst of notices.

What the platforms saw acknowledged (a 200) must be stored exactly once; what was not is
delivered again, as both platforms do. At the end every section can still finish and submit,
no LINE message was delivered twice (the retry key), Telegram doubles stay within one per
kill (the Bot API has no idempotency key: a kill between its answer and our commit sends
that message again), and today's reminder reached each secretariat member once.

CI runs the short version (20 staff, 3 kills). The long one, with its result in
docs/reliability.md::

    SQBOT_SOAK_STAFF=50 SQBOT_SOAK_ROUNDS=20 SQBOT_SOAK_REPORT=soak.txt \
        .venv/bin/python -m pytest tests/soak/test_crash_soak.py -q
"""

from __future__ import annotations

import collections
import hashlib
import io
import json
import os
import random
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from PIL import Image
from sqlmodel import col, select

from bot.telegram import webhook_secret_for
from handlers.messages import Document, Outgoing
from rubric import load_year
from rubric.periods import TAIPEI
from storage.db import Database
from storage.invitations import create_invitation
from storage.models import (
    Answer,
    AnswerRevision,
    Assessment,
    Attachment,
    OutboxMessage,
    ProcessedEvent,
    Role,
    Section,
)
from storage.org import ensure_demo_agency, get_section
from storage.outbox import enqueue
from tests.bot.test_run import SQBOT, free_port, wait_until
from tests.fakes import line_webhook as hook
from tests.fakes.line_api import FakeLine
from tests.fakes.telegram_api import FakeTelegram

# These tests start sqbot processes of their own: under xdist they share one worker.
pytestmark = pytest.mark.xdist_group("processes")
SECRET = "0123456789abcdef0123456789abcdef"
TOKEN = "424242:" + "S" * 35
ROUNDS = int(os.environ.get("SQBOT_SOAK_ROUNDS", "3"))
STAFF = int(os.environ.get("SQBOT_SOAK_STAFF", "20"))
SECTIONS = ("規劃課", "工務課", "管理課", "資產課")
RUBRIC = load_year(105)
NOTICES = 120
TABLES = 12  # replies of a text plus files (總表 in the group), to Telegram


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
        last: object = None
        while time.monotonic() < deadline:
            try:
                last = httpx.get(f"{self.url}/healthz", timeout=5)
                if last.status_code == 200:
                    return
            except httpx.HTTPError as exc:
                last = exc
            time.sleep(0.05)
        raise AssertionError(f"sqbot run did not come up: {last!r}")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)


def picture(n: int) -> bytes:
    """A small PNG, different for every ``n``."""
    out = io.BytesIO()
    Image.new("RGB", (4, 4), (n % 256, n // 256 % 256, 200)).save(out, format="PNG")
    return out.getvalue()


@dataclass
class Person:
    name: str
    section: str
    channel: str
    code: str
    line_id: str = ""
    telegram_id: int = 0
    questions: list[str] = field(default_factory=list)
    scores: list[tuple[str, int]] = field(default_factory=list)
    pictures: list[tuple[str, str]] = field(default_factory=list)  # (question, sha256)


class Platforms:
    """Sends what a person types (or a photo) to sqbot as the platform would: signed, and
    again until it is answered 200."""

    def __init__(self, line: FakeLine, telegram: FakeTelegram, server: Server) -> None:
        self.line, self.telegram, self.server = line, telegram, server
        self.acknowledged: list[str] = []
        self.problems: list[str] = []
        self.redelivered = 0
        # One client for every simulated person: a client per request would build an SSL
        # context each time, which alone saturates this machine's CPU at 50 people.
        self.http = httpx.Client(timeout=30, limits=httpx.Limits(max_connections=200))
        self._lock = threading.Lock()
        self._message = 0

    def text(self, person: Person, text: str) -> bool:
        if person.channel == "line":
            event_id = hook.new_event_id()
            body = hook.body(hook.text_event(person.line_id, text, event_id=event_id))
            return self._line(event_id, body)
        update_id = self.telegram.user_text(person.telegram_id, text)
        return self._telegram(update_id)

    def photo(self, person: Person, content: bytes) -> bool:
        if person.channel == "line":
            with self._lock:
                self._message += 1
                message_id = str(10**17 + self._message)
            self.line.add_content(message_id, content, "image/png")
            event_id = hook.new_event_id()
            body = hook.body(hook.image_event(person.line_id, message_id, event_id=event_id))
            return self._line(event_id, body)
        return self._telegram(self.telegram.photo(person.telegram_id, content))

    def _line(self, event_id: str, body: bytes) -> bool:
        headers = hook.headers(body, SECRET)
        return self._deliver(f"{self.server.url}/line/webhook", body, headers, event_id)

    def _telegram(self, update_id: int) -> bool:
        update = self.telegram.take_update(update_id)
        body = json.dumps(update, ensure_ascii=False).encode()
        headers = {"content-type": "application/json",
                   "x-telegram-bot-api-secret-token": webhook_secret_for(TOKEN)}
        bot_id = TOKEN.split(":", 1)[0]  # Telegram's event keys are scoped by the bot
        return self._deliver(f"{self.server.url}/telegram/webhook", body, headers,
                             f"{bot_id}:u{update_id}")

    def _deliver(self, url: str, body: bytes, headers: dict[str, str], event_id: str) -> bool:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                response = self.http.post(url, content=body, headers=headers)
            except httpx.HTTPError:
                response = None
            if response is not None and response.status_code == 200:
                with self._lock:
                    self.acknowledged.append(event_id)
                return True
            with self._lock:
                self.redelivered += 1
            time.sleep(0.2)  # the platforms redeliver what was not answered 200
        self.problems.append(f"event {event_id} never acknowledged")
        return False


def test_killed_and_restarted_nothing_acknowledged_is_lost_or_doubled(database_url, tmp_path):
    rng = random.Random(20261127)
    today = datetime.now(TAIPEI).date()
    env_base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path),
                "DATABASE_URL": database_url, "DATA_DIR": str(tmp_path / "data"),
                "LOG_LEVEL": "WARNING", "SCHEDULER_CHECK_SECONDS": "1",
                # One secretariat reminder due today, whatever day the soak runs.
                "REPORT_COUNTDOWN": today.strftime("%m-%d"), "REMINDER_TIME": "00:00",
                "EXTRA_WORKING_DAYS": today.isoformat()}
    subprocess.run([SQBOT, "init", "--demo"], env=env_base, cwd=tmp_path, check=True,
                   capture_output=True, timeout=120)
    database = Database.from_url(database_url)
    people: list[Person] = []
    secretaries: list[Person] = []
    with database.transaction() as session:
        agency = ensure_demo_agency(session=session)

        def code(name: str, role: Role, section: str | None = None) -> str:
            where = get_section(session=session, agency=agency, name=section) if section \
                else None
            return create_invitation(session=session, agency=agency, role=role,
                                     now=datetime.now(TAIPEI), section=where,
                                     member_name=name).code

        for n in range(STAFF):
            section = SECTIONS[n % len(SECTIONS)]
            people.append(Person(f"同仁{n:02d}", section, "telegram" if n % 5 == 0 else "line",
                                 code(f"同仁{n:02d}", Role.STAFF, section),
                                 line_id=hook.user_id(f"soak{n}"), telegram_id=700000 + n))
        for n, channel in enumerate(("line", "telegram")):
            secretaries.append(Person(f"秘書{n}", "", channel, code(f"秘書{n}", Role.SECRETARIAT),
                                      line_id=hook.user_id(f"soak-secretary{n}"),
                                      telegram_id=790000 + n))
    for section in SECTIONS:  # each person answers their own questions of the section
        members = [p for p in people if p.section == section]
        for k, person in enumerate(members):
            person.questions = [q.code for q in RUBRIC.questions[k::len(members)]]

    with FakeLine() as line, FakeTelegram(TOKEN) as telegram:
        line.quota = None
        line.latency = 0.01  # the outbox burst is still being sent when the kills come
        env = {**env_base, "LINE_CHANNEL_SECRET": SECRET,
               "LINE_CHANNEL_ACCESS_TOKEN": line.access_token, "LINE_API_BASE_URL": line.base_url,
               "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE_URL": telegram.base_url,
               "TELEGRAM_WEBHOOK_URL": "https://bot.example.gov.tw/telegram/webhook"}
        server = Server(env, tmp_path)
        try:
            summary = run_soak(server, line, telegram, people, secretaries, database, rng)
        finally:
            server.kill()
            database.dispose()
    report = Path(os.environ.get("SQBOT_SOAK_REPORT", tmp_path / "soak.txt"))
    with report.open("a", encoding="utf-8") as out:
        out.write(summary + "\n")


def run_soak(server: Server, line: FakeLine, telegram: FakeTelegram, people: list[Person],
             secretaries: list[Person], database: Database, rng: random.Random) -> str:
    """Answer, kill and restart, then check; returns the summary line."""
    server.start()
    platforms = Platforms(line, telegram, server)
    for person in [*secretaries, *people]:
        assert platforms.text(person, person.code)
    for person in people:
        assert platforms.text(person, "填寫自評")

    # A burst of notices in the outbox, to LINE and Telegram, sent while the kills come.
    now = datetime.now(TAIPEI)
    notices: dict[tuple[str, str], str] = {}
    with database.transaction() as session:
        for n in range(NOTICES):
            person = people[n % len(people)]
            text = f"【通知】測試第 {n} 則"
            to = person.line_id if person.channel == "line" else str(person.telegram_id)
            notices[(person.channel, to)] = text
            enqueue(session=session, destination=(person.channel, to),
                    payload=Outgoing(text).to_payload(), now=now,
                    key=hashlib.sha256(text.encode()).hexdigest())
        # Messages in several parts: a retry must send only the part that did not arrive.
        tables: dict[str, tuple[str, str]] = {}
        telegram_people = [p for p in [*people, *secretaries] if p.channel == "telegram"]
        for n in range(TABLES):
            person = telegram_people[n % len(telegram_people)]
            text = f"【總表】測試第 {n} 則"
            tables[text] = (str(person.telegram_id), f"總表{n}.ods")
            enqueue(session=session, destination=("telegram", str(person.telegram_id)),
                    payload=Outgoing(text, document=Document(f"總表{n}.ods", b"PK" + bytes(n),
                                                             "application/octet-stream"),
                                     picture=Document(f"圖表{n}.png", picture(5000 + n),
                                                      "image/png")).to_payload(),
                    now=now, key=hashlib.sha256(text.encode()).hexdigest())
    telegram.fail_next("sendDocument", kind="500", times=3)

    stop = threading.Event()
    pictures = iter(range(1, 10**6))

    def staff(person: Person, seed: int) -> None:
        chooser = random.Random(seed)
        while not stop.is_set():
            code = chooser.choice(person.questions)
            question = RUBRIC.question(code)
            score = chooser.randint(0, question.max)
            if not (platforms.text(person, f"跳到 {code}")
                    and platforms.text(person, str(score))):
                return
            person.scores.append((code, score))
            if chooser.random() < 0.15:
                content = picture(next(pictures))
                if not platforms.photo(person, content):
                    return
                person.pictures.append((code, hashlib.sha256(content).hexdigest()))

    threads = [threading.Thread(target=staff, args=(p, n)) for n, p in enumerate(people)]
    for thread in threads:
        thread.start()
    try:
        for _ in range(ROUNDS):
            time.sleep(rng.uniform(1.0, 3.0))
            server.kill()  # SIGKILL: whatever was in flight is lost, unless acknowledged
            time.sleep(rng.uniform(0.0, 1.0))
            server.start()
        time.sleep(1.0)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=300)
    assert not platforms.problems, platforms.problems[:5]

    # What was acknowledged is stored exactly once, in order, with its evidence.
    with database.transaction() as session:
        processed = session.exec(select(ProcessedEvent.event_id)).all()
        revisions = session.exec(select(AnswerRevision).where(
            AnswerRevision.field == "self_score").order_by(col(AnswerRevision.id))).all()
        attachments = session.exec(select(Attachment)).all()
        answers = {}
        for section in session.exec(select(Section)).all():
            assessment = session.exec(select(Assessment).where(
                Assessment.section_id == section.id)).first()
            if assessment is not None:
                for answer in session.exec(select(Answer).where(
                        Answer.assessment_id == assessment.id)).all():
                    answers[(section.name, answer.question_code)] = answer
    assert set(platforms.acknowledged) <= set(processed)
    assert len(processed) == len(set(processed))
    history: dict[int, list[str | None]] = {}
    for revision in revisions:
        history.setdefault(revision.answer_id, []).append(revision.new_value)
    for person in people:
        for code in {c for c, _ in person.scores}:
            sent = [s for c, s in person.scores if c == code]
            expected = [str(v) for i, v in enumerate(sent) if i == 0 or v != sent[i - 1]]
            answer = answers[(person.section, code)]
            assert history.get(answer.id or 0) == expected, (person.name, code)
    by_digest = collections.Counter(a.sha256 for a in attachments)
    evidence_dir = server.cwd / "data" / "evidence"
    for person in people:
        for code, digest in person.pictures:
            assert by_digest[digest] == 1, (person.name, code)  # stored once
            (stored,) = [a for a in attachments if a.sha256 == digest]
            assert stored.answer_id == answers[(person.section, code)].id
            assert stored.content is not None or any(evidence_dir.rglob(f"*{digest[:16]}*"))

    # Every section can still finish and submit.
    for section in SECTIONS:
        person = next(p for p in people if p.section == section)
        for question in RUBRIC.questions:
            answer = answers.get((section, question.code))
            if answer is None or answer.self_score is None:
                assert platforms.text(person, f"跳到 {question.code}")
                assert platforms.text(person, str(question.max // 2))
        for text in ("略過", "檢視", "送出", "確認"):
            assert platforms.text(person, text)

    def settled() -> bool:
        with database.transaction() as session:
            return not session.exec(select(OutboxMessage.id).where(
                OutboxMessage.status == "pending")).first()

    wait_until(settled, timeout=180, what="the outbox to drain")
    with database.transaction() as session:
        statuses = session.exec(select(Assessment.status)).all()
        failed = session.exec(select(OutboxMessage.id).where(
            OutboxMessage.status == "failed")).all()
    assert sorted(statuses) == ["submitted"] * len(SECTIONS), statuses
    assert not failed

    # Sent once: LINE strictly (retry keys); Telegram at most one double per kill.
    line_counts = collections.Counter(
        (to, text) for request in line.sent() if request.kind in ("push", "multicast")
        for to in request.delivered_to for text in [
            m.get("text") for m in request.messages] if text)
    telegram_counts = collections.Counter(
        (str(call.params.get("chat_id")), call.params.get("text"))
        for call in telegram.calls_to("sendMessage") if call.ok)
    for (channel, to), text in notices.items():
        counts = line_counts if channel == "line" else telegram_counts
        assert counts[(to, text)] >= 1, (channel, text)
    documents = collections.Counter(
        (str(call.params.get("chat_id")), name) for call in telegram.calls_to("sendDocument")
        for name in call.filenames.values())
    pictures_sent = collections.Counter(
        (str(call.params.get("chat_id")), name) for call in telegram.calls_to("sendPhoto")
        for name in call.filenames.values())
    for text, (to, name) in tables.items():
        assert telegram_counts[(to, text)] >= 1, text
        assert documents[(to, name)] >= 1, name
        assert pictures_sent[(to, name.replace("總表", "圖表").replace(".ods", ".png"))] >= 1
    # A part in flight at a kill may go twice; a failed file never repeats the text before.
    file_doubles = sum(n - 1 for n in [*documents.values(), *pictures_sent.values()] if n > 1)
    # Replies may repeat a text (the same question asked again); notices and reminders,
    # which all start with 【…】, never do.
    line_doubles = sum(n - 1 for (to, text), n in line_counts.items()
                       if n > 1 and text.startswith("【"))
    telegram_doubles = sum(n - 1 for (to, text), n in telegram_counts.items()
                           if n > 1 and text and text.startswith("【"))
    assert line_doubles == 0, [(text, n) for (to, text), n in line_counts.items()
                               if n > 1 and text.startswith("【")]
    assert telegram_doubles + file_doubles <= ROUNDS
    countdown = "【年度報告倒數】"
    assert sum(1 for (to, text) in line_counts.elements()
               if to == secretaries[0].line_id and countdown in text) == 1
    telegram_countdowns = sum(1 for (to, text) in telegram_counts.elements()
                              if to == str(secretaries[1].telegram_id) and text
                              and countdown in text)
    assert 1 <= telegram_countdowns <= 2
    server.kill()
    platforms.http.close()
    scores = sum(len(p.scores) for p in people)
    return (f"backend={database.backend} staff={STAFF} kills={ROUNDS} "
            f"events_acknowledged={len(platforms.acknowledged)} "
            f"redeliveries={platforms.redelivered} scores={scores} "
            f"pictures={sum(len(p.pictures) for p in people)} "
            f"lost=0 doubled=0 line_messages_doubled={line_doubles} "
            f"telegram_messages_doubled={telegram_doubles} "
            f"replies_with_files={TABLES} telegram_files_doubled={file_doubles}")
