"""Domain errors that services raise and handlers turn into short replies or HTTP errors."""

from __future__ import annotations


class HelpdeskError(Exception):
    """Base class: the message is safe to show to the person who asked."""


class NotFound(HelpdeskError):
    pass


class Forbidden(HelpdeskError):
    pass


class InvalidState(HelpdeskError):
    """The action does not fit the ticket's status (e.g. replying to a closed ticket)."""


class AlreadyClaimed(HelpdeskError):
    """Someone else claimed the ticket first."""

    def __init__(self, ticket_id: int, holder: str):
        self.ticket_id, self.holder = ticket_id, holder
        super().__init__(f"Ticket #{ticket_id} is already claimed by {holder}.")
