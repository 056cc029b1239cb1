"""Immutable check results carrying their evidence, and the verdict as a pure function."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .exitcodes import ExitCode

PASS, FAIL, ERROR = "pass", "fail", "error"
STATUSES = (PASS, FAIL, ERROR)
MUST, NICE = "must", "nice"
SEVERITIES = (MUST, NICE)


@dataclass(frozen=True)
class Outcome:
    """What a check function returns: did it pass, what was seen, and why."""

    passed: bool
    observed: Any
    message: str
    evidence: dict = field(default_factory=dict)


@dataclass(frozen=True)
class CheckResult:
    id: str
    kind: str
    severity: str
    status: str
    observed: Any
    bound: str
    message: str
    evidence: dict = field(default_factory=dict)
    description: str = ""


def verdict_of(results) -> tuple[str, ExitCode]:
    """``("error", 2)`` if a must check errored, else ``("fail", 1)`` if one failed, else pass.

    Nice checks never change the verdict. No checks at all is an error: nothing to judge; so is
    a spec without a single ``must`` check, whatever its ``nice`` checks say.
    """
    results = list(results)
    if not results:
        return ERROR, ExitCode.ERROR
    must = [r for r in results if r.severity == MUST]
    if not must:
        return ERROR, ExitCode.ERROR
    if any(r.status == ERROR for r in must):
        return ERROR, ExitCode.ERROR
    if any(r.status == FAIL for r in must):
        return FAIL, ExitCode.FAIL
    if any(r.status != PASS for r in must):  # an unknown status is never a pass
        return ERROR, ExitCode.ERROR
    return PASS, ExitCode.PASS
