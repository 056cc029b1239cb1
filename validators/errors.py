"""The three ways a gate can go wrong, kept apart because each has its own exit code.

* ``SpecError``: the spec is wrong; nothing was evaluated (exit 4).
* ``ArtefactError``: an artefact a check needs is missing, unreadable or malformed; that
  check's status is ``error`` (exit 2 when the check is a ``must``).
* ``UsageError``: the command line is wrong (exit 4).

Anything else escaping the gate is a bug (exit 3).
"""

from __future__ import annotations

import os
import re


def _where(path, line=None, column=None, offset=None) -> str:
    where = os.fspath(path) if path is not None else "<unknown>"
    if line is not None:
        where += f":{line}"
        if column is not None:
            where += f":{column}"
    elif offset is not None:
        where += f": byte offset {offset}"
    return where


class GateError(Exception):
    """Base class of the errors runverdict reports to its user without a traceback."""


class SpecError(GateError):
    """The gate spec is invalid: the message names file, line and column where known."""

    def __init__(self, path, message, *, line=None, column=None, hint=None):
        self.path = path
        self.message = message
        self.line = line
        self.column = column
        self.hint = hint
        super().__init__(str(self))

    def __str__(self) -> str:
        text = f"{_where(self.path, self.line, self.column)}: {self.message}"
        return f"{text} ({self.hint})" if self.hint else text


class ArtefactError(GateError):
    """An artefact of the run cannot be used: names the file and where in it."""

    def __init__(self, path, message, *, line=None, column=None, offset=None, hint=None):
        self.path = path
        self.message = message
        self.line = line
        self.column = column
        self.offset = offset
        self.hint = hint
        super().__init__(str(self))

    def __str__(self) -> str:
        text = f"{_where(self.path, self.line, self.column, self.offset)}: {self.message}"
        return f"{text} ({self.hint})" if self.hint else text


class UsageError(GateError):
    """The command line is wrong."""


def toml_position(exc) -> tuple[int | None, int | None, str]:
    """``(line, column, message)`` of a ``tomllib.TOMLDecodeError``, for spec and config errors."""
    lineno = getattr(exc, "lineno", None)
    colno = getattr(exc, "colno", None)
    msg = getattr(exc, "msg", None) or str(exc)
    if lineno is None:
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        if m:
            lineno, colno = int(m.group(1)), int(m.group(2))
            msg = str(exc)[: m.start()].strip()
        elif "(at end of document)" in str(exc):
            msg = str(exc).replace("(at end of document)", "").strip() + " at end of document"
    return lineno, colno, msg
