"""Errors a user can cause: the CLI prints them as one line and exits non-zero."""

from __future__ import annotations


class UserError(ValueError):
    """A mistake in the user's input (spec, file, option); one line that says what is valid."""


class UnknownNameError(UserError, KeyError):
    """A name that is not in a registry; the message lists the known names."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""
