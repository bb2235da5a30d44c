"""``sqbot run`` as a real process against the fake platforms: a member goes from the first
contact to a submitted assessment."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from rubric import load_year
from tests.fakes import line_webhook as hook
from tests.fakes.line_api import FakeLine

# These tests start sqbot processes of their own: under xdist they share one worker.
pytestmark = pytest.mark.xdist_group("processes")
SQBOT = str(Path(sys.executable).parent / "sqbot")
LINE_SECRET = "0123456789abcdef0123456789abcdef"
RUBRIC = load_year(105)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(check, *, timeout=30.0, what=""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError(f"timed out: {what}")


@pytest.fixture
def environment(database_url, tmp_path):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path),
           "DATABASE_URL": database_url, "DATA_DIR": str(tmp_path / "data"),
           "PYTHONUNBUFFERED": "1"}
    subprocess.run([SQBOT, "init", "--demo"], env=env, cwd=tmp_path, check=True,
                   capture_output=True, timeout=120)
    return env


def invite(env, cwd, **options) -> str:
    args = [SQBOT, "invite", "create", "--json"]
    for name, value in options.items():
        args += [f"--{name}", value]
    made = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=120,
                          check=True)
    return json.loads(made.stdout)["code"]


class Running:
    """``sqbot run`` in the background, stopped with SIGTERM."""

    def __init__(self, env, cwd) -> None:
        self.port = free_port()
        # Output goes to a file: an unread pipe fills up and blocks the server's logging.
        self.log = Path(cwd) / "sqbot-run.log"
        self._log_file = self.log.open("w")
        self.proc = subprocess.Popen([SQBOT, "run", "--port", str(self.port)], env=env, cwd=cwd,
                                     stdout=self._log_file, stderr=subprocess.STDOUT, text=True)
        self.url = f"http://127.0.0.1:{self.port}"
        wait_until(self._healthy, what="sqbot run to answer /healthz")

    def _healthy(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"sqbot run exited: {self.log.read_text()}")
        try:
            return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> str:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=30)
        self._log_file.close()
        return self.log.read_text()


def test_run_serves_line_from_follow_to_submission(environment, tmp_path):
    with FakeLine() as fake:
        env = {**environment, "LINE_CHANNEL_SECRET": LINE_SECRET,
               "LINE_CHANNEL_ACCESS_TOKEN": fake.access_token, "LINE_API_BASE_URL": fake.base_url,
               "PUBLIC_BASE_URL": "https://sqbot.example.gov.tw"}
        code = invite(env, tmp_path, section="規劃課", role="staff", name="王小明")
        running = Running(env, tmp_path)
        user = hook.user_id("wang")
        try:
            # PUBLIC_BASE_URL turns the download route on: a forged link is refused (403).
            forged = httpx.get(f"{running.url}/files/{'a' * 64}/9999999999/{'0' * 32}/x.ods")
            assert forged.status_code == 403
            health = httpx.get(f"{running.url}/healthz").json()
            assert health == {"database": "ok", "telegram": "off", "line": "webhook",
                              "outbox": {"pending": 0, "oldest_seconds": None},
                              "pid": running.proc.pid, "scheduler": health["scheduler"]}
            assert health["scheduler"] in ("leading", "standby")

            def send(event):
                payload = hook.body(event)
                response = httpx.post(f"{running.url}/line/webhook", content=payload,
                                      headers=hook.headers(payload, LINE_SECRET), timeout=10)
                assert response.status_code == 200, response.text

            def text(words):
                send(hook.text_event(user, words, reply_token=fake.issue_reply_token(user)))

            send(hook.follow_event(user, reply_token=fake.issue_reply_token(user)))
            wait_until(lambda: any("邀請碼" in t for t in fake.texts_to(user)), what="greeting")
            text(code)
            text("填寫自評")
            for question in RUBRIC.questions:
                text(str(question.max // 2))  # a score moves on: 28 messages in all
            text("送出")
            text("確認")
            receipt = wait_until(lambda: next((t for t in fake.texts_to(user)
                                               if t.startswith("收件確認")), None),
                                 what="the receipt")
            assert "總分：" in receipt and "期別：115年第4季" in receipt
            # The running bot set its rich menus up: the default for strangers, the staff
            # menu for the member just bound.
            menus = fake.rich_menus
            wait_until(lambda: menus.default is not None and user in menus.links,
                       what="the rich menus")
            assert menus.name_of(menus.links[user]).startswith("sqbot-staff-")
            assert menus.name_of(menus.default).startswith("sqbot-guest-")
        finally:
            output = running.stop()
        assert running.proc.returncode == 0, output
        assert fake.access_token not in output and LINE_SECRET not in output
        assert "王小明" not in output and user not in output  # no personal data in the log


def test_run_serves_telegram_by_polling_from_start_to_submission(environment, tmp_path):
    from tests.fakes.telegram_api import FakeTelegram

    token = "987654:" + "B" * 35
    with FakeTelegram(token) as fake:
        env = {**environment, "TELEGRAM_BOT_TOKEN": token,
               "TELEGRAM_API_BASE_URL": fake.base_url, "LOG_LEVEL": "DEBUG"}
        code = invite(env, tmp_path, section="工務課", role="staff", name="趙工程師")
        running = Running(env, tmp_path)
        user = 8080
        try:
            assert httpx.get(f"{running.url}/healthz").json()["telegram"] == "polling"
            fake.user_text(user, f"/start {code.replace('-', '')}")
            wait_until(lambda: any("綁定完成" in t for t in fake.sent_texts(user)),
                       what="binding")
            fake.user_text(user, "填寫自評")
            for question in RUBRIC.questions:
                fake.user_text(user, str(question.max))
            fake.user_text(user, "送出")
            fake.user_text(user, "確認")
            receipt = wait_until(lambda: next((t for t in fake.sent_texts(user)
                                               if t.startswith("收件確認")), None),
                                 timeout=60, what="the receipt")
            assert "總分：1000 分" in receipt and "等第：優" in receipt
            assert fake.calls_to("setMyCommands")
        finally:
            output = running.stop()
        assert running.proc.returncode == 0, output
        assert token not in output  # not even at DEBUG, where httpx would log request URLs
        # Nor names or chat ids, which python-telegram-bot logs with every call at DEBUG.
        assert "趙工程師" not in output and str(user) not in output


def test_telegram_down_at_boot_does_not_keep_sqbot_down(environment, tmp_path):
    """Telegram refuses connections while sqbot starts: the server comes up anyway (LINE and
    the outbox must not wait for Telegram), and Telegram is started once it answers."""
    from tests.fakes.chaos import ChaosProxy
    from tests.fakes.telegram_api import FakeTelegram

    token = "555555:" + "C" * 35
    with FakeTelegram(token) as fake, ChaosProxy("127.0.0.1", fake.port) as proxy:
        proxy.set_mode("refuse")
        env = {**environment, "TELEGRAM_BOT_TOKEN": token,
               "TELEGRAM_API_BASE_URL": fake.base_url.replace(str(fake.port), str(proxy.port))}
        code = invite(env, tmp_path, section="工務課", role="staff", name="錢工程師")
        running = Running(env, tmp_path)  # waits for /healthz: up without Telegram
        user = 8181
        try:
            wait_until(lambda: "Telegram not reachable at start-up" in running.log.read_text(),
                       what="the start-up attempt to fail")
            assert not fake.calls_to("getUpdates")
            proxy.set_mode("pass")
            fake.user_text(user, f"/start {code.replace('-', '')}")
            wait_until(lambda: any("綁定完成" in t for t in fake.sent_texts(user)),
                       timeout=60, what="binding once Telegram answers")
        finally:
            output = running.stop()
        assert running.proc.returncode == 0, output
