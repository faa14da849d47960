"""`helpdesk faq eval` and bot.faq.evaluate on a small labelled fixture."""

import json
from pathlib import Path

import pytest

from bot.cli import main
from bot.faq.evaluate import Query, QueryFileError, evaluate, misses, parse_queries, percentile, read_queries, summarize
from bot.faq.loader import load_faq
from bot.faq.matcher import Decision, Matcher, MatchSettings, Suggestion

HERE = Path(__file__).parent / "fixtures" / "matcher"
FAQ, QUERIES = str(HERE / "faq"), str(HERE / "queries.jsonl")


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HELPDESK_CONFIG", raising=False)


def decision(action, entry=None, guesses=()):
    sugg = tuple(Suggestion(g, g, 50.0) for g in guesses)
    return Decision("q", "en", action, entry, 50.0, "a" if entry else None, sugg)


def test_summarize_counts_each_case():
    queries = [Query("a", "x"), Query("b", "x"), Query("c", "y"), Query("d", "y"), Query("e", None), Query("f", None)]
    decisions = [
        decision("answer", "x", ["x"]),         # right answer
        decision("answer", "y", ["y", "x"]),    # wrong answer
        decision("suggest", None, ["x", "y"]),  # right entry among the choices
        decision("escalate", None, ["x"]),      # in scope but escalated
        decision("escalate", None, ["x"]),      # out of scope, escalated: good
        decision("answer", "x", ["x"]),         # out of scope but answered: bad
    ]
    r = summarize(queries, decisions, [0.001] * 6, {"x", "y"})
    assert (r.questions, r.in_scope, r.out_of_scope) == (6, 4, 2)
    assert r.in_scope_accuracy == 1 / 4
    assert r.top1_accuracy == 1 / 4  # only query a has the right entry first
    assert r.oos_recall == 1 / 2 and r.oos_answered == 1 / 2
    assert r.suggest_rate == 1 / 6 and r.suggest_with_right == 1 / 6 and r.suggest_without_right == 0
    assert r.wrong_answer_rate == 2 / 6
    assert r.escalated_in_scope == 1 / 4
    assert r.latency_p50_ms == pytest.approx(1.0)


def test_misses_name_each_way_a_question_goes_wrong():
    queries = [Query("a", "x"), Query("b", "x"), Query("c", "y"), Query("d", "y"), Query("e", "y"),
               Query("f", None), Query("g", None), Query("h", None)]
    decisions = [
        decision("answer", "x", ["x"]),         # right: not a miss
        decision("answer", "y", ["y", "x"]),
        decision("suggest", None, ["x", "y"]),
        decision("suggest", None, ["x"]),
        decision("escalate", None, ["y"]),
        decision("escalate", None, ["x"]),      # out of scope, escalated: not a miss
        decision("suggest", None, ["x"]),       # out of scope, offered choices: the user still reaches a person
        decision("answer", "x", ["x"]),
    ]
    got = [(m.query.text, m.outcome) for m in misses(queries, decisions)]
    assert got == [("b", "wrong answer"), ("c", "choices with the right one"), ("d", "choices without it"),
                   ("e", "escalated"), ("h", "out of scope answered")]
    assert misses(queries, decisions)[0].to_json() == {
        "outcome": "wrong answer", "text": "b", "expected": "x", "action": "answer", "entry_id": "y", "score": 50.0}


def test_percentile_nearest_rank():
    assert percentile([], 99) == 0
    assert percentile([3, 1, 2], 50) == 2
    assert percentile(list(range(1, 101)), 99) == 99
    assert percentile([5], 99) == 5


def test_evaluate_on_fixture():
    matcher = Matcher.build(load_faq(FAQ), MatchSettings())
    r = evaluate(matcher, read_queries(QUERIES))
    assert (r.in_scope, r.out_of_scope) == (7, 2)
    assert r.top1_accuracy == 1.0
    assert r.oos_recall == 1.0
    assert r.wrong_answer_rate == 0.0
    assert r.unknown_expected == ()


def test_parse_errors_name_file_and_line():
    with pytest.raises(QueryFileError, match=r"^f.jsonl:2: not valid JSON"):
        list(parse_queries(['{"text": "a", "expected": null}', "{oops"], "f.jsonl"))
    with pytest.raises(QueryFileError, match=r"^f.jsonl:1: expected an object"):
        list(parse_queries(['["a"]'], "f.jsonl"))
    with pytest.raises(QueryFileError, match=r"^f.jsonl:3: \"expected\" must be"):
        list(parse_queries(['{"text": "a"}', "", '{"text": "b", "expected": 3}'], "f.jsonl"))


def test_cli_eval_text(capsys):
    assert main(["faq", "eval", "--faq", FAQ, "--queries", QUERIES]) == 0
    out = capsys.readouterr().out
    for label in ("in-scope accuracy", "out-of-scope recall", "suggest rate", "wrong-answer rate", "latency p50 / p99"):
        assert label in out
    assert "9 (7 in scope, 2 out of scope)" in out


def test_cli_eval_json(capsys):
    assert main(["faq", "eval", "--faq", FAQ, "--queries", QUERIES, "--json"]) == 0
    obj = json.loads(capsys.readouterr().out)
    assert obj["questions"] == 9 and obj["top1_accuracy"] == 1.0
    assert {"in_scope_accuracy", "oos_recall", "suggest_with_right", "suggest_without_right",
            "wrong_answer_rate", "latency_p50_ms", "latency_p99_ms"} <= set(obj)


def test_cli_eval_lists_the_misses_wrong_answers_first(capsys, tmp_path):
    q = tmp_path / "q.jsonl"
    q.write_text("\n".join(json.dumps(o, ensure_ascii=False) for o in [
        {"text": "what is the fee for an invention patent", "expected": "fee_invention"},  # right: not listed
        {"text": "qwzx plorbt vrenk", "expected": "fee_invention"},                      # nothing shared: escalated
        {"text": "what is the fee for an invention patent", "expected": "fee_utility"},    # another entry answered
    ]) + "\n", encoding="utf-8")
    assert main(["faq", "eval", "--faq", FAQ, "--queries", str(q), "--misses"]) == 0
    out = capsys.readouterr().out
    listed = [line.strip() for line in out.split("misses (2):")[1].strip().splitlines()]
    assert listed[0].split()[:2] == ["wrong", "answer"] and "fee_utility -> fee_invention" in listed[0]
    assert listed[1].startswith("escalated") and "qwzx plorbt vrenk" in listed[1]
    assert main(["faq", "eval", "--faq", FAQ, "--queries", str(q), "--misses", "--json"]) == 0
    obj = json.loads(capsys.readouterr().out)
    assert [m["outcome"] for m in obj["misses"]] == ["wrong answer", "escalated"]
    assert main(["faq", "eval", "--faq", FAQ, "--queries", QUERIES, "--json"]) == 0
    assert "misses" not in json.loads(capsys.readouterr().out)  # only when asked


def test_cli_eval_bad_line(capsys, tmp_path):
    bad = tmp_path / "q.jsonl"
    bad.write_text('{"text": "a", "expected": null}\nnot json\n', encoding="utf-8")
    assert main(["faq", "eval", "--faq", FAQ, "--queries", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:2:" in err and "Traceback" not in err


def test_cli_eval_missing_files(capsys, tmp_path):
    assert main(["faq", "eval", "--faq", FAQ, "--queries", str(tmp_path / "none.jsonl")]) == 2
    assert "file not found" in capsys.readouterr().err
    assert main(["faq", "eval", "--faq", str(tmp_path / "nofaq"), "--queries", QUERIES]) == 2
    assert "cannot load the FAQ" in capsys.readouterr().err


def test_cli_eval_warns_about_unknown_ids(capsys, tmp_path):
    q = tmp_path / "q.jsonl"
    q.write_text('{"text": "patent fee", "expected": "no_such_entry"}\n', encoding="utf-8")
    assert main(["faq", "eval", "--faq", FAQ, "--queries", str(q)]) == 0
    assert "no_such_entry" in capsys.readouterr().err
