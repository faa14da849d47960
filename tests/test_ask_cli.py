"""`helpdesk ask`: the exact JSON shape, --jsonl, human output and clean errors."""

import io
import json
from pathlib import Path

import pytest

from bot.cli import main

FAQ = str(Path(__file__).parent / "fixtures" / "matcher" / "faq")
KEYS = {"query", "lang", "action", "entry_id", "score", "answer", "suggestions"}


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no stray ./config.toml
    for name in ("HELPDESK_CONFIG", "HELPDESK_MATCHER_ANSWER_THRESHOLD", "HELPDESK_FAQ_DIR"):
        monkeypatch.delenv(name, raising=False)


def check_shape(obj):
    assert set(obj) == KEYS
    assert isinstance(obj["query"], str)
    assert obj["lang"] in ("zh", "en")
    assert obj["action"] in ("answer", "suggest", "escalate")
    assert isinstance(obj["score"], int | float) and not isinstance(obj["score"], bool)
    assert 0 <= obj["score"] <= 100
    if obj["action"] == "answer":
        assert isinstance(obj["entry_id"], str) and isinstance(obj["answer"], str)
    else:
        assert obj["entry_id"] is None and obj["answer"] is None
    assert isinstance(obj["suggestions"], list)
    for s in obj["suggestions"]:
        assert set(s) == {"entry_id", "question", "score"}
        assert isinstance(s["entry_id"], str) and isinstance(s["question"], str)
        assert isinstance(s["score"], int | float)


def test_ask_json_answer(capsys):
    assert main(["ask", "--faq", FAQ, "--json", "发明专利的申请费用是多少"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    obj = json.loads(out)
    check_shape(obj)
    assert obj["action"] == "answer" and obj["entry_id"] == "fee_invention" and obj["lang"] == "zh"
    assert obj["query"] == "发明专利的申请费用是多少"
    assert "发明专利" in out  # not \u-escaped


def test_ask_json_escalate(capsys):
    assert main(["ask", "--faq", FAQ, "--json", "what is the weather in beijing tomorrow"]) == 0
    obj = json.loads(capsys.readouterr().out)
    check_shape(obj)
    assert obj["action"] == "escalate" and obj["lang"] == "en"


def test_ask_lang_option(capsys):
    assert main(["ask", "--faq", FAQ, "--json", "--lang", "en", "发明专利的申请费用是多少"]) == 0
    obj = json.loads(capsys.readouterr().out)
    assert obj["lang"] == "en" and obj["answer"].startswith("The filing fee")


def test_ask_jsonl(capsys, monkeypatch):
    lines = ["发明专利的申请费用是多少", "", '{"text": "utility model fee"}', "推荐一家火锅店", "😀"]
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(lines) + "\n"))
    assert main(["ask", "--faq", FAQ, "--jsonl"]) == 0
    out = capsys.readouterr().out.splitlines()
    objs = [json.loads(line) for line in out]
    assert len(objs) == 4  # the blank line is skipped
    for obj in objs:
        check_shape(obj)
    assert objs[1]["query"] == "utility model fee" and objs[1]["suggestions"][0]["entry_id"] == "fee_utility"
    assert objs[2]["action"] == "escalate"


def test_ask_human_output(capsys):
    assert main(["ask", "--faq", FAQ, "别人抄袭我的专利"]) == 0
    out = capsys.readouterr().out
    assert "action:   answer" in out and "infringement_help" in out and "top guesses:" in out


def test_ask_missing_dir(capsys, tmp_path):
    assert main(["ask", "--faq", str(tmp_path / "nope"), "hello"]) == 2
    err = capsys.readouterr().err
    assert "cannot load the FAQ" in err and "nope" in err and "Traceback" not in err


def test_ask_broken_faq(capsys, tmp_path):
    (tmp_path / "bad.yaml").write_text("entries:\n  - id: x\n    en: [unclosed\n", encoding="utf-8")
    assert main(["ask", "--faq", str(tmp_path), "hello"]) == 2
    err = capsys.readouterr().err
    assert "bad.yaml" in err and "Traceback" not in err


def test_ask_needs_text_or_jsonl(capsys):
    assert main(["ask", "--faq", FAQ]) == 2
    assert "missing the question" in capsys.readouterr().err
