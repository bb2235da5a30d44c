"""The console chat as a separate process: scripted, killed mid-assessment, restarted."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from sqlmodel import select

from storage.db import Database
from storage.models import Answer

SQBOT = str(Path(sys.executable).parent / "sqbot")


class Process:
    """``sqbot chat`` with a pipe for input and a reader thread for its output."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path) -> None:
        self.proc = subprocess.Popen([SQBOT, *args], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, env=env, cwd=cwd, bufsize=1)
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen = ""
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)

    def send(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()

    def wait_for(self, needle: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while needle not in self.seen:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"never saw {needle!r}; output so far:\n{self.seen}"
            try:
                self.seen += self.lines.get(timeout=remaining)
            except queue.Empty:
                continue
        return self.seen

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)


def _env(database_url: str, tmp_path: Path) -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "DATABASE_URL": database_url,
            "DATA_DIR": str(tmp_path / "data"), "PYTHONUNBUFFERED": "1", "HOME": str(tmp_path)}


def test_killed_mid_assessment_continues_at_the_same_question(database_url, tmp_path):
    env = _env(database_url, tmp_path)
    subprocess.run([SQBOT, "init", "--demo"], env=env, cwd=tmp_path, check=True,
                   capture_output=True, timeout=120)
    first = Process(["chat", "--as", "王小明"], env, tmp_path)
    first.send("填寫自評")
    first.wait_for("第 1/25 題")
    first.send("100")
    first.wait_for("已記錄 1.1")
    first.wait_for("第 2/25 題")
    first.send("50")
    first.wait_for("已記錄 1.2")
    first.kill()  # SIGKILL: no clean shutdown, nothing flushed on the way out

    second = Process(["chat", "--as", "王小明"], env, tmp_path)
    second.send("填寫自評")
    output = second.wait_for("第 3/25 題")
    assert "已作答 2/25 題" in output
    second.send("80")
    second.wait_for("已記錄 1.3")
    second.send("/quit")
    assert second.proc.wait(timeout=30) == 0

    database = Database.from_url(database_url)
    with database.transaction() as session:
        answers = {a.question_code: a.self_score for a in session.exec(select(Answer)).all()}
    database.dispose()
    assert answers == {"1.1": 100, "1.2": 50, "1.3": 80}


def test_scripted_console_reads_lines_and_numbers_choices(database_url, tmp_path):
    env = _env(database_url, tmp_path)
    subprocess.run([SQBOT, "init", "--demo"], env=env, cwd=tmp_path, check=True,
                   capture_output=True, timeout=120)
    evidence = tmp_path / "照片.png"
    evidence.write_bytes(b"\x89PNG\r\n\x1a\n demo")
    script = "\n".join(["#1", "填寫自評", "#9", "#1", "#1", f"/file {evidence}",
                        "/file /no/such/file.pdf", "檢視", ""])
    result = subprocess.run([SQBOT, "chat", "--as", "王小明"], input=script, env=env,
                            cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "（目前沒有可選的選項）" in out
    assert "  [1] 81-120分" in out
    assert "（沒有第 9 個選項，請輸入 #1 到 #8）" in out
    assert "請選擇 81 到 120 之間的分數" in out
    assert "已記錄 1.1 提供案件承辦資訊種類：120 分" in out
    assert "已收到照片「照片.png」" in out
    assert "（無法讀取檔案 /no/such/file.pdf" in out
    assert "1.1 提供案件承辦資訊種類：120 分（王小明，檔案 1 件）" in out


def test_chat_needs_exactly_one_identity(tmp_path):
    result = subprocess.run([SQBOT, "chat"], capture_output=True, text=True, cwd=tmp_path,
                            timeout=60, env={"PATH": os.environ.get("PATH", "")})
    assert result.returncode == 1
    assert "sqbot chat --as 王小明" in result.stderr


def test_unbound_console_identity_onboards_with_a_code(database_url, tmp_path):
    env = _env(database_url, tmp_path)
    subprocess.run([SQBOT, "init", "--demo"], env=env, cwd=tmp_path, check=True,
                   capture_output=True, timeout=120)
    made = subprocess.run([SQBOT, "invite", "create", "--section", "工務課", "--role", "staff",
                           "--name", "趙工程師", "--json"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, check=True)
    import json

    code = json.loads(made.stdout)["code"]
    result = subprocess.run([SQBOT, "chat", "--identity", "kiosk-1"], input=f"嗨\n{code}\n",
                            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert "請輸入秘書室提供的邀請碼" in result.stdout
    assert "綁定完成！趙工程師您好" in result.stdout
    assert "工務課・承辦人" in result.stdout


def test_console_group_mode_binds_and_saves_the_secretariat_files(database_url, tmp_path):
    env = _env(database_url, tmp_path)
    subprocess.run([SQBOT, "init", "--demo"], env=env, cwd=tmp_path, check=True,
                   capture_output=True, timeout=120)
    made = subprocess.run([SQBOT, "invite", "create", "--role", "secretariat", "--json"],
                          env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          check=True)
    import json

    code = json.loads(made.stdout)["code"]
    result = subprocess.run(
        [SQBOT, "chat", "--as", "陳秘書", "--group", "secretariat", "--save-files",
         str(tmp_path / "files")], input=f"大家好\n/bind {code}\n總表 115年第4季\n", env=env,
        cwd=tmp_path, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    assert "本群組已綁定為「經濟部水利署第十河川局」秘書室群組" in result.stdout
    assert "1. 秘書室：未送出" in result.stdout
    saved = sorted(p.suffix for p in (tmp_path / "files").iterdir())
    assert saved == [".ods", ".png", ".xlsx"]


def test_a_submission_held_for_the_secretariat_reaches_it_in_the_console(database_url,
                                                                          tmp_path):
    """In the demo nobody of the secretariat has a chat until 陳秘書 opens the console: the
    【自評送出】 notice is held until then, then shown to her with its 開始審定 button."""
    env = _env(database_url, tmp_path)
    subprocess.run([SQBOT, "init", "--demo"], env=env, cwd=tmp_path, check=True,
                   capture_output=True, timeout=120)
    from rubric import load_year

    scores = [str(q.max) for q in load_year(105).questions]
    script = "\n".join(["填寫自評", *scores, "送出", "確認", ""])
    staff = subprocess.run([SQBOT, "chat", "--as", "王小明"], input=script, env=env,
                           cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert "收件確認" in staff.stdout, staff.stdout[-2000:]
    import re

    secretary = Process(["chat", "--as", "陳秘書"], env, tmp_path)
    try:
        secretary.send("選單")
        seen = secretary.wait_for("開始審定")
        assert "【自評送出】規劃課 115年第4季" in seen
        # The menu's buttons, then the notice's, numbered on: #N presses its 開始審定.
        number = re.search(r"\[(\d+)\] 開始審定", seen)
        assert number is not None, seen
        secretary.send(f"#{number.group(1)}")
        secretary.wait_for("開始審定 規劃課 115年第4季 自評")
    finally:
        secretary.kill()
