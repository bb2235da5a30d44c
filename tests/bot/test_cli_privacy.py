"""``sqbot member forget`` and ``sqbot db backup`` / ``restore``, on both databases."""

from __future__ import annotations

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from bot.cli import app
from storage.db import Database
from storage.models import AuditEvent, ChatIdentity, Member
from tests.storage.test_privacy import fill_office


@pytest.fixture
def run(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    for name in ("TELEGRAM_BOT_TOKEN", "LINE_CHANNEL_SECRET", "LINE_CHANNEL_ACCESS_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    runner = CliRunner()

    def invoke(*args, database_url=None, input=None):
        env = {"DATABASE_URL": database_url} if database_url else {}
        return runner.invoke(app, list(args), env=env, input=input)

    return invoke


@pytest.fixture
def filled(database_url):
    database = Database.from_url(database_url)
    with database.transaction() as session:
        ids = fill_office(session)
    yield database, ids
    database.dispose()


def test_member_forget_asks_then_forgets(run, database_url, filled):
    database, ids = filled
    result = run("member", "forget", "王小明", database_url=database_url, input="n\n")
    assert result.exit_code == 1 and "已取消" in result.output
    with database.transaction() as session:
        assert session.get(Member, ids["wang"]).name == "王小明"

    result = run("member", "forget", "王小明", database_url=database_url, input="y\n")
    assert result.exit_code == 0, result.output
    assert f"現在顯示為「已刪除的同仁 #{ids['wang']}」" in result.output
    assert "聊天帳號 2 個" in result.output and "分數、答案與修改紀錄都保留" in result.output
    with database.transaction() as session:
        assert session.exec(select(ChatIdentity)
                            .where(ChatIdentity.member_id == ids["wang"])).all() == []
        event = session.exec(select(AuditEvent)
                             .where(AuditEvent.action == "member.forget")).one()
        assert event.detail["actor"].startswith("cli")


def test_member_forget_with_yes_and_unknown_names(run, database_url, filled):
    result = run("member", "forget", "王小明", "--yes", database_url=database_url)
    assert result.exit_code == 0, result.output
    result = run("member", "forget", "王小明", "--yes", database_url=database_url)
    assert result.exit_code == 1 and "找不到同仁「王小明」" in result.output
    result = run("member", "forget", "張無名", "--yes", database_url=database_url)
    assert result.exit_code == 1 and "找不到同仁「張無名」" in result.output
    result = run("member", "forget", "林課長", "--agency", "不存在局", "--yes",
                 database_url=database_url)
    assert result.exit_code == 1 and "找不到機關「不存在局」" in result.output


def test_db_backup_and_restore(run, database_url, filled, empty_database_url, tmp_path):
    path = tmp_path / "backup.jsonl.gz"
    result = run("db", "backup", str(path), database_url=database_url)
    assert result.exit_code == 0, result.output
    assert "已備份" in result.output and "DATA_DIR/evidence" in result.output

    result = run("db", "restore", str(path), "--yes", database_url=database_url)
    assert result.exit_code == 1 and "無法還原" in result.output and "not empty" in result.output

    result = run("db", "restore", str(path), "--yes", database_url=empty_database_url)
    assert result.exit_code == 1 and "sqbot db upgrade" in result.output
    assert run("db", "upgrade", database_url=empty_database_url).exit_code == 0
    result = run("db", "restore", str(path), database_url=empty_database_url, input="n\n")
    assert result.exit_code == 1 and "已取消" in result.output
    result = run("db", "restore", str(path), database_url=empty_database_url, input="y\n")
    assert result.exit_code == 0, result.output
    assert "已還原" in result.output
    result = run("member", "forget", "王小明", "--yes", database_url=empty_database_url)
    assert result.exit_code == 0, result.output


def test_db_restore_names_a_missing_file(run, database_url, tmp_path):
    result = run("db", "restore", str(tmp_path / "nope.gz"), "--yes", database_url=database_url)
    assert result.exit_code == 1 and "nope.gz" in result.output and "Traceback" not in result.output


def test_member_forget_puts_the_line_chat_back_on_the_default_menu(run, database_url, filled,
                                                                   monkeypatch):
    """Issue #17, item 1: a forgotten member is unlinked from their role's rich menu."""
    from tests.fakes.line_api import FakeLine

    with FakeLine() as fake:
        fake.rich_menus.menus["richmenu-staff"] = {"richMenuId": "richmenu-staff"}
        fake.rich_menus.links["U-wang"] = "richmenu-staff"
        monkeypatch.setenv("LINE_CHANNEL_SECRET", "0123456789abcdef0123456789abcdef")
        monkeypatch.setenv("LINE_CHANNEL_ACCESS_TOKEN", fake.access_token)
        monkeypatch.setenv("LINE_API_BASE_URL", fake.base_url)
        result = run("member", "forget", "王小明", "--yes", database_url=database_url)
        assert result.exit_code == 0, result.output
        assert "LINE 的圖文選單已改回預設" in result.output
        assert "U-wang" not in fake.rich_menus.links
        unlinks = [r for r in fake.requests if r.method == "DELETE"]
        assert [r.path for r in unlinks] == ["/v2/bot/user/U-wang/richmenu"]
