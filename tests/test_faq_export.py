"""`helpdesk faq export --csv`: the sheet re-imports to the same entries, for fixtures, the shipped FAQ and odd text."""

from __future__ import annotations

import argparse
import datetime as dt
import io
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.faq.admin_cli import add_faq_admin_commands
from bot.faq.export import COLUMNS, write_csv
from bot.faq.loader import load_faq, read_faq
from bot.faq.model import Entry, Faq, LangText

FIXTURES = Path(__file__).parent / "fixtures"
GOOD = FIXTURES / "faq_good"
SHIPPED = Path(__file__).parent.parent / "faq"


def round_trip(faq: Faq, directory: Path) -> Faq:
    directory.mkdir(exist_ok=True)
    with open(directory / "export.csv", "w", encoding="utf-8", newline="") as out:
        write_csv(faq, out)
    return load_faq(directory)


def test_good_fixture_round_trips(tmp_path):
    faq = load_faq(GOOD)
    again = round_trip(faq, tmp_path)
    assert again.entries == faq.entries
    assert again.get("fees-annual").origin.path.endswith("export.csv")  # really read back, not the same objects


def test_shipped_faq_round_trips(tmp_path):
    faq, _ = read_faq(SHIPPED)  # the content may still have check errors; every entry that loads must survive
    assert round_trip(faq, tmp_path).entries == faq.entries


def test_sheet_layout_answer_and_metadata_on_first_row_only():
    out = io.StringIO()
    rows = write_csv(load_faq(GOOD), out)
    lines = out.getvalue().splitlines()
    assert lines[0] == ",".join(COLUMNS) == "id,lang,question,answer,topic,reviewed,facts,sources,related,handoff"
    assert lines[1].startswith("fees-annual,zh,专利年费怎么交？,授权后") and lines[1].endswith(
        ",fees,2026-11-01,C4,https://www.cnipa.gov.cn/,fees-filing,false")
    assert lines[2] == "fees-annual,zh,年费怎么交,,,,,,,"
    assert lines[8].startswith("fees-annual,en,How do I pay the patent annual fee?,\"After grant, pay")
    assert rows == 4 * 2 * 7


def test_an_export_that_changes_an_entry_is_noticed(tmp_path):
    """The round-trip comparison is not vacuous: one changed phrasing makes the FAQs differ."""
    faq = load_faq(GOOD)
    again = round_trip(faq, tmp_path)
    sheet = tmp_path / "export.csv"
    sheet.write_text(sheet.read_text(encoding="utf-8").replace("年费怎么交,", "年费咋交,"), encoding="utf-8")
    assert load_faq(tmp_path).entries != again.entries


TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\u2028\u2029\x85") | st.sampled_from(
    ',"\n =;'), min_size=1, max_size=40).map(str.strip).filter(bool)
IDS = st.from_regex(r"[a-z0-9][a-z0-9-]{0,12}", fullmatch=True)


@st.composite
def entries(draw) -> Faq:
    ids = draw(st.lists(IDS, min_size=1, max_size=4, unique=True))
    result = []
    for entry_id in ids:
        langs = draw(st.sampled_from([("zh", "en"), ("zh",), ("en",)]))
        texts = {lang: LangText(draw(TEXT), draw(TEXT), tuple(draw(st.lists(TEXT, max_size=3)))) for lang in langs}
        result.append(Entry(
            id=entry_id, texts=texts, topic=draw(IDS), reviewed=draw(st.none() | st.dates(dt.date(2000, 1, 1))),
            facts=tuple(draw(st.lists(st.sampled_from(["A1", "D2", "K3"]), max_size=2))),
            sources=tuple(draw(st.lists(st.sampled_from(["https://www.cnipa.gov.cn/", "http://x.cn/a?b=1,2"]), max_size=2))),
            related=tuple(draw(st.lists(st.sampled_from(ids), max_size=2))), handoff=draw(st.booleans()),
        ))
    return Faq(entries=tuple(result))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(faq=entries())
def test_any_faq_round_trips(tmp_path, faq):
    assert round_trip(faq, tmp_path).entries == faq.entries


def run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("-c", "--config")
    add_faq_admin_commands(parser.add_subparsers())
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_export_to_stdout_and_to_a_file(tmp_path, capsys):
    assert run_cli(["export", "--csv", "--faq", str(GOOD)]) == 0
    out, _ = capsys.readouterr()
    assert out.startswith("id,lang,question,answer,") and out.count("\nfees-annual,") == 14
    target = tmp_path / "sheet" / "faq.csv"
    target.parent.mkdir()
    assert run_cli(["export", "--csv", "--faq", str(GOOD), "-o", str(target)]) == 0
    assert target.read_text(encoding="utf-8") == out
    assert "4 entries, 56 rows written to" in capsys.readouterr().err
    assert load_faq(target.parent).entries == load_faq(GOOD).entries


def test_cli_export_refuses_a_broken_faq(capsys):
    assert run_cli(["export", "--csv", "--faq", str(FIXTURES / "faq_broken_yaml")]) == 1
    out, err = capsys.readouterr()
    assert out == "" and "fees.yaml:8: error: bad YAML" in err and "not exported" in err


def test_cli_export_to_an_unwritable_place_is_one_line(tmp_path, capsys):
    assert run_cli(["export", "--csv", "--faq", str(GOOD), "-o", str(tmp_path / "no" / "such" / "dir.csv")]) == 1
    assert capsys.readouterr().err.strip().endswith("cannot write: No such file or directory")
