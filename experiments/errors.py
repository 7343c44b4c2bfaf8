"""The errors a user can cause and fix, beside ``experiments.scenarios.ScenarioError``.

The CLI prints any of these as one message (no traceback) and exits with status 2.
Every message names the file, folder, field or tick at fault and what to change.
"""

from __future__ import annotations


class AimarketError(Exception):
    """Base of the project's user-facing errors (other than ``ScenarioError``)."""


class OutputError(AimarketError):
    """An output folder or a saved result: not writable, in use, holding something else,
    or a file that cannot be read back (truncated Parquet, broken manifest)."""


class StudyError(AimarketError):
    """A study cannot start or resume as asked (a changed plan on ``--resume``, a very
    large study without confirmation, a bad option)."""


class RunError(AimarketError):
    """The model failed during a run; the message names the tick and what to change."""


__all__ = ["AimarketError", "OutputError", "RunError", "StudyError"]
