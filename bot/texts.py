"""User-facing sentences that the services produce, in both languages (channels format them)."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "escalated": {
        "en": "I have passed your question to our staff as ticket #{ticket}. {when}",
        "zh": "已将您的问题转给人工客服，工单号 #{ticket}。{when}",
    },
    "joined": {
        "en": "Added to your ticket #{ticket}. Our staff will see it.",
        "zh": "已补充到您的工单 #{ticket}，客服会看到。",
    },
    "reply_soon": {"en": "Staff usually reply within one working day.", "zh": "客服通常在一个工作日内回复。"},
    "back_at": {
        "en": "Our staff are away now and will be back {at} (Beijing time).",
        "zh": "现在是非工作时间，客服将于{at}（北京时间）回来处理。",
    },
    "closed": {
        "en": "Your ticket #{ticket} is now closed. How helpful was our answer?",
        "zh": "您的工单 #{ticket} 已关闭。请为本次服务打分。",
    },
    "withdrawn": {"en": "Your ticket #{ticket} is withdrawn.", "zh": "您的工单 #{ticket} 已撤回。"},
    "no_ticket": {"en": "You have no open ticket.", "zh": "您当前没有未结的工单。"},
    "status": {
        "en": "Ticket #{ticket}: {status}, opened {opened}.",
        "zh": "工单 #{ticket}：{status}，创建于 {opened}。",
    },
    "status_open": {"en": "waiting for a staff member", "zh": "等待客服接单"},
    "status_claimed": {"en": "a staff member is working on it", "zh": "客服处理中"},
    "status_answered": {"en": "answered, waiting for your reply", "zh": "已回复，等待您的回应"},
    "status_closed": {"en": "closed", "zh": "已关闭"},
    "suggest": {
        "en": "I'm not sure which of these you mean. Pick one, or ask a person:",
        "zh": "不太确定您想问的是哪一个，请选择，或转人工：",
    },
    "handoff": {
        "en": "This needs a person who can look at your case.",
        "zh": "这个问题需要人工针对您的情况处理。",
    },
    "forgotten": {
        "en": "Your messages and tickets have been deleted.",
        "zh": "您的消息和工单已删除。",
    },
    "too_long": {
        "en": "Your message is too long ({n} characters); please keep it under {max}.",
        "zh": "消息太长（{n} 个字符），请控制在 {max} 个字符以内。",
    },
    "empty": {"en": "Please type your question in words.", "zh": "请用文字输入您的问题。"},
}


def pick(table: dict[str, dict[str, str]], key: str, lang: str | None, **kwargs: object) -> str:
    """`table[key]` in `lang` (English when unknown), with the fields filled in."""
    forms = table[key]
    return forms.get(lang or "en", forms["en"]).format(**kwargs)


def t(key: str, lang: str, **kwargs: object) -> str:
    """The sentence `key` in `lang` (English when unknown), with the fields filled in."""
    return pick(TEXTS, key, lang, **kwargs)
