"""Text that reaches a terminal: ``safe()`` shows every control character as its escape.

Text from artefacts or the spec (a Keras ``class_name``, a column header, a metric or file
name, the spec's ``name``, advice, a check's message quoting a cell) is data. On a terminal an
escape sequence is a command (``\\x1b]0;`` sets the window title, ``\\x1b[2J`` clears the
screen, ``\\x1b[8m`` hides what follows) and a newline inside a value can fake a line such as
``Verdict: PASS``. Every writer that sends such text to a terminal passes each value through
``safe()`` once, where the text leaves the program; the program's own line breaks and the
colour codes it adds are added afterwards and stay real.

Importing this module imports nothing but ``re``.
"""

from __future__ import annotations

import re

__all__ = ["safe"]

# C0 controls (newline and tab included: a value's newline fakes a line), DEL and the C1 controls;
# the bidirectional marks, embeddings, overrides and isolates (ALM U+061C, LRM/RLM U+200E/F,
# LRE..RLO U+202A-U+202E, LRI..PDI U+2066-U+2069); the line and paragraph separators; lone surrogates.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _escape(match) -> str:
    return repr(match.group())[1:-1]  # \x1b, \n, \t, \x85, \u202e, \udc80: never a quote or a backslash


def safe(text: str) -> str:
    """``text`` with every control character written as Python writes it in ``repr``, without quotes.

    Escaped: C0 controls (``\\n``, ``\\t``, ``\\r`` and ``\\x1b`` included), DEL, C1 controls
    (U+0080-U+009F), the bidirectional controls (U+061C, U+200E, U+200F, U+202A-U+202E,
    U+2066-U+2069), U+2028/U+2029 and lone surrogates (``\\udc80``). Everything else, ``é``,
    ``López``, ``中文`` and backslashes included, is unchanged; text with nothing to escape is
    returned as it is. A value that is not a ``str`` is ``str()``-ed first.
    """
    if not isinstance(text, str):
        text = str(text)
    if _UNSAFE.search(text) is None:
        return text
    return _UNSAFE.sub(_escape, text)
