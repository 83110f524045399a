"""Errors a user can cause in reports: the CLI prints them as one line and exits non-zero."""

from __future__ import annotations


class ReportError(ValueError):
    """A user-caused problem (storage, study, budget, records); the message is one line."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))
