"""Normalisation: Chinese and English edge cases the matcher relies on."""

import re

import pytest

from bot.faq.normalize import Synonyms, detect_lang, features, normalize, stem, trie_regex


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ＰＣＴ　专利１２３", "pct 专利 123"),  # full-width letters, digits and space
        ("How  To FILE\ta Patent?!", "how to file a patent"),
        ("專利申請費用", "专利申请费用"),  # traditional to simplified
        ("發明專利，實用新型。", "发明专利 实用新型"),  # Chinese punctuation
        ("申请pct专利", "申请 pct 专利"),  # Latin inside Chinese becomes its own word
        ("don't", "dont"),
        ("STRASSE Straße", "strasse strasse"),  # casefold, not lower
        ("", ""),
        ("😀🎉", ""),
        ("a_b__c", "a b c"),
        ("a _ b", "a b"),  # separators and underscores in one run give one space
        ("  -- x --  ", "x"),
        ("a\u3000_\tb", "a b"),  # no Chinese: the fast path squeezes the same way
        ("中_文 abc中", "中 文 abc 中"),
        ("ﬁling 1中2", "filing 1 中 2"),  # NFKC ligature; digits next to Chinese
    ],
)
def test_normalize(raw, expected):
    assert normalize(raw) == expected


def test_normalize_is_idempotent():
    for text in ["專利申請費用 ＡＢＣ", "How to file?", "申请pct专利"]:
        assert normalize(normalize(text)) == normalize(text)


@pytest.mark.parametrize(
    ("text", "lang"),
    [("专利费用多少", "zh"), ("How much is a patent?", "en"), ("PCT申请怎么办", "zh"),
     ("", "en"), ("What does 专利 mean in English here", "en"), ("12345", "en")],
)
def test_detect_lang(text, lang):
    assert detect_lang(text) == lang


def test_stem_light():
    assert stem("fees") == "fee"
    assert stem("filing") == "fil"
    assert stem("process") == "process"
    assert stem("status") == "status"
    assert stem("pct") == "pct"


def test_features_chinese_bigrams_and_latin_ngrams():
    f = features(normalize("申请专利 fees"))
    assert "申" in f and "b:申请" in f and "b:专利" in f
    assert "fee" in f and "c:<fe" in f
    assert "b:利 fee" in f  # the bigram across the language switch


def test_synonyms_rewrite_to_first_word():
    syn = Synonyms([["实用新型", "utility model", "小专利"], ["ip", "知识产权"]])
    assert syn.apply(normalize("Utility Model fee")) == "实用新型 fee"
    assert syn.apply("小专利费用") == "实用新型费用"
    assert syn.apply("zip file") == "zip file"  # Latin synonyms match whole words only
    assert syn.apply("知识产权") == "ip"
    assert not Synonyms([])


def test_features_are_exact_and_the_same_when_cached():
    text = normalize("申请专利 fees 申请")
    want = ["申", "请", "专", "利", "b:申请", "b:请专", "b:专利",
            "fee", "b:利 fee", "c:<fe", "c:fee", "c:ees", "c:es>",
            "b:fee 申", "申", "请", "b:申请"]
    assert sorted(features(text)) == sorted(want)
    assert features(text) == features(text)  # the second call is served by the per-token cache
    assert sorted(features("fees fees")) == sorted(["fee", "fee", "b:fee fee", *["c:<fe", "c:fee", "c:ees", "c:es>"] * 2])


WORDS = ["专利", "专利权", "专利权质押", "实用新型", "实用新型专利", "ip", "ip loan", "utility model", "utility models",
         "um", "pct", "pct 申请", "a", "ab", "abc"]


@pytest.mark.parametrize("end", ["", r"(?![^\W_])"])
@pytest.mark.parametrize("text", [
    "专利权质押怎么办", "专利权人", "实用新型专利和专利", "ip loans and ip loan", "zip ip", "utility models vs utility model",
    "umbrella um", "pct 申请 pct 申", "abcd abc ab a", "", "no match here",
])
def test_trie_regex_matches_what_the_longest_first_alternation_does(text, end):
    """The synonyms pass uses a trie-shaped pattern for speed (round 9); it must find the same words."""
    plain = re.compile("|".join(re.escape(w) + end for w in sorted(WORDS, key=len, reverse=True)))
    trie = re.compile(trie_regex(WORDS, end=end))
    assert [m.group(0) for m in trie.finditer(text)] == [m.group(0) for m in plain.finditer(text)]


def test_trie_regex_of_no_words_matches_nothing():
    assert re.search(trie_regex([]), "anything") is None
