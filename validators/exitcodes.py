"""Exit codes of ``runverdict``: each outcome has its own, never computed from counts."""

from enum import IntEnum


class ExitCode(IntEnum):
    PASS = 0  # every must check passed
    FAIL = 1  # a must check failed
    ERROR = 2  # a must check could not be evaluated (takes precedence over FAIL)
    INTERNAL = 3  # a bug in runverdict
    USAGE = 4  # the command line or the spec is wrong: nothing was evaluated
