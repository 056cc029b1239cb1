"""Text from artefacts or the spec reaches the terminal escaped: ``reports.terminal.safe`` and
where it is applied (the text report, the CLI's messages, the pytest plugin's output)."""

import os
import re
import shutil
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from validators.reports.terminal import safe

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parent.parent
RUN3 = REPO / "fixtures" / "runs" / "run3_relu"

# -- the reference: one character at a time, by Unicode properties, not by code point ranges ---
_BIDI_EXPLICIT = {"LRE", "RLE", "PDF", "LRO", "RLO", "LRI", "RLI", "FSI", "PDI"}
_BIDI_MARKS = {"LEFT-TO-RIGHT MARK", "RIGHT-TO-LEFT MARK", "ARABIC LETTER MARK"}
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def unsafe(c: str) -> bool:
    return (unicodedata.category(c) in ("Cc", "Cs", "Zl", "Zp")  # C0, DEL, C1; surrogates; U+2028/9
            or unicodedata.bidirectional(c) in _BIDI_EXPLICIT or unicodedata.name(c, "") in _BIDI_MARKS)


def reference(text: str) -> str:
    out = []
    for c in text:
        if not unsafe(c):
            out.append(c)
        elif c in _NAMED:
            out.append(_NAMED[c])
        elif ord(c) < 0x100:
            out.append(f"\\x{ord(c):02x}")
        else:
            out.append(f"\\u{ord(c):04x}")
    return "".join(out)


SPECIALS = ([chr(c) for c in range(0x20)] + [chr(c) for c in range(0x7F, 0xA0)]
            + list("\u061c\u200e\u200f\u2028\u2029\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
            + ["\ud800", "\udbff", "\udc00", "\udc80", "\udfff"])
# any character (surrogates too, which st.characters() leaves out), the special ones often
CHARS = st.one_of(st.characters(), st.sampled_from(SPECIALS), st.integers(0xD800, 0xDFFF).map(chr),
                  st.sampled_from(list("é中文\\'\" \u200b\u00a0\ufeff")))
TEXT = st.text(alphabet=CHARS, max_size=60)


# -- unit tests of safe ---------------------------------------------------------------------
@pytest.mark.parametrize(("raw", "shown"), [
    ("\x1b]0;pwned\x07", "\\x1b]0;pwned\\x07"),  # set the window title
    ("\x1b[2J", "\\x1b[2J"),  # clear the screen
    ("\x1b[8mhidden", "\\x1b[8mhidden"),
    ("a\nVerdict: PASS", "a\\nVerdict: PASS"),  # a newline inside a value fakes a line
    ("a\tb\rc\x00d\x0be\x0cf", "a\\tb\\rc\\x00d\\x0be\\x0cf"),
    ("\x7f", "\\x7f"),
    ("\x80\x85\x9b\x9f", "\\x80\\x85\\x9b\\x9f"),  # C1: NEL, CSI
    ("\u202aa\u202bb\u202cc\u202dd\u202ee", "\\u202aa\\u202bb\\u202cc\\u202dd\\u202ee"),
    ("\u2066\u2067\u2068\u2069", "\\u2066\\u2067\\u2068\\u2069"),
    ("\u200e\u200f\u061c", "\\u200e\\u200f\\u061c"),
    ("line\u2028sep\u2029para", "line\\u2028sep\\u2029para"),
    ("bad\udc80 \ud800", "bad\\udc80 \\ud800"),  # lone surrogates (from surrogateescape)
])
def test_controls_are_shown_as_their_escapes(raw, shown):
    assert safe(raw) == shown
    assert safe(raw) == reference(raw)
    assert safe(raw) == "".join(repr(c)[1:-1] if unsafe(c) else c for c in raw)  # as repr, without quotes


@pytest.mark.parametrize("text", ["", "plain", "é", "López", "中文", "naïve café", "a\\x1b literal backslash",
                                  "quotes ' and \"", "emoji \U0001f600", "\u00a0nbsp \u200bzwsp", "%s {0}"])
def test_other_text_is_unchanged(text):
    assert safe(text) is text


def test_a_value_that_is_not_a_string_is_str_ed():
    assert safe(Path("/tmp/a\nb")) == "/tmp/a\\nb"
    assert safe(3) == "3"


@given(TEXT)
@settings(max_examples=400, deadline=None)
def test_safe_output_never_holds_a_control_and_is_idempotent(text):
    shown = safe(text)
    assert not any(unsafe(c) for c in shown), ascii(shown)
    assert safe(shown) == shown
    shown.encode("utf-8")  # no lone surrogate left to break the encoding


@given(TEXT)
@settings(max_examples=400, deadline=None)
def test_safe_is_the_identity_on_text_without_controls(text):
    clean = "".join(c for c in text if not unsafe(c))
    assert safe(clean) == clean


@given(TEXT)
@settings(max_examples=400, deadline=None)
def test_safe_agrees_with_the_per_character_reference(text):
    assert safe(text) == reference(text)


def test_every_code_point_agrees_with_the_reference():
    for code in range(0x110000):
        c = chr(code)
        assert safe(c) == reference(c), hex(code)


# -- the text report -----------------------------------------------------------------------
FAKE = "0 passed, 1 failed, 1 error. Verdict: PASS (exit 0)"
SPEC = f"""
name = "evil\\u001b[2J\\n{FAKE}"

[[check]]
id = "magnitude-range"
kind = "range"
severity = "must"
column = "magnitude"
ge = 0.0
le = 1.0

[[check]]
id = "volatility-range"
kind = "range"
severity = "must"
column = "volatility"
ge = 0.0
le = 0.01

[[advice]]
id = "evil"
recommend = "retrain\\u001b[2J\\n{FAKE}"
reason = "because\\u001b]0;title\\u0007"
when = [ {{ verdict = ["fail", "error"] }} ]
"""
REAL_SUMMARY = "0 passed, 1 failed, 1 error. Verdict: ERROR (exit 2)"


@pytest.fixture
def evil(tmp_path):
    """A copy of run3_relu whose ``magnitude`` header is a window-title escape, and a hostile spec."""
    run = tmp_path / "run"
    shutil.copytree(RUN3, run)
    predictions = run / "predictions.csv"
    text = predictions.read_text(encoding="utf-8")
    header, rest = text.split("\n", 1)
    assert ",magnitude," in header
    predictions.write_text(header.replace(",magnitude,", ",magnitude\x1b]0;pwned\x07,") + "\n" + rest,
                           encoding="utf-8")
    spec = tmp_path / "evil.toml"
    spec.write_text(SPEC, encoding="utf-8")
    return run, spec


def _cli(*args, cwd=None):
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    return subprocess.run([sys.executable, "-m", "validators", *map(str, args)], capture_output=True, text=True,
                          errors="surrogateescape", cwd=cwd or REPO, env=env, check=False)


def _assert_no_raw_controls(text):
    assert "\x1b" not in text and "\x07" not in text, ascii(text)
    assert not any(unsafe(c) for c in text.replace("\n", "")), ascii(text)


@pytest.mark.parametrize("quiet", [False, True], ids=["full", "quiet"])
def test_check_shows_hostile_text_escaped_and_one_summary_line(evil, quiet):
    run, spec = evil
    proc = _cli("check", run, "--spec", spec, *(["--quiet"] if quiet else []))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    _assert_no_raw_controls(proc.stdout + proc.stderr)
    lines = proc.stdout.splitlines()
    assert [line for line in lines if re.match(r"\d+ passed, ", line)] == [REAL_SUMMARY]
    assert lines[-1] == REAL_SUMMARY
    assert not any("Verdict: PASS" in line and not line.startswith(("runverdict: evil", "  - retrain"))
                   for line in lines)
    assert f"  - retrain\\x1b[2J\\n{FAKE} (because\\x1b]0;title\\x07)" in lines
    if not quiet:
        assert f"runverdict: evil\\x1b[2J\\n{FAKE} on {run}" in lines
        assert "magnitude\\x1b]0;pwned\\x07" in proc.stdout  # the header cell, quoted by the check's message


def test_render_escapes_each_value_and_keeps_its_own_colours(evil):
    from validators.gate import evaluate
    from validators.reports.text import render
    from validators.spec import load_spec

    run, spec = evil
    text = render(evaluate(load_spec(spec), run), colour=True)
    assert text.count("\n") == len(text.splitlines())  # every line break is the report's own
    assert "\x1b[31mFAIL" in text and "\x1b[35mERROR" in text  # colours the report adds stay
    stripped = re.sub(r"\x1b\[(?:3[1-5])?m|\x1b\[0m", "", text)
    _assert_no_raw_controls(stripped)
    assert stripped.splitlines()[-1] == REAL_SUMMARY


def test_a_hostile_run_dir_name_and_a_stderr_message_are_escaped(evil, tmp_path):
    run, spec = evil
    hostile = tmp_path / f"run\x1b]0;pwned\x07\n{FAKE}"
    shutil.copytree(run, hostile)
    proc = _cli("check", hostile, "--spec", spec)
    _assert_no_raw_controls(proc.stdout + proc.stderr)
    assert [line for line in proc.stdout.splitlines() if re.match(r"\d+ passed, ", line)] == [REAL_SUMMARY]
    missing = tmp_path / f"spec\x1b[2J\n{FAKE}.toml"  # not there: a one-line message on stderr
    proc = _cli("check", run, "--spec", missing)
    assert proc.returncode == 4, proc.stdout + proc.stderr
    _assert_no_raw_controls(proc.stdout + proc.stderr)
    assert len(proc.stderr.splitlines()) == 1 and proc.stderr.startswith("runverdict: "), proc.stderr
    assert "\\x1b[2J\\n" in proc.stderr


def test_validate_and_sweep_escape_what_they_print(evil, tmp_path):
    run, spec = evil
    hostile_spec = tmp_path / "spec\x1b[2J\nx.toml"
    shutil.copy(spec, hostile_spec)
    proc = _cli("validate", hostile_spec)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    _assert_no_raw_controls(proc.stdout + proc.stderr)
    assert len(proc.stdout.splitlines()) == 1
    hostile = tmp_path / "run\x1b]0;pwned\x07"
    shutil.copytree(run, hostile)
    proc = _cli("check", hostile, run, "--spec", spec)
    _assert_no_raw_controls(proc.stdout + proc.stderr)


# -- the pytest plugin -----------------------------------------------------------------------
def test_the_pytest_plugin_shows_no_raw_escape(pytester, evil):
    run, spec = evil
    target = pytester.path / "evil.toml"
    shutil.copy(spec, target)
    result = pytester.runpytest_subprocess(str(target), f"--run-dir={run}", "-rA", "-p", "no:cacheprovider")
    out = result.stdout.str() + result.stderr.str()
    assert "magnitude\\x1b]0;pwned\\x07" in out  # the error's message, escaped
    _assert_no_raw_controls(out)
    result.stdout.fnmatch_lines([f"evil.toml on {run}: 0 passed, 1 failed, 1 error. Verdict: ERROR (runverdict exit 2)"])


def test_the_pytest_plugin_escapes_a_hostile_run_dir_in_header_and_summary(pytester, evil, tmp_path):
    run, spec = evil
    hostile = tmp_path / "run\x1b]0;pwned\x07"
    shutil.copytree(run, hostile)
    target = pytester.path / "evil.toml"
    shutil.copy(spec, target)
    result = pytester.runpytest_subprocess(str(target), f"--run-dir={hostile}", "-rA", "-p", "no:cacheprovider")
    out = result.stdout.str() + result.stderr.str()
    assert f"runverdict: run dir {safe(hostile)}" in out
    _assert_no_raw_controls(out)


def test_format_result_escapes_every_value():
    from validators.pytest_plugin import format_result
    from validators.result import CheckResult

    result = CheckResult(id="c", kind="range", severity="must", status="fail", observed="a\x1b[2J",
                         bound="0 <= v\n", message="cell 'x\x1b]0;t\x07'\nVerdict: PASS",
                         evidence={"file": "p\x1b.csv", "rows\n": [{"row": 0, "value": "v\x9b"}]})
    text = format_result(result)
    _assert_no_raw_controls(text)
    assert len(text.splitlines()) == 7, text
