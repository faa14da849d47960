"""Typed settings from a TOML file, with `HELPDESK_<SECTION>_<KEY>` environment overrides.

Every key is documented in `config.example.toml`. A wrong key, type or value raises
`ConfigError` with one line naming the file, the key and what was expected.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import types
import typing
from dataclasses import dataclass, field
from datetime import date, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.faq.matcher import MatchSettings

REPO_FAQ_DIR = Path(__file__).resolve().parent.parent / "faq"
SHORTCUT_ENV = {  # the documented short names for the secrets
    "HELPDESK_TELEGRAM_TOKEN": ("telegram", "token"),
    "HELPDESK_DATABASE_URL": ("database", "url"),
    "HELPDESK_WEB_SECRET": ("web", "secret_key"),
    "HELPDESK_WEBHOOK_SECRET": ("telegram", "webhook_secret"),
}


class ConfigError(Exception):
    """A configuration problem, already phrased as one line for the operator."""


class InvalidValue(ValueError):
    """Raised by a section's validation: which key is wrong and what it expects."""

    def __init__(self, key: str, expected: str):
        self.key, self.expected = key, expected
        super().__init__(f"{key}: {expected}")


@dataclass(frozen=True)
class GeneralSettings:
    data_dir: str = "data"
    log_level: str = "INFO"

    def __post_init__(self) -> None:
        if self.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise InvalidValue("log_level", "one of DEBUG, INFO, WARNING, ERROR")


@dataclass(frozen=True)
class DatabaseSettings:
    url: str = ""  # empty: sqlite+aiosqlite:///<data_dir>/helpdesk.db
    pool_size: int = 5
    echo: bool = False

    def __post_init__(self) -> None:
        if self.url and not self.url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise InvalidValue("url", "a URL starting with sqlite+aiosqlite:// or postgresql+asyncpg://")
        if not 1 <= self.pool_size <= 100:
            raise InvalidValue("pool_size", "an integer between 1 and 100")


@dataclass(frozen=True)
class FaqSettings:
    dir: str = ""  # empty: the FAQ bundled with the project
    watch: bool = True
    watch_interval: float = 2.0

    def __post_init__(self) -> None:
        if self.watch_interval <= 0:
            raise InvalidValue("watch_interval", "a number of seconds above 0")


@dataclass(frozen=True)
class WebSettings:
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = 8080
    secret_key: str = ""  # empty: generated once and kept in <data_dir>/web_secret
    public_url: str = ""
    max_message_chars: int = 4000
    max_body_bytes: int = 1_048_576
    login_attempts: int = 5
    login_window_minutes: int = 15
    session_hours: int = 12

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise InvalidValue("port", "an integer between 0 and 65535")
        if self.secret_key and len(self.secret_key) < 32:
            raise InvalidValue("secret_key", "at least 32 characters")
        if not 1 <= self.max_message_chars <= 100_000:
            raise InvalidValue("max_message_chars", "an integer between 1 and 100000")


@dataclass(frozen=True)
class TelegramSettings:
    token: str = field(default="", repr=False)
    mode: str = "polling"
    base_url: str = "https://api.telegram.org/bot"
    base_file_url: str = "https://api.telegram.org/file/bot"
    webhook_url: str = ""
    webhook_path: str = "/telegram/webhook"
    webhook_secret: str = field(default="", repr=False)
    staff_chat_id: int = 0
    admin_chat_id: int = 0
    staff_user_ids: list[int] = field(default_factory=list)
    admin_user_ids: list[int] = field(default_factory=list)
    staff_group_members: bool = False
    use_topics: bool = False
    rate_limit: bool = True
    flood_messages: int = 8
    flood_window_seconds: int = 30
    delay_notice_seconds: int = 10

    def __post_init__(self) -> None:
        if not 0 <= self.delay_notice_seconds <= 3600:
            raise InvalidValue("delay_notice_seconds", "an integer between 0 (off) and 3600")
        if self.mode not in ("polling", "webhook"):
            raise InvalidValue("mode", "'polling' or 'webhook'")
        if self.mode == "webhook" and self.token and not (self.webhook_url and self.webhook_secret):
            raise InvalidValue("webhook_url", "a URL and a webhook_secret, since mode is 'webhook'")


@dataclass(frozen=True)
class QueueSettings:
    timezone: str = "Asia/Shanghai"
    workdays: list[int] = field(default_factory=lambda: [1, 2, 3, 4, 5])
    opens: time = time(9, 0)
    closes: time = time(17, 30)
    holidays: list[date] = field(default_factory=list)
    remind_unclaimed_minutes: int = 30
    alert_admin_unclaimed_minutes: int = 120
    remind_unanswered_minutes: int = 60
    alert_admin_unanswered_minutes: int = 240
    retention_days: int = 365
    outbox_max_attempts: int = 12

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise InvalidValue("timezone", "an IANA time zone such as Asia/Shanghai") from exc
        if not self.workdays or any(not 1 <= d <= 7 for d in self.workdays):
            raise InvalidValue("workdays", "a list of ISO weekdays, 1 (Monday) to 7 (Sunday)")
        if self.opens >= self.closes:
            raise InvalidValue("opens", "a time earlier than queue.closes")
        for name in ("remind_unclaimed_minutes", "alert_admin_unclaimed_minutes",
                     "remind_unanswered_minutes", "alert_admin_unanswered_minutes",
                     "retention_days", "outbox_max_attempts"):
            if getattr(self, name) < 1:
                raise InvalidValue(name, "an integer of at least 1")


@dataclass(frozen=True)
class Settings:
    general: GeneralSettings = field(default_factory=GeneralSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    faq: FaqSettings = field(default_factory=FaqSettings)
    matcher: MatchSettings = field(default_factory=MatchSettings)
    web: WebSettings = field(default_factory=WebSettings)
    telegram: TelegramSettings = field(default_factory=TelegramSettings)
    queue: QueueSettings = field(default_factory=QueueSettings)
    source: str = "defaults"

    @property
    def data_path(self) -> Path:
        return Path(self.general.data_dir)

    @property
    def database_url(self) -> str:
        return self.database.url or f"sqlite+aiosqlite:///{self.data_path / 'helpdesk.db'}"

    @property
    def faq_path(self) -> Path:
        return Path(self.faq.dir) if self.faq.dir else REPO_FAQ_DIR

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.queue.timezone)


def load_settings(path: str | os.PathLike[str] | None = None, env: typing.Mapping[str, str] | None = None) -> Settings:
    """Read the TOML file (if any), apply environment overrides, validate everything."""
    env = os.environ if env is None else env
    if path is None:
        path = env.get("HELPDESK_CONFIG") or ("config.toml" if Path("config.toml").exists() else None)
    raw: dict[str, Any] = {}
    source = "defaults"
    if path is not None:
        source = str(path)
        try:
            with open(path, "rb") as fh:
                raw = tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError(f"{source}: file not found") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    overrides = _env_overrides(env)
    return _build(Settings, raw, overrides, source)


def _env_overrides(env: typing.Mapping[str, str]) -> dict[tuple[str, str], str]:
    sections = {f.name: f.type for f in dataclasses.fields(Settings) if f.name != "source"}
    result: dict[tuple[str, str], str] = {}
    for name, value in env.items():
        if name in SHORTCUT_ENV:
            result[SHORTCUT_ENV[name]] = value
            continue
        if not name.startswith("HELPDESK_") or name == "HELPDESK_CONFIG":
            continue
        rest = name[len("HELPDESK_"):].lower()
        for section in sections:
            if rest.startswith(section + "_"):
                result[(section, rest[len(section) + 1:])] = value
    return result


def _build(cls: type[Settings], raw: dict[str, Any], overrides: dict[tuple[str, str], str], source: str) -> Settings:
    hints = typing.get_type_hints(cls)
    sections: dict[str, Any] = {}
    for key in raw:
        if key not in hints or key == "source":
            raise ConfigError(f"{source}: unknown section [{key}] (expected one of {', '.join(_section_names())})")
    for name in _section_names():
        table = raw.get(name, {})
        if not isinstance(table, dict):
            raise ConfigError(f"{source}: [{name}] must be a table")
        section_env = {k: v for (s, k), v in overrides.items() if s == name}
        sections[name] = _build_section(hints[name], name, table, section_env, source)
    return cls(**sections, source=source)


def _section_names() -> list[str]:
    return [f.name for f in dataclasses.fields(Settings) if f.name != "source"]


def _build_section(cls: type, section: str, table: dict[str, Any], env: dict[str, str], source: str) -> Any:
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key not in hints:
            raise ConfigError(f"{source}: unknown key {section}.{key} (expected one of {', '.join(hints)})")
        values[key] = _convert(value, hints[key], f"{source}: {section}.{key}")
    for key, text in env.items():
        if key not in hints:
            var = f"HELPDESK_{section.upper()}_{key.upper()}"
            raise ConfigError(f"environment: unknown setting {var} (no key {section}.{key})")
        values[key] = _convert(_parse_env(text, hints[key]), hints[key], f"environment: {section}.{key}")
    try:
        return cls(**values)
    except InvalidValue as exc:
        where = "environment" if exc.key in env else source
        raise ConfigError(f"{where}: {section}.{exc.key}: expected {exc.expected}, got {values.get(exc.key)!r}") from None
    except ValueError as exc:
        raise ConfigError(f"{source}: [{section}]: {exc}") from None


def _parse_env(text: str, hint: Any) -> Any:
    origin = typing.get_origin(hint)
    if origin is list:
        return [t.strip() for t in text.split(",") if t.strip()]
    if hint is bool:
        return text
    return text


def _convert(value: Any, hint: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
        origin = typing.get_origin(hint)
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list, got {type(value).__name__}")
        (item,) = typing.get_args(hint)
        return [_convert(v, item, where) for v in value]
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
            return value.lower() in ("1", "true", "yes", "on")
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    if hint is int:
        if isinstance(value, bool):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        try:
            return int(value) if isinstance(value, int | str) else _fail()
        except (ValueError, TypeError):
            raise ConfigError(f"{where}: expected an integer, got {value!r}") from None
    if hint is float:
        if isinstance(value, bool):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        try:
            return float(value) if isinstance(value, int | float | str) else _fail()
        except (ValueError, TypeError):
            raise ConfigError(f"{where}: expected a number, got {value!r}") from None
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    if hint is time:
        if isinstance(value, time):
            return value
        try:
            return time.fromisoformat(str(value))
        except ValueError:
            raise ConfigError(f"{where}: expected a time such as 09:00, got {value!r}") from None
    if hint is date:
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            raise ConfigError(f"{where}: expected a date such as 2026-10-01, got {value!r}") from None
    raise ConfigError(f"{where}: unsupported setting type {hint!r}")


def _fail() -> typing.NoReturn:
    raise TypeError
