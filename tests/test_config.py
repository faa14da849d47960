"""Configuration: typed values, environment overrides, and one clear line for every mistake."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import ConfigError, load_settings

ROOT = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_the_example_config_loads_and_matches_the_defaults():
    example = load_settings(ROOT / "config.example.toml", env={})
    defaults = load_settings(None, env={})
    assert example.web.port == defaults.web.port == 8080
    assert example.queue == defaults.queue
    assert example.matcher == defaults.matcher


def test_environment_overrides_the_file_for_secrets(tmp_path):
    path = write(tmp_path, '[telegram]\ntoken = "from-file"\n[database]\nurl = "sqlite+aiosqlite:///x.db"\n')
    s = load_settings(path, env={"HELPDESK_TELEGRAM_TOKEN": "from-env", "HELPDESK_DATABASE_URL": "postgresql+asyncpg://h/db",
                                 "HELPDESK_QUEUE_WORKDAYS": "1,2,3"})
    assert s.telegram.token == "from-env"
    assert s.database_url == "postgresql+asyncpg://h/db"
    assert s.queue.workdays == [1, 2, 3]
    assert "from-env" not in repr(s)


@pytest.mark.parametrize(("text", "expected"), [
    ("[web]\nport = 70000\n", "web.port: expected an integer between 0 and 65535, got 70000"),
    ("[web]\nport = \"eighty\"\n", "web.port: expected an integer, got 'eighty'"),
    ("[web]\nprot = 8080\n", "unknown key web.prot"),
    ("[wbe]\nport = 8080\n", "unknown section [wbe]"),
    ("[queue]\ntimezone = \"Mars/Olympus\"\n", "queue.timezone: expected an IANA time zone"),
    ("[queue]\nopens = \"25:00\"\n", "queue.opens: expected a time such as 09:00"),
    ("[matcher]\nanswer_threshold = 20\nsuggest_threshold = 50\n", "[matcher]"),
    ("[database]\nurl = \"mysql://x\"\n", "database.url: expected a URL starting with"),
    ("[web\n", "not valid TOML"),
])
def test_a_bad_value_names_the_file_and_the_key(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_settings(path, env={})
    message = str(info.value)
    assert message.startswith(str(path)) and expected in message
    assert "\n" not in message


def test_a_bad_environment_value_is_named():
    with pytest.raises(ConfigError, match=r"environment: web.port: expected an integer"):
        load_settings(None, env={"HELPDESK_WEB_PORT": "abc"})


def test_the_command_prints_one_line_and_exits_non_zero(tmp_path):
    path = write(tmp_path, "[web]\nport = -1\n")
    proc = subprocess.run([sys.executable, "-m", "bot", "--config", str(path), "run"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0
    assert "web.port" in proc.stderr and "Traceback" not in proc.stderr
