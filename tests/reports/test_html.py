"""validators.reports.html: one self-contained page, escaped, exact, with the plots; rendered in a
real headless Chromium (Debian's ``chromium``, installed by ``make browser``): no console error,
no request but the page itself, every check id on it, a screenshot that is not blank."""

from __future__ import annotations

import os
import re
from html import escape
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from browser import png_pixels
from factory import SPEC, healthy_history, healthy_predictions, make_run, saturated_run
from hypothesis import given, settings
from test_markdown import any_report, fake_report

from validators.gate import evaluate
from validators.reports.html import to_html, write_html
from validators.reports.markdown import printable
from validators.result import CheckResult
from validators.spec import load_spec

FIXTURE_RUNS = Path(__file__).resolve().parents[2] / "fixtures" / "runs"
MAX_BYTES = 1_000_000
FAIL_RED = (207, 34, 46)  # --fail and the bars beyond a bound (#cf222e)


class Page(HTMLParser):
    """Tags, attributes and text of a page, as a browser's tokenizer sees them."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.tags, self.attrs, self.chunks = [], [], []
        self.feed(text)
        self.close()
        self.text = "".join(self.chunks)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += attrs

    def handle_data(self, data):
        self.chunks.append(data)


ALLOWED_TAGS = {"html", "head", "meta", "link", "title", "style", "body", "main", "section", "h1", "h2", "h3", "h4",
                "p", "strong", "code", "span", "div", "table", "thead", "tbody", "tr", "th", "td", "details",
                "summary", "pre", "ul", "li", "a", "figure", "figcaption", "footer", "svg", "rect", "line",
                "polyline", "circle", "text", "path"}


def assert_self_contained(text):
    page = Page(text)
    assert set(page.tags) <= ALLOWED_TAGS, set(page.tags) - ALLOWED_TAGS
    for name, value in page.attrs:
        if name in ("src", "href", "action", "srcset", "poster", "data"):
            assert value.startswith("#") or value == "data:,", (name, value)
        assert not name.startswith("on"), name
    urls = set(re.findall(r"https?://[^\s\"'<>)]+", text))
    assert urls <= {"http://www.w3.org/2000/svg"}, urls
    assert "@import" not in text and "url(" not in text
    assert "default-src 'none'" in text  # the Content-Security-Policy forbids any fetch
    return page


# -- runs ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    root = tmp_path_factory.mktemp("html")
    spec = load_spec(SPEC)
    healthy = make_run(root / "healthy")
    weak = healthy_history()
    weak["val_direction_auc"] = weak["val_direction_auc"] - 0.05
    return {"healthy": evaluate(spec, healthy),
            "saturated_vs_healthy": evaluate(spec, saturated_run(root / "saturated"), baseline_dir=healthy),
            "weak_vs_healthy": evaluate(spec, make_run(root / "weak", history=weak), baseline_dir=healthy)}


@pytest.fixture(scope="module")
def pages(reports, tmp_path_factory):
    root = tmp_path_factory.mktemp("pages")
    out = {}
    for name, report in reports.items():
        path = root / f"{name}.html"
        write_html(report, path)
        out[name] = path
    return out


def fixture_run_dirs():
    return sorted(p for p in FIXTURE_RUNS.iterdir() if p.is_dir()) if FIXTURE_RUNS.is_dir() else []


# -- the page, without a browser ----------------------------------------------------------------

@pytest.mark.parametrize("name", ["healthy", "saturated_vs_healthy", "weak_vs_healthy"])
def test_page_is_self_contained_small_and_names_every_check(pages, reports, name):
    text = pages[name].read_text(encoding="utf-8")
    assert len(text.encode("utf-8")) < MAX_BYTES
    page = assert_self_contained(text)
    for result in reports[name].results:
        assert result.id in page.text
    assert f"runverdict: {reports[name].verdict.upper()}" in page.text


def test_saturated_column_is_drawn_beyond_its_bounds(reports):
    text = to_html(reports["saturated_vs_healthy"])
    section = text.split('<section id="predictions">', 1)[1].split("</section>", 1)[0]
    volatility = section.split("<h3>volatility</h3>", 1)[1].split("</figure>", 1)[0]
    assert 'class="forbid"' in volatility  # the shaded regions: outside [0, 0.15] and above 0.999
    assert re.search(r'<rect class="bar bad"[^>]*><title>\[[^<]*: 0 values within the bounds, 400 beyond</title>',
                     volatility)  # all 400 values in one red bar
    assert 'class="bar base"' in volatility  # the healthy baseline beside it, in its own colours
    assert "volatility-not-saturated: level 0.999" in volatility
    assert "volatility-range: le 0.15" in volatility
    assert "volatility-max: max = 0.99995" in volatility  # the observed statistic, exact


def test_training_curves_threshold_and_chosen_epoch(reports):
    text = to_html(reports["weak_vs_healthy"])
    section = text.split('<section id="training">', 1)[1].split("</section>", 1)[0]
    auc = section.split("<h3>val_direction_auc</h3>", 1)[1].split("</figure>", 1)[0]
    assert 'class="curve"' in auc and 'class="curve base"' in auc  # candidate and baseline
    assert "direction-auc: ge 0.65" in auc  # the threshold line
    assert "direction-auc (candidate): 0.63 at epoch 3" in auc  # the judged epoch, marked
    assert "judged epoch 3 (best by val_direction_auc (max))" in auc
    assert "direction-auc-vs-baseline: baseline 0.68 - 0.01 = 0.67" in auc
    loss = section.split("<h3>volatility_loss</h3>", 1)[1].split("</figure>", 1)[0]
    assert "volatility-loss: lt 0.01" in loss and "judged epoch 7 (last)" in loss


def test_losses_orders_of_magnitude_apart_share_a_log_axis(tmp_path):
    broken = healthy_history()
    broken["volatility_loss"] = 20.0 - 0.01 * np.arange(len(broken))  # Run #2: percent units
    baseline = make_run(tmp_path / "run2", history=broken)
    text = to_html(evaluate(load_spec(SPEC), make_run(tmp_path / "run3"), baseline_dir=baseline))
    loss = text.split("<h3>volatility_loss</h3>", 1)[1].split("</figure>", 1)[0]
    assert "volatility_loss (log scale)" in loss
    assert 'class="curve"' in loss and 'class="curve base"' in loss
    assert ">0.01</text>" in loss and ">10</text>" in loss  # decades as ticks


def test_pbo_logits_advice_and_baseline(reports):
    report = reports["weak_vs_healthy"]
    text = to_html(report)
    pbo = text.split('<section id="pbo">', 1)[1].split("</section>", 1)[0]
    assert "PBO logit distribution (baseline)" in pbo and "PBO logit distribution (candidate)" in pbo
    assert 'class="forbid"' in pbo and "logit &lt;= 0" in pbo
    advice = text.split('<section id="advice">', 1)[1].split("</section>", 1)[0]
    assert report.advice
    for a in report.advice:
        assert escape(a.recommend) in advice
        for fact in a.facts:
            assert escape(fact) in advice
    assert "-0.050000000000000044" in advice
    baseline = text.split('<section id="baseline">', 1)[1].split("</section>", 1)[0]
    assert baseline.count("<tr>") == len(report.baseline.rows) + 1
    assert '<td class="worse">worse</td>' in baseline


def test_everything_is_escaped_and_exact():
    check = CheckResult("<b>id</b>", "range", "must", "fail", 0.1 + 0.2, "x < 1", "<script>alert(1)</script> & co",
                        {"why": "<img src=x onerror=alert(1)>"}, "desc \"quoted\"")
    text = to_html(fake_report(check, name="<i>spec</i>"))
    page = assert_self_contained(text)
    assert "<script>alert" not in text and "<img" not in text and "<b>id" not in text
    assert "<script>alert(1)</script> & co" in page.text
    assert "<b>id</b>" in page.text and "0.30000000000000004" in page.text


def test_unreadable_artefact_is_said_in_place_of_the_plot(tmp_path):
    run = make_run(tmp_path / "run")
    (run / "history.csv").unlink()
    report = evaluate(load_spec(SPEC), run)
    text = to_html(report)
    section = text.split('<section id="training">', 1)[1].split("</section>", 1)[0]
    assert "candidate history: " in section and "history.csv" in section
    assert "<polyline" not in section


def test_nonfinite_and_constant_columns_are_drawn_with_a_note(tmp_path):
    predictions = healthy_predictions()
    cells = predictions["volatility"].tolist()
    cells[:3] = ["[nan]", "[inf]", ""]
    predictions["volatility"] = cells
    predictions["magnitude"] = "[0.05]"  # one value: the axis is padded around it
    text = to_html(evaluate(load_spec(SPEC), make_run(tmp_path / "run", predictions=predictions)))
    section = text.split('<section id="predictions">', 1)[1].split("</section>", 1)[0]
    assert "candidate: 3 of 400 values are NaN or inf; not drawn" in section
    magnitude = section.split("<h3>magnitude</h3>", 1)[1].split("</figure>", 1)[0]
    assert "candidate: 400 finite values" in magnitude and "<rect class=\"bar\"" in magnitude
    assert_self_contained(text)


@settings(max_examples=100, deadline=None)
@given(any_report())
def test_any_report_renders_escaped_html(report):
    text = to_html(report)
    text.encode("utf-8")
    page = assert_self_contained(text)
    def newlines(text):  # as a browser reads them
        return text.replace("\r\n", "\n").replace("\r", "\n")

    for result in report.results:
        assert newlines(printable(result.id)) in newlines(page.text)


@pytest.mark.parametrize("run", fixture_run_dirs(), ids=lambda p: p.name)
def test_fixture_runs_render_under_a_megabyte(run):
    baseline = FIXTURE_RUNS / "run2_sigmoid"
    report = evaluate(load_spec(SPEC), run, baseline_dir=baseline if baseline.is_dir() and baseline != run else None)
    text = to_html(report)
    assert len(text.encode("utf-8")) < MAX_BYTES
    page = assert_self_contained(text)
    assert all(r.id in page.text for r in report.results)


# -- in a real browser --------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["saturated_vs_healthy", "weak_vs_healthy"])
def test_page_in_headless_chromium(chromium, pages, reports, name, tmp_path_factory):
    url = pages[name].resolve().as_uri()
    page = chromium.load(url)
    assert page.errors == []
    assert page.requests == [url]  # nothing fetched but the page itself
    for result in reports[name].results:
        assert result.id in page.text
    assert "Prediction columns" in page.text and "Training curves" in page.text
    pixels = png_pixels(page.screenshot)
    height, width, _ = pixels.shape
    assert width == 1280 and height > 2000  # the full page, no horizontal overflow
    rgb = pixels[:, :, :3].astype(np.uint32)
    packed = (rgb[:, :, 0] << 16 | rgb[:, :, 1] << 8 | rgb[:, :, 2]).ravel()
    colours, counts = np.unique(packed, return_counts=True)
    assert len(colours) > 200, "a blank or nearly blank screenshot"
    assert counts.max() / counts.sum() < 0.9, "one colour covers nearly the whole screenshot"
    red = FAIL_RED[0] << 16 | FAIL_RED[1] << 8 | FAIL_RED[2]
    assert counts[colours == red].sum() > 500  # fail badges and the red bars beyond the bounds
    shots = Path(os.environ.get("RUNVERDICT_SCREENSHOTS", tmp_path_factory.mktemp("shots")))
    shots.mkdir(parents=True, exist_ok=True)
    (shots / f"{name}.png").write_bytes(page.screenshot)
