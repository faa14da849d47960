"""What the Telegram bot says that the services do not: welcome, help, buttons, refusals (zh and en)."""

from __future__ import annotations

from bot.texts import pick

PHRASES: dict[str, dict[str, str]] = {
    "welcome": {
        "en": ("Hello {name}! I answer common questions about patents for small and medium-sized companies in China: "
               "types of patents, filing, fees and fee reduction, deadlines, and where to get help.\n\n"
               "Just type your question. If I cannot answer it, I pass it to our staff.\n\n"
               "ℹ️ This is general information, not legal advice.\n"
               "⚠️ Do not send technical details of an invention that is not yet filed: disclosing it can destroy "
               "its novelty.\n\n/help shows the commands."),
        "zh": ("{name}您好！我可以解答中小企业常见的专利问题：专利类型、申请流程、费用与费减、期限，以及去哪里求助。\n\n"
               "直接输入您的问题即可；我答不了的，会转给人工客服。\n\n"
               "ℹ️ 本服务提供一般性信息，不构成法律意见。\n"
               "⚠️ 请勿发送尚未申请专利的发明技术细节：公开可能导致丧失新颖性。\n\n发送 /help 查看命令。"),
    },
    "help": {
        "en": ("Type a question in Chinese or English.\n/lang choose the answer language\n/human talk to a person\n"
               "/status your ticket\n/cancel withdraw your ticket\n/forget delete my data"),
        "zh": ("用中文或英文输入问题即可。\n/lang 选择回答语言\n/human 转人工\n/status 查看工单\n"
               "/cancel 撤回工单\n/forget 删除我的数据"),
    },
    "lang_prompt": {"en": "Which language should I answer in?", "zh": "请选择回答语言："},
    "lang_auto": {"en": "Auto (follow my message)", "zh": "自动（跟随消息）"},
    "lang_set": {"en": "OK, I will answer in English.", "zh": "好的，我会用中文回答。"},
    "lang_set_auto": {"en": "OK, I will answer in the language of each message.", "zh": "好的，我会按每条消息的语言回答。"},
    "source": {"en": "Source", "zh": "来源"},
    "reviewed": {"en": "Reviewed", "zh": "审核日期"},
    "helpful": {"en": "Was this helpful?", "zh": "这个回答有帮助吗？"},
    "none_of_these": {"en": "None of these, ask a person", "zh": "都不是，转人工"},
    "thanks": {"en": "Thank you for the feedback!", "zh": "感谢您的反馈！"},
    "rated": {"en": "Thank you for rating!", "zh": "感谢您的评分！"},
    "cancel_confirm": {"en": "Withdraw ticket #{ticket}?", "zh": "确定撤回工单 #{ticket} 吗？"},
    "forget_confirm": {
        "en": "Delete all your messages and tickets? This cannot be undone.",
        "zh": "确定删除您的全部消息和工单吗？此操作不可撤销。",
    },
    "yes": {"en": "Yes", "zh": "确定"},
    "no": {"en": "No", "zh": "取消"},
    "kept": {"en": "OK, nothing changed.", "zh": "好的，未做任何更改。"},
    "unsupported": {
        "en": "I can only read text messages. Please type your question in words.",
        "zh": "我只能读取文字消息，请用文字输入您的问题。",
    },
    "file_passed": {
        "en": "I passed your file to the staff handling ticket #{ticket}.",
        "zh": "已将您的文件转给处理工单 #{ticket} 的客服。",
    },
    "edited": {
        "en": "I only see new messages, not edits. Please send your corrected question as a new message.",
        "zh": "我无法读取修改后的消息，请把修改后的问题重新发送一条。",
    },
    "unknown_command": {
        "en": "I don't know that command. /help lists what I can do.",
        "zh": "没有这个命令。发送 /help 查看可用命令。",
    },
    "slow_down": {
        "en": "You are sending messages very fast. Please wait a moment; I will read new messages again shortly.",
        "zh": "您发送得太快了，请稍候片刻再发送。",
    },
    "delayed": {
        "en": "We are a little slow right now. Your message is kept and will be answered shortly.",
        "zh": "我们这边暂时有些延迟。您的消息已收到并保存，稍后会尽快回复您。",
    },
    "error": {"en": "Sorry, something went wrong. Please try again.", "zh": "抱歉，出了点问题，请重试。"},
    "stale_button": {"en": "This button no longer works.", "zh": "这个按钮已失效。"},
}

COMMANDS: dict[str, list[tuple[str, str]]] = {
    "en": [("start", "Welcome and what I can do"), ("help", "Commands"), ("lang", "Answer language"),
           ("human", "Talk to a person"), ("status", "My ticket"), ("cancel", "Withdraw my ticket"),
           ("forget", "Delete my data")],
    "zh": [("start", "欢迎与功能介绍"), ("help", "命令列表"), ("lang", "回答语言"), ("human", "转人工"),
           ("status", "我的工单"), ("cancel", "撤回工单"), ("forget", "删除我的数据")],
}


def p(key: str, lang: str | None, **kwargs: object) -> str:
    """The phrase `key` in `lang` (English when unknown)."""
    return pick(PHRASES, key, lang, **kwargs)


def lang_of(language_code: str | None) -> str:
    """Telegram's language_code -> "zh" or "en" (Chinese for any zh-*, English otherwise)."""
    return "zh" if (language_code or "").lower().startswith("zh") else "en"
