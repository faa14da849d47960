"""The interface in Chinese and English: the language choice and the words on the pages.

Answers come from the FAQ and `bot.texts`; this module only holds the page furniture.
"""

from __future__ import annotations

from aiohttp import web

LANGS = ("zh", "en")
LANG_COOKIE = "hd_lang"

WORDS: dict[str, tuple[str, str]] = {  # key: (zh, en)
    "title": ("专利服务助手", "Patent helpdesk"),
    "notice": ("本助手提供一般性信息，不构成法律意见。请勿发送尚未申请专利的技术细节。",
               "General information, not legal advice. Do not send technical details of unfiled inventions."),
    "placeholder": ("输入您的问题", "Type your question"),
    "send": ("发送", "Send"),
    "ask_person": ("转人工", "Ask a person"),
    "status": ("工单状态", "Ticket status"),
    "withdraw": ("撤回工单", "Withdraw ticket"),
    "forget": ("删除我的数据", "Forget my data"),
    "forget_confirm": ("确定删除您的全部消息和工单吗？此操作无法撤销。",
                       "Delete all your messages and tickets? This cannot be undone."),
    "helpful": ("这个回答有帮助吗？", "Was this helpful?"),
    "yes": ("有帮助", "Yes"),
    "no": ("没有帮助", "No"),
    "sources": ("来源", "Sources"),
    "reviewed": ("审核日期", "Reviewed"),
    "related": ("相关问题", "Related questions"),
    "staff": ("客服", "Staff"),
    "you": ("您", "You"),
    "bot": ("助手", "Helpdesk"),
    "too_long": ("消息太长，请控制在 {max} 个字符以内。", "Your message is too long; keep it under {max} characters."),
    "error": ("出错了，请稍后再试。", "Something went wrong; please try again."),
    "delay": ("系统暂时有些慢。您的问题已保留，稍后会自动重新发送，请稍候……",
              "We are a little slow right now. Your question is kept and will be sent again shortly..."),
    "delay_gave_up": ("暂时无法连接，问题已放回输入框，请稍后再发送。",
                      "We still cannot get through; your question is back in the box, please send it again later."),
    "console": ("客服控制台", "Staff console"),
    "login": ("登录", "Log in"),
    "logout": ("退出", "Log out"),
    "username": ("用户名", "Username"),
    "password": ("密码", "Password"),
    "bad_login": ("用户名或密码错误。", "Wrong username or password."),
    "too_many": ("登录失败次数过多，请 {minutes} 分钟后再试。", "Too many failed logins; try again in {minutes} minutes."),
    "queue": ("工单队列", "Queue"),
    "mine": ("我的", "Mine"),
    "unclaimed": ("未认领", "Unclaimed"),
    "all": ("全部", "All"),
    "closed": ("含已关闭", "With closed"),
    "search": ("搜索", "Search"),
    "ticket": ("工单", "Ticket"),
    "age": ("等待", "Age"),
    "lang": ("语言", "Language"),
    "state": ("状态", "Status"),
    "claimed_by": ("认领人", "Claimed by"),
    "question": ("问题", "Question"),
    "user": ("用户", "User"),
    "no_tickets": ("没有工单。", "No tickets."),
    "claim": ("认领", "Claim"),
    "release": ("释放", "Release"),
    "close": ("关闭", "Close"),
    "reopen": ("重新打开", "Reopen"),
    "transfer": ("转交", "Transfer"),
    "reply": ("回复用户", "Reply to the user"),
    "note": ("内部备注（用户看不到）", "Internal note (never shown to the user)"),
    "add_note": ("添加备注", "Add note"),
    "guesses": ("匹配器的猜测", "The matcher's guesses"),
    "draft": ("生成 FAQ 草稿", "Turn this answer into an FAQ draft"),
    "save_draft": ("保存草稿", "Save draft"),
    "history": ("记录", "History"),
    "faq_status": ("FAQ 状态", "FAQ status"),
    "reload": ("重新加载", "Reload"),
    "unanswered": ("未解决问题", "Unanswered questions"),
    "dashboard": ("统计", "Dashboard"),
    "period_days": ("天数", "Days"),
    "count": ("次数", "Count"),
    "examples": ("示例", "Examples"),
    "per_day": ("每日问题数", "Questions per day"),
    "shares": ("回答 / 建议 / 转人工", "Answered / suggested / escalated"),
    "median_first": ("首次人工回复中位时间", "Median time to a first staff reply"),
    "open_tickets": ("未结工单", "Open tickets"),
    "answer": ("已回答", "answered"),
    "suggest": ("建议", "suggested"),
    "escalate": ("转人工", "escalated"),
}


def pick_lang(request: web.Request) -> str:
    """?lang= first, then the language cookie, then Accept-Language (Chinese when nothing says otherwise)."""
    asked = request.query.get("lang") or request.cookies.get(LANG_COOKIE)
    if asked in LANGS:
        return asked
    return from_accept_language(request.headers.get("Accept-Language", ""))


def from_accept_language(header: str) -> str:
    best, best_q = "zh", -1.0
    for part in header.split(","):
        name, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        code = name.strip().lower()[:2]
        if code in LANGS and q > best_q:
            best, best_q = code, q
    return best


def translator(lang: str):
    index = 0 if lang == "zh" else 1

    def _(key: str, **kwargs: object) -> str:
        words = WORDS.get(key)
        text = words[index] if words else key
        return text.format(**kwargs) if kwargs else text

    return _
