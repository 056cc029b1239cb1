"""Extreme values fail closed (issue 13, items 16 and 19): never exit 3, never a traceback, never an
unearned PASS.

* Sharpe, PSR and DSR on any finite floats, from 5e-324 to 1e308: a number or a ``SharpeError``;
  the same number for returns scaled by a power of two; equal to an exact (``Fraction``) reference.
* SVG plots of any finite data (subnormals, 1e-300..1e300, +-0, mixed signs) render well-formed XML.
* Reports of configs holding lone surrogates, control characters and deep nesting: the JSON is strict
  JSON, the JUnit XML parses, Markdown and HTML encode as UTF-8.
* The CLI on each example of the issue, with every report asked for: exit 0, 1 or 2, never 3.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import xml.etree.ElementTree as ET
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from factory import SPEC, healthy_config, healthy_history, healthy_returns, make_run
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from validators.artefacts.config_file import MAX_CONFIG_DEPTH, read_config
from validators.errors import ArtefactError
from validators.gate import evaluate
from validators.reports.html import to_html
from validators.reports.jsonreport import to_json
from validators.reports.junit import to_junit
from validators.reports.markdown import to_markdown
from validators.reports.svg import Plot, nice_ticks, padded
from validators.spec import load_spec
from validators.stats.sharpe import (
    SharpeError,
    deflated_sharpe_ratio_from_trials,
    probabilistic_sharpe_ratio_from_returns,
    sharpe_ratio,
)

ROOT = Path(__file__).resolve().parent.parent
TINY = sys.float_info.min  # the smallest normal float

finite = st.floats(allow_nan=False, allow_infinity=False)
series = st.lists(finite, min_size=2, max_size=40).map(lambda v: np.array(v, dtype=np.float64))


def strict_json(text):
    def refuse(constant):
        raise AssertionError(f"not strict JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


# -- Sharpe, PSR, DSR -----------------------------------------------------------------------------

@settings(max_examples=300, deadline=None)
@given(series)
def test_sharpe_family_is_a_number_or_a_sharpe_error(x):
    with np.errstate(over="ignore"):
        trials = np.c_[x, x[::-1], x * 0.5 + x[::-1] * 0.5]
    for compute in (sharpe_ratio, probabilistic_sharpe_ratio_from_returns,
                    lambda v: deflated_sharpe_ratio_from_trials(trials)):
        try:
            value = compute(x)
        except SharpeError:
            continue
        assert math.isfinite(value)


@settings(max_examples=200, deadline=None)
@given(series, st.integers(-1000, 1000))
def test_psr_is_invariant_under_a_power_of_two(x, k):
    with np.errstate(over="ignore"):
        scaled = np.ldexp(x, k)
    nonzero = x != 0
    # the scaled returns hold the same numbers: nothing overflowed, nothing lost bits as a subnormal
    assume(np.all(np.isfinite(scaled)) and np.all(np.abs(scaled[nonzero]) >= TINY)
           and np.all(np.abs(x[nonzero]) >= TINY))
    for compute in (sharpe_ratio, probabilistic_sharpe_ratio_from_returns):
        try:
            expected = compute(x)
        except SharpeError:
            with pytest.raises(SharpeError):
                compute(scaled)
            continue
        assert compute(scaled) == pytest.approx(expected, rel=1e-9, abs=1e-12)


def exact_sharpe(values) -> float:
    """mean / std (ddof 1), in exact rational arithmetic until the final square root."""
    x = [Fraction(float(v)) for v in values]
    n = len(x)
    mean = sum(x) / n
    variance = sum((v - mean) ** 2 for v in x) / (n - 1)
    ratio = mean * mean / variance  # SR squared, exactly
    return math.copysign(math.sqrt(float(ratio)), float(mean)) if mean else 0.0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(-10**6, 10**6), min_size=2, max_size=40), st.integers(-300, 300))
def test_sharpe_matches_exact_arithmetic_at_any_scale(ints, exponent):
    assume(len(set(ints)) > 1)
    x = np.array(ints, dtype=np.float64) * 10.0 ** exponent
    assume(np.all(np.abs(x[x != 0]) >= TINY))
    assert sharpe_ratio(x) == pytest.approx(exact_sharpe(x), rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("scale", [1e-160, 1e-300, 1e-310, 1e300, 1e307])
def test_returns_near_the_float_limits_give_the_numbers_of_returns_near_one(scale):
    x = healthy_returns()["t5"].to_numpy()
    assert sharpe_ratio(x * scale) == pytest.approx(sharpe_ratio(x), rel=1e-6)
    assert probabilistic_sharpe_ratio_from_returns(x * scale) == pytest.approx(
        probabilistic_sharpe_ratio_from_returns(x), rel=1e-6)
    trials = healthy_returns().to_numpy()
    assert deflated_sharpe_ratio_from_trials(trials * scale) == pytest.approx(
        deflated_sharpe_ratio_from_trials(trials), rel=1e-6)


# -- SVG plots ------------------------------------------------------------------------------------

extreme = st.one_of(finite, st.sampled_from([0.0, -0.0, 5e-324, -5e-324, 1e-310, 1e-300, 1e300, -1e300,
                                              sys.float_info.max, -sys.float_info.max]))


@settings(max_examples=300, deadline=None)
@given(extreme, extreme)
def test_padded_is_a_finite_increasing_interval(lo, hi):
    a, b = padded(lo, hi)
    assert math.isfinite(a) and math.isfinite(b) and a < b
    assert a <= min(lo, hi) and b >= max(lo, hi)
    for t in nice_ticks(a, b):
        assert math.isfinite(t)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(extreme, min_size=1, max_size=30), st.lists(extreme, min_size=1, max_size=30), st.booleans())
def test_a_plot_of_any_finite_values_is_well_formed_svg(xs, ys, log_y):
    n = min(len(xs), len(ys))
    xs, ys = xs[:n], ys[:n]
    x_lo, x_hi = padded(min(xs), max(xs))
    positive = [y for y in ys if y > 0]
    if log_y and positive:
        exponents = padded(math.log10(min(positive)), math.log10(max(positive)), 0.08)
        plot = Plot((x_lo, x_hi), (min(positive), max(positive)), log_y=True, y_log10=exponents,
                    label="\x00\ud800 <&>")
    else:
        plot = Plot((x_lo, x_hi), padded(min(ys), max(ys)), label="\x1b[2J")
    plot.line(xs, ys, "curve", "a \udc80 title")
    plot.band_y(None, ys[0], "forbid", "below")
    plot.band_y(ys[-1], None, "forbid", "above")
    plot.band_x(xs[0], None, "forbid")
    plot.hline(ys[0], "c1")
    plot.vline(xs[0], "c2")
    plot.point(xs[-1], ys[-1], "c3", "\x7f")
    plot.marker(xs[0], "c4", "\x0c marker")
    edges = sorted(xs) + [max(xs)]
    plot.bars(edges, [1] * n, "bar")
    svg = plot.render()
    root = ET.fromstring(svg)  # well-formed XML
    for element in root.iter():
        for name in ("x", "y", "x1", "x2", "y1", "y2", "cx", "cy", "width", "height"):
            if name in element.attrib:
                assert math.isfinite(float(element.attrib[name])), (name, element.attrib)


# -- reports of hostile configs and extreme histories, in process --------------------------------

def deep(levels, leaf=1.0):
    value = leaf
    for _ in range(levels):
        value = [value]
    return value


hostile_text = st.text(st.integers(0, 0x10FFFF).map(chr), max_size=12) | st.sampled_from(
    ["\ud800", "\udfff", "a\udc80b", "\x00", "\x1b[2J", "\x7f\x85\u2028", "\ufffe\uffff", "]]>", "</svg>"])


@pytest.fixture(scope="module")
def spec():
    return load_spec(SPEC)


def assert_every_report_is_written(report):
    strict_json(to_json(report)).keys()
    ET.fromstring(to_junit(report).split("\n", 1)[1])
    to_markdown(report).encode("utf-8")
    to_html(report).encode("utf-8")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(value=st.one_of(hostile_text, st.builds(deep, st.integers(0, MAX_CONFIG_DEPTH + 5), hostile_text)),
       key=hostile_text, where=st.sampled_from(["activation", "weight", "key"]))
def test_reports_of_hostile_config_values_are_strict(tmp_path_factory, spec, value, key, where):
    config = healthy_config()
    if where == "activation":
        config["heads"]["volatility"]["activation"] = value
    elif where == "weight":
        config["loss_weights"]["volatility"] = value
    else:
        config["loss_weights"][key] = value
    run = make_run(tmp_path_factory.mktemp("hostile"))
    (run / "config.json").write_text(json.dumps(config))  # ensure_ascii: a lone surrogate is "\ud800" here
    report = evaluate(spec, run)
    assert int(report.exit_code) in (1, 2)  # never a pass: the config is not the plan's
    assert_every_report_is_written(report)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(st.lists(extreme.filter(lambda v: v >= 0), min_size=8, max_size=8))
def test_html_of_any_finite_loss_curve_is_written(tmp_path_factory, spec, losses):
    history = healthy_history()
    history["volatility_loss"] = losses
    history["loss"] = list(reversed(losses))
    run = make_run(tmp_path_factory.mktemp("curve"), history=history)
    report = evaluate(spec, run)
    assert int(report.exit_code) in (0, 1, 2)
    page = to_html(report)
    page.encode("utf-8")
    for svg in page.split("<svg")[1:]:
        ET.fromstring("<svg" + svg.split("</svg>")[0] + "</svg>")


@pytest.mark.parametrize("fmt", ["json", "yaml", "toml"])
def test_a_config_nested_past_the_limit_names_the_file_and_where(tmp_path, fmt):
    def text(levels):  # the top mapping, loss_weights, then `levels` lists
        inner = "[" * levels + "1" + "]" * levels
        return {"json": '{"loss_weights": {"direction": ' + inner + "}}",
                "yaml": "loss_weights:\n  direction: " + inner + "\n",
                "toml": "[loss_weights]\ndirection = " + inner + "\n"}[fmt]

    path = tmp_path / f"config.{fmt}"
    path.write_text(text(MAX_CONFIG_DEPTH - 2))  # at the limit: read
    assert read_config(path)["loss_weights"]["direction"] == deep(MAX_CONFIG_DEPTH - 2, 1)
    path.write_text(text(MAX_CONFIG_DEPTH - 1))  # one level more: refused, saying where
    with pytest.raises(ArtefactError, match="nested too deeply") as caught:
        read_config(path)
    message = str(caught.value)
    assert str(path) in message
    assert ("config.yaml:2:" in message) if fmt == "yaml" else ("'loss_weights.direction.0.0.0.0. ...'" in message)


def test_a_recursive_yaml_anchor_is_refused(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("a: &a [*a]\n")
    with pytest.raises(ArtefactError, match="recursive anchor"):
        read_config(path)


# -- the CLI on each example of the issue ---------------------------------------------------------

def _config(run, text, name="config.json"):
    (run / "config.json").unlink()
    (run / name).write_text(text)


def _config_value(where, value):
    def change(run):
        config = healthy_config()
        if where == "activation":
            config["heads"]["volatility"]["activation"] = value
        else:
            config["loss_weights"][where] = value
        (run / "config.json").write_text(json.dumps(config))
    return change


def _history(**columns):
    def change(run):
        history = healthy_history()
        for name, values in columns.items():
            history[name] = values
        history.to_csv(run / "history.csv", index=False)
    return change


def _returns(scale):
    def change(run):
        (healthy_returns() * scale).to_csv(run / "returns.csv", index=False)
    return change


YAML_HEADS = "heads: {direction: {activation: sigmoid}, volatility: {activation: relu}, magnitude: {activation: relu}}\n"
CASES = {
    # item 16: a config value or key with a lone surrogate is judged (it is not the plan's): a fail
    "lone surrogate in a config value": (_config_value("activation", "\ud800"), {1}),
    "lone surrogate in a config key": (_config_value("\udfff", 1.0), {1}),
    "control characters in a config value": (_config_value("activation", "re\x00l\x1bu\x0c\x7f\ufffe"), {1}),
    "a config value nested 500 deep (JSON)": (_config_value("direction", deep(500)), {2}),
    "a config value nested 500 deep (YAML)": (lambda run: _config(run, "loss_weights: {direction: " + "[" * 500 + "1"
                                                                  + "]" * 500 + "}\n" + YAML_HEADS, "config.yaml"), {2}),
    "a recursive YAML anchor": (lambda run: _config(run, "loss_weights: &a {direction: *a}\n" + YAML_HEADS
                                                    + "a: &b [*b]\n", "config.yaml"), {2}),
    # item 19: numbers at the ends of the float range
    "returns near 1e-160": (_returns(1e-160), {0}),  # the verdict of the same returns near 1
    "returns near 1e300": (_returns(1e300), {1, 2}),
    "a loss of 5e-324": (_history(volatility_loss=5e-324), {0, 1}),
    "subnormal losses": (_history(volatility_loss=[1e-310 * (8 - i) for i in range(8)]), {0, 1}),
    "a loss spanning 1e-300 to 1e300": (_history(volatility_loss=list(np.geomspace(1e300, 1e-300, 8)),
                                                 loss=list(np.geomspace(1e-300, 1e300, 8))), {0, 1, 2}),
    "a loss of 1.7e308, then 0 at the last epoch": (_history(volatility_loss=[1.7e308, 0.0] * 4), {0, 1, 2}),
}


@pytest.mark.parametrize("case", list(CASES))
def test_cli_on_extreme_values_fails_closed_with_every_report(tmp_path, case):
    change, codes = CASES[case]
    run = make_run(tmp_path / "run")
    change(run)
    out = tmp_path / "out"
    out.mkdir()
    spec = tmp_path / "spec.toml"
    spec.write_text(Path(SPEC).read_text() + PSR_CHECKS)
    proc = subprocess.run([sys.executable, "-m", "validators", "check", str(run), "--spec", str(spec),
                           "--json", str(out / "r.json"), "--html", str(out / "r.html"),
                           "--junit", str(out / "r.xml"), "--markdown", str(out / "r.md")],
                          capture_output=True, text=True, errors="replace", cwd=ROOT, timeout=120, check=False)
    assert proc.returncode in codes, (proc.returncode, proc.stdout[-2000:], proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    report = strict_json((out / "r.json").read_text(encoding="utf-8"))
    assert report["exit_code"] == proc.returncode
    ET.parse(out / "r.xml")
    (out / "r.md").read_text(encoding="utf-8")
    page = (out / "r.html").read_text(encoding="utf-8")
    for svg in page.split("<svg")[1:]:
        ET.fromstring("<svg" + svg.split("</svg>")[0] + "</svg>")


PSR_CHECKS = """
[[check]]
id = "extreme-psr"
kind = "psr"
severity = "must"
trial = "t5"
sr_benchmark = 0.0
ge = 0.0

[[check]]
id = "extreme-dsr"
kind = "dsr"
severity = "must"
trial = "t5"
ge = 0.0
"""


@pytest.mark.parametrize("scale", [1e-160, 1e-300, 1e300])
def test_the_best_trial_is_the_same_at_any_scale(scale):
    """The sharpe kind's trial = "best" ranks per-period Sharpe ratios: near 1e-160 the variance would
    underflow to 0 ("every trial is constant") without scaling each trial first."""
    from validators.kinds.backtest import _per_period_sharpes

    trials = healthy_returns().to_numpy()
    np.testing.assert_allclose(_per_period_sharpes(trials * scale), _per_period_sharpes(trials), rtol=1e-12)
