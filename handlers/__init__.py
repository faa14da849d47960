"""Telegram handlers (issue 6): the routing table lives here."""
