"""Pure parts of the Telegram side: callback data parsing, rendering with escaping, the flood guard."""

from __future__ import annotations

from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.conversation import Reply
from handlers.flood import FloodGuard
from handlers.render import Callback, parse_callback, render_reply
from handlers.telegram_app import order_key, storable


def test_callback_data_round_trips_and_junk_is_refused():
    assert parse_callback("p:fee-reduction-who") == Callback("pick", "fee-reduction-who")
    assert parse_callback("f:12:0") == Callback("feedback", "0", 12)
    assert parse_callback("s:c:7") == Callback("claim", "", 7)
    assert parse_callback("r:3:5") == Callback("rate", "5", 3)
    for junk in ("", "p:", "p:../x", "f:1:2", "s:c:", "s:c:1 ", "r:1:6", "l:fr", "x" * 65, None, 12, "h:"):
        assert parse_callback(junk) is None, junk


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(max_size=80), st.binary(max_size=80), st.none(), st.integers()))
def test_parse_callback_never_raises(data):
    parse_callback(data)


def test_answers_escape_text_and_carry_source_date_and_buttons():
    reply = Reply("answer", "en", "Use <form> & pay", entry_id="e", sources=("https://x.example/?a=1&b=<2>",),
                  reviewed=date(2026, 11, 1), related=(("other-entry", "Other <q>?"),), log_id=9)
    text, markup = render_reply(reply)
    assert "Use &lt;form&gt; &amp; pay" in text and "2026-11-01" in text
    assert 'href="https://x.example/?a=1&amp;b=&lt;2&gt;"' in text
    data = [b.callback_data for row in markup.inline_keyboard for b in row]
    assert data == ["f:9:1", "f:9:0", "p:other-entry"]


def test_suggestions_leave_out_ids_too_long_for_a_button_and_offer_a_person():
    reply = Reply("suggest", "zh", "请选择", choices=(("a" * 70, "long"), ("ok-id", "问题")))
    _, markup = render_reply(reply)
    assert [b.callback_data for row in markup.inline_keyboard for b in row] == ["p:ok-id", "h"]


def test_the_flood_guard_warns_once_then_drops_until_the_window_passes():
    now = [0.0]
    guard = FloodGuard(3, 10, clock=lambda: now[0])
    assert [guard.check(1) for _ in range(6)] == ["ok", "ok", "ok", "warn", "drop", "drop"]
    assert guard.check(2) == "ok"
    now[0] = 11.0
    assert guard.check(1) == "ok"


def test_order_key_and_storable_accept_any_shape():
    assert order_key({"message": {"chat": {"id": 5}}}) == "tg:5"
    assert order_key({"callback_query": {"message": {"chat": {"id": -7}}}}) == "tg:-7"
    for odd in ({"callback_query": {"message": 5}}, {"callback_query": 3}, {"message": []}, {"message": {"chat": [1]}}, {}):
        assert order_key(odd) is None
    assert storable({"a": "x\x00y\ud800"}) == {"a": "xy?"}


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["message", "callback_query", "edited_message", "x"]),
                       st.recursive(st.none() | st.integers() | st.text(max_size=5),
                                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
                                        st.sampled_from(["chat", "id", "message"]), inner, max_size=3), max_leaves=8)))
def test_order_key_never_raises(payload):
    order_key(payload)
