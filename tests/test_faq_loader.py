"""The loader reads good files faithfully and turns any bad input into `file:line` problems, never a traceback."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.faq.loader import FaqError, load_faq, read_faq

FIXTURES = Path(__file__).parent / "fixtures"
GOOD = FIXTURES / "faq_good"

ENTRY = """topic: t
entries:
  - id: e1
    zh: {question: 问题, answer: 答案, phrasings: ["问一下"]}
    en: {question: Question, answer: Answer, phrasings: ["ask"]}
"""


def errors(directory: Path) -> list[str]:
    return [str(p) for p in read_faq(directory)[1] if p.severity == "error"]


def one_file(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return tmp_path


def test_good_fixture_loads_yaml_csv_and_synonyms():
    faq = load_faq(GOOD)
    assert [e.id for e in faq.entries] == ["fees-annual", "fees-filing", "helpdesk-person", "trademark-referral"]
    annual = faq.get("fees-annual")
    assert annual.topic == "fees" and annual.reviewed == dt.date(2026, 11, 1)
    assert annual.facts == ("C4",) and annual.related == ("fees-filing",)
    assert annual.texts["zh"].phrasings[0] == "年费怎么交" and len(annual.texts["en"].phrasings) == 6
    assert annual.origin.path.endswith("fees.yaml") and annual.origin.line == 3
    assert faq.get("helpdesk-person").handoff is True
    sheet = faq.get("trademark-referral")
    assert sheet.topic == "referrals" and sheet.sources == ("https://sbj.cnipa.gov.cn/",)
    assert sheet.texts["zh"].answer.count("\n") == 1  # a multi-line answer survives CSV quoting
    assert sheet.texts["en"].phrasings[-2] == "brand name, how to protect"
    assert ("实用新型", "小专利", "utility model", "UM") in faq.synonyms


def test_bad_yaml_points_at_the_line_and_other_files_still_load():
    faq, problems = read_faq(FIXTURES / "faq_broken_yaml")
    assert [str(p.origin) for p in problems] == [str(FIXTURES / "faq_broken_yaml" / "fees.yaml") + ":8"]
    assert "bad YAML" in problems[0].message
    assert faq.get("helpdesk-person") is not None
    with pytest.raises(FaqError) as caught:
        load_faq(FIXTURES / "faq_broken_yaml")
    assert "fees.yaml:8: error: bad YAML" in str(caught.value)


def test_bad_csv_rows_are_reported_one_by_one():
    found = errors(FIXTURES / "faq_broken_csv")
    lines = [s.split(": error")[0].rsplit(":", 1)[1] for s in found]
    assert lines == ["3", "4", "5", "6", "7"]
    assert "lang must be one of zh, en, not 'fr'" in found[0]
    assert "5 fields but the header has 4" in found[1]
    assert "no en answer" in found[2]
    assert "'bad id'" in found[3]
    assert "different en answers" in found[4]


def test_duplicate_ids_name_both_places():
    (problem,) = errors(FIXTURES / "faq_broken_dupes")
    assert problem.startswith(str(FIXTURES / "faq_broken_dupes" / "b.yaml") + ":6: error: duplicate id 'same-id'")
    assert "a.yaml:3" in problem


def test_missing_directory_is_one_line(tmp_path):
    (problem,) = errors(tmp_path / "nope")
    assert problem.endswith("FAQ directory does not exist")


@pytest.mark.parametrize(
    ("name", "content", "line", "message"),
    [
        ("a.yaml", "", 1, "empty file"),
        ("a.yaml", "   \n\n", 1, "empty file"),
        ("a.yaml", b"topic: t\nentries:\n  - id: \xff\xfe\n", 3, "not UTF-8"),
        ("a.csv", b"id,lang,question,answer\nx,en,\xe9t\xe9,y\n", 2, "not UTF-8"),
        ("a.yaml", "topic: t\nentries: {}\n", 1, "'entries:' list"),
        ("a.yaml", "- just\n- a list\n", 1, "'entries:' list"),
        ("a.yaml", "topic: t\nentries:\n  - just text\n", 3, "must be a mapping"),
        ("a.yaml", ENTRY.replace("id: e1", "id: 12"), 3, "'id' must be"),
        ("a.yaml", ENTRY.replace("id: e1", "id: has space"), 3, "'id' must be"),
        ("a.yaml", ENTRY.replace("  - id: e1", "  - id: e1\n    colour: red"), 3, "unknown key 'colour'"),
        ("a.yaml", ENTRY.replace("topic: t", "topic: t\nversion: 2"), 1, "unknown key 'version'"),
        ("a.yaml", ENTRY.replace("phrasings: [\"ask\"]", "phrasings: [\"ask\"], note: x"), 5, "unknown key en.note"),
        ("a.yaml", ENTRY.replace("  - id: e1", "  - id: e1\n    id: e2"), 4, "'id' given twice"),
        ("a.yaml", ENTRY.replace("  - id: e1", "  - id: e1\n    reviewed: 2026-02-30"), 3, "'reviewed' must be a date"),
        ("a.yaml", ENTRY.replace("  - id: e1", "  - id: e1\n    reviewed: last week"), 3, "'reviewed' must be a date"),
        ("a.yaml", ENTRY.replace("  - id: e1", "  - id: e1\n    handoff: maybe"), 3, "'handoff' must be true or false"),
        ("a.yaml", ENTRY.replace("  - id: e1", "  - id: e1\n    related: other"), 3, "'related' must be a list"),
        ("a.yaml", ENTRY.replace("  - id: e1", "  - id: e1\n    sources: [www.x.cn]"), 3, "not an http(s) link"),
        ("a.yaml", ENTRY.replace('["ask"]', "[ask, 3.10]"), 5, "3.1 is not text"),
        ("a.yaml", ENTRY.replace('["ask"]', "[yes]"), 5, "True is not text"),
        ("a.yaml", ENTRY.replace("answer: Answer,", "answer: [A],"), 5, "missing or empty en.answer"),
        ("a.yaml", ENTRY.replace("    zh: {question: 问题, answer: 答案, phrasings: [\"问一下\"]}\n", "")
         .replace("    en: {question: Question, answer: Answer, phrasings: [\"ask\"]}\n", ""), 3, "has no text"),
        ("a.yaml", "topic: t\nentries:\n  - id: e1\n    zh: {question: [unclosed\n", 5, "sequence that starts at line 4"),
        ("a.yaml", "topic: t\nentries: [\x00]\n", 2, "NUL"),
        ("a.yaml", "&a [*a]", 1, "'entries:' list"),
        ("a.csv", "", 1, "empty file"),
        ("a.csv", "id,lang,question\nx,en,q\n", 1, "missing column(s) answer"),
        ("a.csv", "id,lang,question,answer,id\n", 1, "appears twice"),
        ("a.csv", 'id,lang,question,answer\nx,en,"unclosed,a\n', 2, "bad CSV"),
        ("a.csv", "id,lang,question,answer,reviewed\nx,en,q,a,soon\n", 2, "reviewed must be a date"),
        ("a.csv", "id,lang,question,answer,handoff\nx,en,q,a,perhaps\n", 2, "handoff must be true or false"),
        ("a.csv", "id,lang,question,answer,topic\nx,en,q,a,one\nx,en,q2,,two\n", 3, "topic 'two' differs"),
        ("a.csv", "id,lang,question,answer\nx,en,,a\n", 2, "empty question"),
        ("synonyms.yaml", "groups:\n  - [a, b]\n  - [c, A]\n", 3, "'A' is also in the group at line 2"),
        ("synonyms.yaml", "groups:\n  - [a]\n", 2, "at least two different words"),
        ("synonyms.yaml", "words: [a, b]\n", 1, "'groups:' list"),
    ],
)
def test_bad_input_gives_file_line_message(tmp_path, name, content, line, message):
    one_file(tmp_path, name, content)
    if name == "synonyms.yaml":
        one_file(tmp_path, "t.yaml", ENTRY)
    found = errors(tmp_path)
    assert any(s.startswith(f"{tmp_path / name}:{line}: error: ") and message in s for s in found), found


def test_bom_is_accepted_in_yaml_and_csv(tmp_path):
    one_file(tmp_path, "a.yaml", "\ufeff" + ENTRY)
    one_file(tmp_path, "b.csv", "\ufeffid,lang,question,answer\ne2,en,Q2,A2\n")
    faq = load_faq(tmp_path)
    assert [e.id for e in faq.entries] == ["e1", "e2"]


def test_csv_header_is_forgiving_and_unknown_columns_warn(tmp_path):
    one_file(tmp_path, "a.csv", " ID ,Lang,QUESTION,answer,notes\ne2,EN,Q2,A2,whatever\n\n,,,,\n")
    faq, problems = read_faq(tmp_path)
    assert [p.severity for p in problems] == ["warning"] and "unknown column 'notes'" in problems[0].message
    assert faq.get("e2").texts["en"].answer == "A2"


def test_an_entry_with_an_error_is_left_out_but_its_neighbours_load(tmp_path):
    one_file(tmp_path, "a.yaml", ENTRY + "  - id: e2\n    zh: nonsense\n")
    faq, problems = read_faq(tmp_path)
    assert [e.id for e in faq.entries] == ["e1"]
    assert [p.origin.line for p in problems] == [6]


def test_other_files_in_the_directory_are_ignored(tmp_path):
    one_file(tmp_path, "a.yaml", ENTRY)
    one_file(tmp_path, "README.md", "# not FAQ\n: : :")
    one_file(tmp_path, ".a.yaml.swp", b"\x00\xff")
    (tmp_path / "sub").mkdir()
    assert len(load_faq(tmp_path)) == 1


def test_directory_without_entries_is_an_error(tmp_path):
    shutil.copy(GOOD / "synonyms.yaml", tmp_path)
    assert errors(tmp_path) == [f"{tmp_path}:0: error: no FAQ entries found (*.yaml, *.csv)"]


YAMLISH = st.text(alphabet=st.sampled_from("ab: -[]{}\n\"',&*!|>#%@`\t中"), max_size=200)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=st.one_of(st.binary(max_size=300), YAMLISH),
       name=st.sampled_from(["x.yaml", "x.csv", "synonyms.yaml"]))
def test_no_input_gives_a_traceback(tmp_path, content, name):
    one_file(tmp_path, name, content)
    _faq, problems = read_faq(tmp_path)
    for problem in problems:
        assert problem.origin.path.startswith(str(tmp_path)) and problem.message


VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8) | st.dates(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["question", "answer", "phrasings", "x"]), inner),
    max_leaves=8,
)
ENTRIES = st.lists(st.dictionaries(st.sampled_from(["id", "reviewed", "facts", "sources", "related", "handoff", "zh", "en"]),
                                   VALUES), max_size=3)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entries=ENTRIES, topic=VALUES)
def test_wrong_types_anywhere_give_problems_not_tracebacks(tmp_path, entries, topic):
    """Well-formed YAML with any value in any place: the loader reports, it never crashes."""
    one_file(tmp_path, "x.yaml", yaml.safe_dump({"topic": topic, "entries": entries}, allow_unicode=True))
    faq, problems = read_faq(tmp_path)
    assert all(p.origin.path.endswith("x.yaml") or p.message.startswith("no FAQ entries") for p in problems)
    assert len(faq) <= len(entries)
