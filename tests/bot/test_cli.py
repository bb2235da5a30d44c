"""The ``sqbot`` command, on both databases."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from docx import Document
from typer.testing import CliRunner

from bot.cli import app
from storage.migrate import head_revision

SHIPPED_RUBRIC = Path(__file__).resolve().parents[2] / "rubric" / "data" / "105.yaml"


@pytest.fixture
def run(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    for name in ("TELEGRAM_BOT_TOKEN", "LINE_CHANNEL_SECRET", "LINE_CHANNEL_ACCESS_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    runner = CliRunner()

    def invoke(*args, database_url=None):
        env = {"DATABASE_URL": database_url} if database_url else {}
        return runner.invoke(app, list(args), env=env)

    return invoke


def test_init_demo_then_invite(run, database_url):
    result = run("init", "--demo", database_url=database_url)
    assert result.exit_code == 0, result.output
    assert "經濟部水利署第十河川局：9 個課室" in result.output
    result = run("invite", "create", "--section", "規劃課", "--role", "承辦人", "--name", "王小明",
                 "--json", database_url=database_url)
    assert result.exit_code == 0, result.output
    invitation = json.loads(result.output)
    assert invitation["section"] == "規劃課"
    assert invitation["role"] == "staff"
    assert len(invitation["code"]) == 11 and invitation["code"][5] == "-"
    result = run("invite", "create", "--role", "secretariat", database_url=database_url)
    assert result.exit_code == 0, result.output
    assert "秘書室" in result.output and "限用一次" in result.output


def test_invite_errors_are_clear(run, database_url):
    assert run("init", "--demo", database_url=database_url).exit_code == 0
    result = run("invite", "create", "--section", "不存在課", "--role", "staff",
                 database_url=database_url)
    assert result.exit_code == 1
    assert "找不到課室「不存在課」" in result.output
    result = run("invite", "create", "--role", "boss", database_url=database_url)
    assert result.exit_code == 1
    assert "不認得的角色" in result.output
    result = run("invite", "create", "--role", "staff", database_url=database_url)
    assert "需要 --section" in result.output


def test_invite_on_unmigrated_database_says_what_to_run(run, empty_database_url):
    result = run("invite", "create", "--role", "admin", database_url=empty_database_url)
    assert result.exit_code == 1
    assert "sqbot db upgrade" in result.output


def test_db_upgrade_and_current(run, empty_database_url):
    assert run("db", "current", database_url=empty_database_url).exit_code == 1
    result = run("db", "upgrade", database_url=empty_database_url)
    assert result.exit_code == 0, result.output
    result = run("db", "current", database_url=empty_database_url)
    head = head_revision()
    assert result.exit_code == 0 and f"資料庫版本：{head}；程式需要：{head}" in result.output


def test_rubric_show_json_lists_codes_maxima_and_bands(run):
    result = run("rubric", "show", "--year", "105", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    questions = [q for item in data["items"] for q in item["questions"]]
    assert len(questions) == 25
    assert [item["max"] for item in data["items"]] == [280, 170, 150, 100, 100, 100, 100]
    phone = next(q for q in questions if q["code"] == "2.4")
    band = phone["bands"][0]
    assert band == {"min": 16, "max": 20, "label": "16-20分", "criteria": band["criteria"],
                    "criteria_lines": band["criteria"].splitlines(), "measure_min": 90}
    assert phone["measure"]["name"] == "電話禮貌測試分數"
    assert data["source"] == "rubric/data/105.yaml"
    assert data["facets"][0]["description"].startswith("優質便民服務著眼於提供便捷服務")
    first = data["items"][0]["indicators"][0]
    assert first["name"] == "服務流程便捷性及案件處理透明度"
    assert first["sub_indicators"][0]["name"] == "案件處理流程查詢公開及簡化流程程度"
    one = next(q for q in questions if q["code"] == "1.1")
    assert any(line.startswith("設置全功能單一窗口") for line in one["bands"][0]["criteria_lines"])


def test_rubric_show_text(run):
    result = run("rubric", "show")
    assert result.exit_code == 0
    out = result.output
    assert "【優質便民服務構面（600分）】" in out
    assert "2.4 電話禮貌測試績效（20分）" in out
    # Every line of every band: these once were lost (only a band's first line was shown).
    for line in ("設置全功能單一窗口", "雙語（或多語）標示服務", "通過無障礙檢測，並取得認證標章"):
        assert line in out
    assert "評核指標：服務流程便捷性及案件處理透明度（280分）" in out
    assert "次評核指標：案件處理流程查詢公開及簡化流程程度（180分）" in out
    assert "積極導入資通訊（ICT）服務包括如下：" in out  # a lead sentence
    assert "優質便民服務著眼於提供便捷服務" in out  # the facet's description


def test_rubric_show_for_a_year_without_its_own_form(run):
    result = run("rubric", "show", "--year", "115")
    assert result.exit_code == 0, result.output
    first = result.output.splitlines()[0]
    assert first == "115年度沒有專屬的評分表，沿用105年度的（rubric/data/105.yaml）。"


def test_rubric_check(run, tmp_path):
    result = run("rubric", "check", str(SHIPPED_RUBRIC))
    assert result.exit_code == 0
    assert "105 年度評分表正確" in result.output and "25 題" in result.output
    broken = tmp_path / "105.yaml"
    broken.write_text(SHIPPED_RUBRIC.read_text(encoding="utf-8").replace(
        "max: 280", "max: 290", 1), encoding="utf-8")
    result = run("rubric", "check", str(broken))
    assert result.exit_code == 1
    out = result.output
    assert out.startswith(f"評分表有誤：{broken} 的 facets[0].max：配分加總不符"
                          "（技術細節：items sum")
    assert "Traceback" not in out


def test_unknown_rubric_year(run):
    result = run("rubric", "show", "--year", "99")
    assert result.exit_code == 1
    assert "no rubric for year 99" in result.output


def test_bad_setting_stops_with_the_variable_named(run, monkeypatch):
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "changeme")
    result = run("init")
    assert result.exit_code == 2
    assert "TELEGRAM_BOT_TOKEN" in result.output


def test_installed_console_script(tmp_path):
    """The ``sqbot`` script the package installs runs on the embedded default database."""
    script = Path(sys.executable).parent / "sqbot"
    assert script.exists(), "pip install -e . should install the sqbot script"
    result = subprocess.run([str(script), "init", "--demo"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=120, env={"PATH": "/usr/bin:/bin"}, check=False)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "var" / "sqbot.db").exists()


def test_schedule_show_lists_the_year(run):
    result = run("schedule", "show", "--year", "115")
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.startswith("115年度提醒排程（Asia/Taipei）")
    assert "115年12月1日 09:00　自評開始" in out
    assert "115年12月18日 09:00　截止提醒（截止日）" in out
    assert "截止日為115年12月18日（今天截止）" in out
    assert "115年4月7日 09:00　每週進度（原訂115年4月6日，民族掃墓節（補假））" in out
    assert "【年度報告倒數】115年度提升服務品質績效總報告須於115年12月31日前陳報水利署" in out
    assert "對象：尚未送出課室的同仁與課室主管；秘書室另收未完成名單" in out


def test_schedule_show_follows_the_settings(run, monkeypatch):
    monkeypatch.setenv("EXTRA_CLOSED_DAYS", "2026-12-01")
    monkeypatch.setenv("REMINDER_TIME", "08:30")
    result = run("schedule", "show", "--year", "115", "--json")
    rows = json.loads(result.output)
    opening = next(r for r in rows if r["kind"] == "自評開始" and r["date"].startswith("2026-12"))
    assert (opening["date"], opening["time"]) == ("2026-12-02", "08:30")
    assert "機關休息日" in opening["moved"]


def test_schedule_show_writes_the_years_plan_as_a_calendar(run, database_url, tmp_path):
    from rubric.calendar import ScheduleConfig, WorkCalendar, plan_year
    from tests.reports.test_calendar_ics import events

    assert run("init", "--demo", database_url=database_url).exit_code == 0
    out = tmp_path / "115.ics"
    result = run("schedule", "show", "--year", "115", "--format", "ics", "--out", str(out),
                 database_url=database_url)
    assert result.exit_code == 0, result.output
    found = events(out.read_bytes())
    plan = plan_year(115, ScheduleConfig(), WorkCalendar())
    assert len(found) == len(plan)  # every reminder an event, on its working day
    opening = next(e for e in found if e["DTSTART;TZID=Asia/Taipei"] == "20261201T090000"
                   and e["SUMMARY"].startswith("自評開始"))
    assert opening["SUMMARY"] == "自評開始：各課室全體同仁"
    assert "請於115年12月18日前完成並送出" in opening["DESCRIPTION"]
    moved = run("schedule", "show", "--year", "115", "--format", "xml",
                database_url=database_url)
    assert moved.exit_code != 0 and "--format 只能是 text、json 或 ics" in moved.output


def test_the_follow_up_is_set_from_the_terminal_and_kept(run, database_url, tmp_path):
    assert run("init", "--demo", database_url=database_url).exit_code == 0
    out = tmp_path / "q.json"
    text = "考核結果已函送各課室提報改進情形。"
    args = ["report", "quarterly", "--year", "115", "--quarter", "4", "--format", "json",
            "--out", str(out)]
    result = run(*args, "--follow-up", text, database_url=database_url)
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text(encoding="utf-8"))["follow_up"] == text
    assert run(*args, database_url=database_url).exit_code == 0  # kept for the next time
    assert json.loads(out.read_text(encoding="utf-8"))["follow_up"] == text
    empty = run(*args, "--follow-up", "  ", database_url=database_url)
    assert empty.exit_code != 0 and "--follow-up 需為 1 到 500 字的處理情形" in empty.output


def test_the_quarterly_csv_opens_in_excel(run, database_url, tmp_path):
    """Excel reads a CSV without a byte-order mark as the local code page (Big5 here)."""
    assert run("init", "--demo", database_url=database_url).exit_code == 0
    out = tmp_path / "q.csv"
    result = run("report", "quarterly", "--year", "115", "--quarter", "4", "--format", "csv",
                 "--out", str(out), database_url=database_url)
    assert result.exit_code == 0, result.output
    data = out.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and "受考核單位名稱" in data.decode("utf-8-sig")


def test_report_quarterly_json_and_errors(run, database_url, tmp_path):
    assert run("init", "--demo", database_url=database_url).exit_code == 0
    out = tmp_path / "q.json"
    result = run("report", "quarterly", "--year", "115", "--quarter", "4", "--format", "json",
                 "--out", str(out), database_url=database_url)
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["title"].startswith("經濟部水利署第十河川局115年度第四季（10-12月）")
    assert {row["status"] for row in data["rows"]} == {"未送出"}
    result = run("report", "quarterly", "--year", "115", "--quarter", "4", "--format", "pdf",
                 database_url=database_url)
    assert result.exit_code == 1 and "不支援的格式 'pdf'" in result.output
    # A section that has not started gets its blank form, for the inspection on site.
    form = tmp_path / "f.docx"
    result = run("report", "form", "--section", "規劃課", "--year", "115", "--quarter", "4",
                 "--format", "docx", "--out", str(form), database_url=database_url)
    assert result.exit_code == 0, result.output
    assert "規劃課 115年第4季尚未開始自評：產生空白評分表" in result.output
    blank = Document(str(form))
    assert blank.paragraphs[0].text == \
        "經濟部水利署第十河川局115年度提升服務品質自行考核項目及評分表"
    assert "課室名稱：規劃課" in blank.paragraphs[1].text
    assert blank.tables[0].rows[2].cells[-1].text == "自評：\n\n審定：\n"
    result = run("report", "form", "--blank", "--year", "116", "--out", str(tmp_path / "b.odt"),
                 database_url=database_url)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "b.odt").read_bytes()[:2] == b"PK"
    result = run("report", "form", "--year", "115", database_url=database_url)
    assert result.exit_code == 1 and "請指定 --section 與 --quarter" in result.output
    result = run("report", "form", "--section", "不存在課", "--year", "115", "--quarter", "4",
                 database_url=database_url)
    assert result.exit_code == 1 and "找不到課室「不存在課」" in result.output
