"""The errors Hubbub raises on purpose, for every front end to map the same way.

A ``UserError`` is the user's mistake or a state the user can fix (a bad parameter, an unknown name, a
malformed query, a workspace that is missing or busy, a step not yet run): the CLI prints its message and
exits 2, a REST layer answers 4xx with it. Anything else that escapes is a bug and shows as one.
"""

from __future__ import annotations


class HubbubError(Exception):
    """Base of the errors Hubbub raises on purpose."""


class UserError(HubbubError):
    """A mistake the user can fix; the message says what was wrong and what to do."""

    exit_code = 2


class BadParameter(UserError, ValueError):
    """A parameter out of its range, of the wrong form, or in conflict with another."""


class UnknownName(UserError, KeyError):
    """A name (dataset, step, analysis, format, topic) that does not exist; the message lists those that do."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class NotComputed(UserError):
    """What an analysis needs has not been computed yet (e.g. topics before `hubbub enrich --steps topic`)."""


class WorkspaceBusy(UserError):
    """Another process holds the workspace for writing."""
