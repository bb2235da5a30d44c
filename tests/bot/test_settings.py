"""Settings: defaults, .env, and start-up errors that name the variable but not the secret."""

from datetime import date

import pytest

from bot.settings import SettingsError, load_settings

TELEGRAM_TOKEN = "123456789:" + "A" * 35
LINE_SECRET = "0123456789abcdef" * 2
LINE_TOKEN = "x" * 10 + "Yz+/" * 40 + "="


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path):
    for name in ("DATABASE_URL", "TELEGRAM_BOT_TOKEN", "LINE_CHANNEL_SECRET",
                 "LINE_CHANNEL_ACCESS_TOKEN", "PORT", "TIMEZONE", "NUDGE_DAYS_BEFORE_DUE",
                 "LOG_LEVEL", "TELEGRAM_API_BASE_URL", "LINE_API_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def test_defaults_follow_the_seed():
    settings = load_settings(None)
    assert settings.database_url == "sqlite:///var/sqbot.db"
    assert settings.timezone == "Asia/Taipei"
    assert settings.nudge_days_before_due == [7, 3, 1, 0]
    assert settings.report_countdown == ["12-01", "12-15", "12-24", "12-30"]
    assert settings.q4_due_on == "12-20"
    assert not settings.telegram_enabled and not settings.line_enabled


def test_environment_and_dotenv(monkeypatch, tmp_path):
    (tmp_path / ".env").write_text(
        f"TELEGRAM_BOT_TOKEN={TELEGRAM_TOKEN}\nNUDGE_DAYS_BEFORE_DUE=1, 7\n"
        "EXTRA_CLOSED_DAYS=2026-12-24\n", encoding="utf-8")
    monkeypatch.setenv("LINE_CHANNEL_SECRET", LINE_SECRET)
    monkeypatch.setenv("LINE_CHANNEL_ACCESS_TOKEN", LINE_TOKEN)
    monkeypatch.setenv("TELEGRAM_API_BASE_URL", "http://127.0.0.1:8081/bot/")
    settings = load_settings()
    assert settings.telegram_enabled and settings.line_enabled
    assert settings.nudge_days_before_due == [7, 1]
    assert settings.extra_closed_days == [date(2026, 12, 24)]
    assert settings.telegram_api_base_url == "http://127.0.0.1:8081/bot"
    assert TELEGRAM_TOKEN not in repr(settings)
    assert sorted(settings.secret_values()) == sorted([TELEGRAM_TOKEN, LINE_SECRET, LINE_TOKEN])


def test_empty_secret_turns_the_channel_off(monkeypatch):
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "  ")
    assert load_settings(None).telegram_bot_token is None


@pytest.mark.parametrize(
    ("variable", "value", "words"),
    [
        ("TELEGRAM_BOT_TOKEN", "changeme", "placeholder"),
        ("TELEGRAM_BOT_TOKEN", "<your-token>", "placeholder"),
        ("TELEGRAM_BOT_TOKEN", "12345:short-secret-value", "格式不符"),
        ("LINE_CHANNEL_SECRET", "not-hex-but-a-secret-of-32-chars", "格式不符"),
        ("LINE_CHANNEL_ACCESS_TOKEN", "your_token", "placeholder"),
        ("DATABASE_URL", "mysql://root:pw-secret-9@h/db", "SQLite and PostgreSQL"),
        ("PORT", "eighty", "integer"),
        ("TIMEZONE", "Asia/Taipie", "時區"),
        ("LOG_LEVEL", "LOUD", "DEBUG"),
        ("NUDGE_DAYS_BEFORE_DUE", "7,three", "逗號分隔"),
        ("PUBLIC_BASE_URL", "http://sqbot.example.gov.tw", "LINE 只接受 HTTPS"),
        ("WORKERS", "0", "greater than or equal to 1"),
        ("Q4_DUE_ON", "12-32", "不是有效的月-日"),
        ("REPORT_COUNTDOWN", "12/01", "月-日"),
        ("REMINDER_TIME", "9am", "24 小時制"),
        ("EXTRA_CLOSED_DAYS", "115/12/24", "西元日期"),
        ("TELEGRAM_API_BASE_URL", "127.0.0.1:8081", "http://"),
    ],
)
def test_malformed_value_names_the_variable_and_hides_it(monkeypatch, variable, value, words):
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as info:
        load_settings(None)
    assert list(info.value.problems) == [variable]
    message = str(info.value)
    assert variable in message
    assert words in message
    if variable in ("TELEGRAM_BOT_TOKEN", "LINE_CHANNEL_SECRET", "LINE_CHANNEL_ACCESS_TOKEN",
                    "DATABASE_URL"):
        assert value not in message
        assert "pw-secret-9" not in message


def test_every_bad_variable_is_reported_at_once(monkeypatch):
    monkeypatch.setenv("PORT", "0")
    monkeypatch.setenv("TIMEZONE", "Mars/Olympus")
    with pytest.raises(SettingsError) as info:
        load_settings(None)
    assert set(info.value.problems) == {"PORT", "TIMEZONE"}
