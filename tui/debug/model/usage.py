"""The error for what the user asked that cannot be done: one line, exit status 1."""

from __future__ import annotations


class OptionsError(ValueError):
    """A build option that cannot be used; the message is one line for the user."""
