"""The HTML report plots PBO's band: both resampled distributions, the observed PBO, the interval."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from validators.gate import evaluate
from validators.reports.html import to_html
from validators.spec import load_spec, parse_spec

REPO = Path(__file__).resolve().parents[2]
RUN = REPO / "fixtures" / "runs" / "run3_relu"
PLAN = REPO / "checks" / "run3.toml"


def _pbo_section(html: str) -> str:
    return html.split('<section id="pbo">', 1)[1].split("</section>", 1)[0]


def test_the_band_is_plotted_beside_the_logits():
    report = evaluate(load_spec(PLAN), RUN)
    band = next(r for r in report.results if r.id == "pbo").evidence["band"]
    section = _pbo_section(to_html(report))
    assert "PBO band of pbo" in section and "90% interval" in section
    assert f"observed PBO {report.results[[r.id for r in report.results].index('pbo')].observed!r}" in section
    lo, hi = band["interval"]
    assert f"interval [{lo!r}, {hi!r}]" in section
    svgs = re.findall(r"<svg.*?</svg>", section, flags=re.S)
    assert len(svgs) == 2  # the logits and the band, once for the two checks sharing one computation
    for svg in svgs:
        ET.fromstring(svg)  # well-formed
    assert sum(c for c in band["null_histogram"]["counts"]) + band["null_undefined"] == band["resamples"]


def test_no_band_no_plot(tmp_path):
    text = PLAN.read_text().replace("resamples = 200", "resamples = 0")
    assert "resamples = 0" in text
    report = evaluate(parse_spec(text, "gate.toml"), RUN)
    assert "PBO band of" not in _pbo_section(to_html(report))
