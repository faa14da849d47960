"""Patent helpdesk bot for SMEs: FAQ matching, a shared escalation queue, Telegram and web chat."""

__version__ = "0.1.0"
