"""A sweep's HTML page (``runverdict check RUN1 RUN2 ... --html PATH``): one row per run linking to a section
holding that run's whole report, ids unique on the page, self-contained; rendered in headless Chromium."""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from browser import png_pixels
from factory import SPEC
from test_html import assert_self_contained

from validators import cli

ROOT = Path(__file__).resolve().parents[2]
RUNS = [*sorted((ROOT / "fixtures" / "other_pipeline" / "runs").iterdir()), ROOT / "fixtures" / "runs" / "run3_relu"]


@pytest.fixture(scope="module")
def sweep_page(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep-html")
    missing = out / "missing"
    code = cli.main(["check", *map(str, RUNS), str(missing), "--spec", str(SPEC), "--jobs", "2", "--quiet",
                     "--rank-by", "val_direction_auc", "--html", str(out / "sweep.html"),
                     "--json", str(out / "sweep.json")])
    return code, out / "sweep.html", json.loads((out / "sweep.json").read_text())


def test_one_row_per_run_linking_to_its_section(sweep_page):
    code, path, doc = sweep_page
    assert code == 2
    text = path.read_text(encoding="utf-8")
    page = assert_self_contained(text)
    ids = re.findall(r'\sid="([^"]*)"', text)
    assert [k for k, n in Counter(ids).items() if n > 1] == []  # every id once on the page
    links = set(re.findall(r'href="#([^"]*)"', text))
    assert links <= set(ids), links - set(ids)  # every in-page link has its target
    runs_table = text.split('<section id="runs">', 1)[1].split("</section>", 1)[0]
    rows = re.findall(r"<tr class=\"(\w+)\">(.*?)</tr>", runs_table)
    ranked = [r["run"] for r in doc["ranking"]]
    assert len(rows) == len(ranked) == len(RUNS) + 1
    for (verdict, row), run in zip(rows, doc["ranking"]):
        assert verdict == run["verdict"]
        given = next(d for d in [*map(str, RUNS), "missing"] if run["run"].endswith(os.path.basename(d)))
        assert os.path.basename(given) in row
    for i, run in enumerate(doc["runs"]):  # each run's section: its whole report, its checks failing first
        section = text.split(f'<section class="run" id="run-{i}">', 1)[1].split('<section class="run"', 1)[0]
        if "checks" not in run:
            assert "not checked" in section
            continue
        assert f'id="run-{i}-checks"' in section and f'id="run-{i}-decision"' in section
        assert f"Decision: {run['decision']['action']}" in section
        for check in run["checks"]:
            assert check["id"] in section
        order = re.findall(r'<tr id="run-\d+-check-\d+-[^"]*" class="(\w+)">', section)
        assert order == sorted(order, key=lambda c: c == "pass")  # failing first
    best = doc["best_run"]
    assert best.endswith("run3_relu") and "Best run:" in page.text


def test_sweep_page_in_headless_chromium(chromium, sweep_page, tmp_path_factory):
    _, path, doc = sweep_page
    url = path.resolve().as_uri()
    page = chromium.load(url)
    assert page.errors == []
    assert page.requests == [url]  # nothing fetched but the page itself
    assert "runverdict sweep: 6 runs, exit 2" in page.text
    for run in doc["runs"]:
        for check in run.get("checks", ()):
            assert check["id"] in page.text
    assert page.text.count("Prediction columns") == len(RUNS)  # each checked run's plots
    pixels = png_pixels(page.screenshot)
    height, width, _ = pixels.shape
    assert width == 1280 and height > 2000 * len(RUNS)  # the full page, no horizontal overflow
    rgb = pixels[:, :, :3].astype(np.uint32)
    packed = (rgb[:, :, 0] << 16 | rgb[:, :, 1] << 8 | rgb[:, :, 2]).ravel()
    colours = np.unique(packed)
    assert len(colours) > 200, "a blank or nearly blank screenshot"
    shots = Path(os.environ.get("RUNVERDICT_SCREENSHOTS", tmp_path_factory.mktemp("shots")))
    shots.mkdir(parents=True, exist_ok=True)
    (shots / "sweep.png").write_bytes(page.screenshot)
