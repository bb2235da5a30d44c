"""The one Settings object: read once at start-up from the environment and ``.env``.

Nothing else in sqbot reads ``os.environ``. A malformed value stops start-up with a
:class:`SettingsError` naming the variable; secret values never appear in its message.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from storage.db import DEFAULT_URL, normalize_url
from storage.errors import DatabaseConfigError

_PLACEHOLDERS = re.compile(
    r"^(?:<.*>|x+|changeme|change-me|replace-?me|todo|your[-_ ].*|placeholder|secret|token)$",
    re.IGNORECASE,
)
_TELEGRAM_TOKEN = re.compile(r"^\d{3,}:[A-Za-z0-9_-]{30,}$")
_LINE_SECRET = re.compile(r"^[0-9a-f]{32}$")
_LINE_TOKEN = re.compile(r"^[A-Za-z0-9+/=._-]{40,}$")
_MONTH_DAY = re.compile(r"^(\d{1,2})-(\d{1,2})$")
_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


class SettingsError(Exception):
    """Settings cannot be used; ``problems`` maps each variable at fault to what is wrong."""

    def __init__(self, problems: dict[str, str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  {name}: {problem}" for name, problem in problems.items())
        super().__init__(f"設定有誤，sqbot 無法啟動：\n{lines}")


def _split_list(value: Any) -> Any:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def _secret(value: Any, *, pattern: re.Pattern[str], what: str) -> Any:
    """Empty → None (that channel is off); a placeholder or malformed value is an error."""
    raw = value.get_secret_value() if isinstance(value, SecretStr) else value
    if raw is None:
        return None
    raw = str(raw).strip()
    if not raw:
        return None
    if _PLACEHOLDERS.match(raw):
        raise ValueError(f"仍是範例值（placeholder）；請填入{what}，或留空以停用此頻道")
    if not pattern.match(raw):
        raise ValueError(f"格式不符，不像是{what}")
    return SecretStr(raw)


class Settings(BaseSettings):
    """Every setting of sqbot. Variable names are the upper-case field names."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False,
        hide_input_in_errors=True,
    )

    database_url: str = DEFAULT_URL
    data_dir: Path = Path("var")
    timezone: str = "Asia/Taipei"
    log_level: str = "INFO"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=32, description="sqbot run's worker processes")
    agency: str | None = Field(default=None, description="agency served when there are several")
    http_read_timeout: float = Field(
        default=10.0, gt=0, le=10, description="seconds a request may take to arrive whole")
    http_max_connections: int = Field(
        default=200, ge=1, le=10000, description="open connections and requests before 503")

    telegram_bot_token: SecretStr | None = None
    telegram_api_base_url: str | None = None
    telegram_webhook_url: str | None = None
    line_channel_secret: SecretStr | None = None
    line_channel_access_token: SecretStr | None = None
    line_api_base_url: str | None = None
    evidence_max_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)
    public_base_url: str | None = Field(
        default=None, description="sqbot's public HTTPS address, for LINE download links")
    file_link_days: int = Field(default=7, ge=1, le=90)

    # The calendar (defaults follow the seed: four rounds a year, the report due 12/31).
    assessment_window_days: int = Field(default=14, ge=1, le=60)
    q4_opens_on: str = "12-01"
    q4_due_on: str = "12-20"
    nudge_days_before_due: Annotated[list[int], NoDecode] = [7, 3, 1, 0]
    report_countdown: Annotated[list[str], NoDecode] = ["12-01", "12-15", "12-24", "12-30"]
    reminder_time: str = "09:00"
    scheduler_check_seconds: int = Field(default=60, ge=1, le=3600)
    extra_closed_days: Annotated[list[date], NoDecode] = []
    extra_working_days: Annotated[list[date], NoDecode] = []

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        try:
            normalize_url(value)
        except DatabaseConfigError as exc:
            raise ValueError(str(exc).removeprefix("DATABASE_URL ")) from None
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("不是已知的時區名稱（例如 Asia/Taipei）") from None
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("應為 DEBUG、INFO、WARNING、ERROR 或 CRITICAL")
        return level

    @field_validator("telegram_bot_token", mode="before")
    @classmethod
    def _telegram_token(cls, value: Any) -> Any:
        return _secret(value, pattern=_TELEGRAM_TOKEN,
                       what=" BotFather 給的 bot token（123456:ABC…）")

    @field_validator("line_channel_secret", mode="before")
    @classmethod
    def _line_secret(cls, value: Any) -> Any:
        return _secret(value, pattern=_LINE_SECRET,
                       what=" LINE Channel secret（32 個十六進位字元）")

    @field_validator("line_channel_access_token", mode="before")
    @classmethod
    def _line_token(cls, value: Any) -> Any:
        return _secret(value, pattern=_LINE_TOKEN, what=" LINE Channel access token（長效型）")

    @field_validator("telegram_api_base_url", "line_api_base_url", "telegram_webhook_url",
                     mode="before")
    @classmethod
    def _base_url(cls, value: Any) -> Any:
        if value is None or not str(value).strip():
            return None
        text = str(value).strip()
        if not re.match(r"^https?://[^\s/]+", text):
            raise ValueError("應為 http:// 或 https:// 開頭的網址")
        return text.rstrip("/")

    @field_validator("q4_opens_on", "q4_due_on")
    @classmethod
    def _month_day(cls, value: str) -> str:
        return _check_month_day(value)

    @field_validator("nudge_days_before_due", mode="before")
    @classmethod
    def _nudges(cls, value: Any) -> Any:
        days = _split_list(value)
        try:
            numbers = sorted({int(day) for day in days}, reverse=True)
        except (TypeError, ValueError):
            raise ValueError("應為以逗號分隔的天數，例如 7,3,1,0") from None
        if any(day < 0 or day > 60 for day in numbers):
            raise ValueError("天數應介於 0 到 60 之間")
        return numbers

    @field_validator("report_countdown", mode="before")
    @classmethod
    def _countdown(cls, value: Any) -> Any:
        return sorted(_check_month_day(day) for day in _split_list(value))

    @field_validator("extra_closed_days", "extra_working_days", mode="before")
    @classmethod
    def _dates(cls, value: Any) -> Any:
        days = _split_list(value)
        try:
            return [date.fromisoformat(str(day)) for day in days]
        except ValueError:
            raise ValueError("應為以逗號分隔的西元日期，例如 2026-12-24,2026-12-26") from None

    @field_validator("public_base_url", mode="before")
    @classmethod
    def _public_url(cls, value: Any) -> Any:
        if value is None or not str(value).strip():
            return None
        text = str(value).strip().rstrip("/")
        if not re.match(r"^https://[^\s/]+(/[^\s]*)?$", text):
            raise ValueError("應為 https:// 開頭的對外網址（LINE 只接受 HTTPS），"
                             "例如 https://sqbot.example.gov.tw")
        return text

    @field_validator("reminder_time")
    @classmethod
    def _clock(cls, value: str) -> str:
        if not _CLOCK.match(value.strip()):
            raise ValueError("應為 24 小時制時間，例如 09:00")
        return value.strip()

    @property
    def telegram_enabled(self) -> bool:
        """Whether a Telegram bot token is configured."""
        return self.telegram_bot_token is not None

    @property
    def line_enabled(self) -> bool:
        """Whether both LINE credentials are configured."""
        return self.line_channel_secret is not None and self.line_channel_access_token is not None

    def secret_values(self) -> list[str]:
        """The configured secrets, for the log filter that redacts them."""
        secrets = [self.telegram_bot_token, self.line_channel_secret,
                   self.line_channel_access_token]
        return [s.get_secret_value() for s in secrets if s is not None]


def _check_month_day(value: str) -> str:
    match = _MONTH_DAY.match(str(value).strip())
    if not match:
        raise ValueError("應為「月-日」，例如 12-20")
    month, day = int(match.group(1)), int(match.group(2))
    try:
        date(2024, month, day)  # a leap year, so 02-29 is accepted
    except ValueError:
        raise ValueError(f"{value} 不是有效的月-日") from None
    return f"{month:02d}-{day:02d}"


def load_settings(env_file: str | Path | None = ".env", **overrides: Any) -> Settings:
    """Read and validate the settings; SettingsError names every variable at fault."""
    try:
        return Settings(_env_file=env_file, **overrides)  # type: ignore[call-arg]
    except ValidationError as exc:
        problems: dict[str, str] = {}
        for error in exc.errors():
            name = str(error["loc"][0]).upper() if error["loc"] else "SETTINGS"
            message = str(error["msg"]).removeprefix("Value error, ")
            problems.setdefault(name, message)
        raise SettingsError(problems) from None
    except DatabaseConfigError as exc:  # pragma: no cover - validated above
        raise SettingsError({"DATABASE_URL": str(exc)}) from None
