"""The command line: staff accounts, db upgrade, and clear one-line errors (run as real subprocesses)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def helpdesk(tmp_path: Path, *args: str, stdin: str | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "HELPDESK_GENERAL_DATA_DIR": str(tmp_path / "data"), **(env or {})}
    full_env.pop("HELPDESK_DATABASE_URL", None) if "HELPDESK_DATABASE_URL" not in (env or {}) else None
    return subprocess.run([sys.executable, "-m", "bot", *args], input=stdin, capture_output=True, text=True,
                          env=full_env, cwd=tmp_path, timeout=120)


def test_help_explains_every_command(tmp_path):
    out = helpdesk(tmp_path, "--help").stdout
    for command in ("run", "db", "staff", "ask", "faq"):
        assert f"    {command} " in out


def test_staff_add_list_remove(tmp_path):
    added = helpdesk(tmp_path, "staff", "add", "alice", "--role", "admin", "--name", "Alice W", "--password-stdin",
                     stdin="correct horse battery\n")
    assert added.returncode == 0, added.stderr
    assert "added admin alice" in added.stdout
    listed = helpdesk(tmp_path, "staff", "list")
    assert listed.stdout.splitlines() == ["alice\tadmin\tAlice W"]
    again = helpdesk(tmp_path, "staff", "add", "alice", "--password-stdin", stdin="another password\n")
    assert again.returncode == 1 and "taken" in again.stderr and "Traceback" not in again.stderr
    assert helpdesk(tmp_path, "staff", "remove", "alice").returncode == 0
    assert helpdesk(tmp_path, "staff", "list").stdout == ""
    gone = helpdesk(tmp_path, "staff", "remove", "alice")
    assert gone.returncode == 1 and "no active account" in gone.stderr


def test_a_short_password_is_refused_in_one_line(tmp_path):
    result = helpdesk(tmp_path, "staff", "add", "bob", "--password-stdin", stdin="short\n")
    assert result.returncode == 1
    assert result.stderr.strip() == "helpdesk: password: at least 8 characters"


def test_db_upgrade_on_sqlite_and_postgres(tmp_path, pg_url):
    result = helpdesk(tmp_path, "db", "upgrade")
    assert result.returncode == 0 and "up to date" in result.stdout
    assert (tmp_path / "data" / "helpdesk.db").exists()
    if pg_url:
        result = helpdesk(tmp_path, "db", "upgrade", env={"HELPDESK_DATABASE_URL": pg_url})
        assert result.returncode == 0, result.stderr


def test_an_unreachable_database_gives_one_line(tmp_path):
    result = helpdesk(tmp_path, "staff", "list", env={"HELPDESK_DATABASE_URL": "postgresql+asyncpg://postgres@127.0.0.1:1/x"})
    assert result.returncode == 1
    assert result.stderr.startswith("helpdesk: the database is unreachable")
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1


def test_run_refuses_a_broken_faq_with_file_and_line(tmp_path):
    faq = tmp_path / "faq"
    faq.mkdir()
    (faq / "bad.yaml").write_text("entries:\n  - id: x\n    en: [unclosed\n")
    result = helpdesk(tmp_path, "run", env={"HELPDESK_FAQ_DIR": str(faq), "HELPDESK_WEB_PORT": "0"})
    assert result.returncode == 1
    assert "cannot start: the FAQ cannot be loaded" in result.stderr
    assert f"{faq / 'bad.yaml'}:" in result.stderr and "Traceback" not in result.stderr
