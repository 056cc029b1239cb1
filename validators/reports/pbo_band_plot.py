"""The HTML report's plot of PBO's band: the skill-less (null) distribution of PBO, the bootstrap
distribution, the observed PBO and its interval, from a ``pbo`` check's ``evidence["band"]``."""

from __future__ import annotations

import math
from html import escape

from .markdown import printable, value_text
from .svg import Plot, exact


def h(text) -> str:
    return escape(printable(text), quote=True)


def _histogram(value):
    """``(counts, edges)`` of a well-formed histogram, else None."""
    if not isinstance(value, dict):
        return None
    counts, edges = value.get("counts"), value.get("edges")
    if not (isinstance(counts, (list, tuple)) and isinstance(edges, (list, tuple)) and counts
            and len(edges) == len(counts) + 1):
        return None
    try:
        counts, edges = [int(c) for c in counts], [float(e) for e in edges]
    except (TypeError, ValueError):
        return None
    if not all(math.isfinite(e) for e in edges) or any(c < 0 for c in counts):
        return None
    return counts, edges


def band_panel(result) -> str:
    """One panel: both resampled PBO distributions, the observed PBO and the interval; "" without a band."""
    evidence = result.evidence or {}
    band = evidence.get("band")
    if not isinstance(band, dict) or not band.get("computed"):
        return ""
    null, boot = _histogram(band.get("null_histogram")), _histogram(band.get("bootstrap_histogram"))
    if null is None and boot is None:
        return ""
    top = max([max(c) for c, _ in (null, boot) if c is not None] + [1])
    plot = Plot((0.0, 1.0), (0, top * 1.08), x_label="PBO of a resample", y_label="resamples",
                label=f"PBO band of {result.id}")
    interval = band.get("interval")
    if isinstance(interval, (list, tuple)) and len(interval) == 2 and all(
            isinstance(v, (int, float)) and math.isfinite(v) for v in interval):
        plot.band_x(float(interval[0]), float(interval[1]), "interval",
                    f"{value_text(band.get('level'))} interval [{exact(interval[0])}, {exact(interval[1])}]")
    for name, hist, css in (("skill-less (null)", null, "bar l1"), ("bootstrap", boot, "bar l0")):
        if hist is not None:
            counts, edges = hist
            titles = [f"{name}: [{exact(edges[i])}, {exact(edges[i + 1])}): {c} resamples" for i, c in enumerate(counts)]
            plot.bars(edges, counts, css, titles)
    observed = evidence.get("pbo", result.observed)
    if isinstance(observed, (int, float)) and math.isfinite(observed):
        plot.vline(float(observed), "c3 dash", f"observed PBO {exact(observed)}")
    level = band.get("level")
    level = f"{level * 100:g}%" if isinstance(level, (int, float)) and math.isfinite(level) else value_text(level)
    head = (f"{result.id}: PBO {value_text(observed)}, {level} interval "
            f"{value_text(interval)}, null share {value_text(band.get('null_share'))} of "
            f"{value_text(band.get('resamples'))} skill-less resamples")
    return (f'<div class="panel"><h4>{h(head)}</h4>{plot.render()}'
            '<p class="note">Bars: PBO over block-bootstrap resamples (blue) and over skill-less resamples, each '
            "trial's mean removed (orange); shaded: the interval; dashed: the observed PBO. A small null share "
            "means the selection beats luck; it does not make PBO a test of skill by itself.</p></div>")
