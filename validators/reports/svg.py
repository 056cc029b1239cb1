"""Tiny inline SVG plots for the HTML report: bars, lines, points, shaded bands; no plotting library.

A ``Plot`` maps data coordinates to pixels and collects SVG elements; ``render()`` returns one
``<svg>`` element to paste into a page. Colours come from CSS classes the page defines (``.bar``,
``.forbid``, ``.c0`` ... ``.c5``), so a plot is a few kilobytes. Every text is escaped; tick labels
are short (``%.6g``) because they only place the axis, while the ``<title>`` tooltips of bars,
lines and points carry exact values (``repr``).
"""

from __future__ import annotations

import math
from html import escape

PALETTE = 6  # the page defines .c0 ... .c5


def exact(value) -> str:
    """``repr`` of a number as Python writes it (never ``np.float64(...)``, never rounded)."""
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    return repr(value)


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About ``n`` round tick positions (1, 2 or 5 times a power of ten) within ``[lo, hi]``."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo] if math.isfinite(lo) else []
    raw = (hi - lo) / max(n, 1)
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(lo / step - 1e-9)
    ticks = []
    k = first
    while k * step <= hi + step * 1e-9 and len(ticks) < 50:
        ticks.append(0.0 if abs(k * step) < step * 1e-9 else k * step)
        k += 1
    return ticks


def tick_label(value: float) -> str:
    return f"{value:.6g}"


def padded(lo: float, hi: float, fraction: float = 0.04) -> tuple[float, float]:
    """``[lo, hi]`` widened by ``fraction`` of its span each side; a point becomes a small interval."""
    if hi < lo:
        lo, hi = hi, lo
    span = hi - lo
    if span == 0 or not math.isfinite(span):
        pad = abs(lo) * 0.1 if lo else 0.5
        return lo - pad, hi + pad
    return lo - span * fraction, hi + span * fraction


class Plot:
    """A chart area with data ranges ``x_range`` and ``y_range`` (each ``(lo, hi)``, lo < hi)."""

    def __init__(self, x_range, y_range, *, width=560, height=250, x_label="", y_label="", label="",
                 log_y=False):
        self.log_y = bool(log_y)  # y_range is then given in data units, > 0, and held as log10
        self.x_lo, self.x_hi = (float(v) for v in x_range)
        self.y_lo, self.y_hi = (math.log10(v) if self.log_y else float(v) for v in y_range)
        if not self.x_hi > self.x_lo:
            self.x_lo, self.x_hi = padded(self.x_lo, self.x_lo)
        if not self.y_hi > self.y_lo:
            self.y_lo, self.y_hi = padded(self.y_lo, self.y_lo)
        self.width, self.height = width, height
        self.left, self.right, self.top, self.bottom = 64, 12, 10, 40
        self.x_label, self.y_label, self.label = x_label, y_label, label
        self._under: list[str] = []  # bands, drawn below the grid and the data
        self._items: list[str] = []
        self._markers = {"start": 0, "end": 0}  # markers stacked at each edge

    # -- coordinates ----------------------------------------------------------------------
    def x(self, value) -> float:
        frac = (float(value) - self.x_lo) / (self.x_hi - self.x_lo)
        frac = min(max(frac, -0.02), 1.02)  # off-scale values sit just outside the axis
        return round(self.left + frac * (self.width - self.left - self.right), 2)

    def y(self, value) -> float:
        value = float(value)
        if self.log_y:
            value = math.log10(value) if value > 0 else self.y_lo - (self.y_hi - self.y_lo)
        frac = (value - self.y_lo) / (self.y_hi - self.y_lo)
        frac = min(max(frac, -0.02), 1.02)
        return round(self.height - self.bottom - frac * (self.height - self.top - self.bottom), 2)

    # -- elements -------------------------------------------------------------------------
    def band_x(self, lo, hi, css, title=""):
        """A vertical band from data x ``lo`` to ``hi`` (None: the plot's edge)."""
        x0 = self.x(self.x_lo if lo is None else max(lo, self.x_lo))
        x1 = self.x(self.x_hi if hi is None else min(hi, self.x_hi))
        if x1 - x0 <= 0:
            return
        self._under.append(f'<rect class="{css}" x="{x0}" y="{self.top}" width="{round(x1 - x0, 2)}" '
                           f'height="{self.height - self.top - self.bottom}">{_title(title)}</rect>')

    def band_y(self, lo, hi, css, title=""):
        """A horizontal band from data y ``lo`` to ``hi`` (None: the plot's edge)."""
        y_min, y_max = (10.0 ** self.y_lo, 10.0 ** self.y_hi) if self.log_y else (self.y_lo, self.y_hi)
        y_top = self.y(y_max if hi is None else min(hi, y_max))
        y_bottom = self.y(y_min if lo is None else max(lo, y_min))
        if y_bottom - y_top <= 0:
            return
        self._under.append(f'<rect class="{css}" x="{self.left}" y="{y_top}" '
                           f'width="{self.width - self.left - self.right}" height="{round(y_bottom - y_top, 2)}">'
                           f'{_title(title)}</rect>')

    def vline(self, value, css, title=""):
        x = self.x(value)
        self._items.append(f'<line class="{css}" x1="{x}" x2="{x}" y1="{self.top}" '
                           f'y2="{self.height - self.bottom}">{_title(title)}</line>')

    def hline(self, value, css, title=""):
        y = self.y(value)
        self._items.append(f'<line class="{css}" x1="{self.left}" x2="{self.width - self.right}" '
                           f'y1="{y}" y2="{y}">{_title(title)}</line>')

    def bars(self, edges, counts, css, titles=None, bottoms=None):
        """Histogram bars: bar ``i`` spans ``edges[i]`` to ``edges[i + 1]`` with height ``counts[i]``,
        stacked on ``bottoms[i]`` when given."""
        for i, count in enumerate(counts):
            if not count:
                continue
            below = float(bottoms[i]) if bottoms is not None else 0.0
            base = self.y(max(self.y_lo, below))
            x0, x1 = self.x(edges[i]), self.x(edges[i + 1])
            top = self.y(below + count)
            w = max(round(x1 - x0, 2), 0.8)  # a bar narrower than a pixel stays visible
            title = titles[i] if titles else f"[{exact(edges[i])}, {exact(edges[i + 1])}): {exact(count)}"
            self._items.append(f'<rect class="{css}" x="{x0}" y="{top}" width="{w}" height="{round(base - top, 2)}">'
                               f'{_title(title)}</rect>')

    def line(self, xs, ys, css, title=""):
        """A polyline through the finite points; NaN or inf breaks it into pieces."""
        pieces, current = [], []
        for x, y in zip(xs, ys):
            if _finite(x) and _finite(y) and (not self.log_y or float(y) > 0):
                current.append(f"{self.x(x)},{self.y(y)}")
            elif current:
                pieces.append(current)
                current = []
        if current:
            pieces.append(current)
        for piece in pieces:
            if len(piece) == 1:
                cx, cy = piece[0].split(",")
                self._items.append(f'<circle class="{css}" cx="{cx}" cy="{cy}" r="2">{_title(title)}</circle>')
            else:
                self._items.append(f'<polyline class="{css}" points="{" ".join(piece)}">{_title(title)}</polyline>')

    def point(self, x, y, css, title="", r=5):
        if _finite(x) and _finite(y) and (not self.log_y or float(y) > 0):
            self._items.append(f'<circle class="{css}" cx="{self.x(x)}" cy="{self.y(y)}" r="{r}">'
                               f'{_title(title)}</circle>')

    def marker(self, x, css, text, title=""):
        """A short labelled tick above the plot area at data ``x`` (e.g. an off-scale reference)."""
        px = self.x(x)
        anchor = "end" if px > self.width / 2 else "start"
        row = self._markers[anchor]
        self._markers[anchor] += 1
        self._items.append(f'<text class="{css} mark" x="{px}" y="{self.top + 12 + 13 * row}" text-anchor="{anchor}">'
                           f'{escape(text)}{_title(title)}</text>')

    # -- output ---------------------------------------------------------------------------
    def render(self) -> str:
        w, h = self.width, self.height
        x0, x1, y0, y1 = self.left, w - self.right, h - self.bottom, self.top
        out = [(f'<svg class="plot" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" '
               f'height="{h}" role="img" aria-label="{escape(self.label)}">')]
        if self.label:
            out.append(f"<title>{escape(self.label)}</title>")
        out += self._under
        for t in nice_ticks(self.x_lo, self.x_hi, 6):
            px = self.x(t)
            out.append(f'<line class="grid" x1="{px}" x2="{px}" y1="{y1}" y2="{y0}"/>'
                       f'<text class="tick" x="{px}" y="{y0 + 14}" text-anchor="middle">{tick_label(t)}</text>')
        if self.log_y:
            y_ticks = [10.0 ** k for k in range(math.ceil(self.y_lo - 1e-9), math.floor(self.y_hi + 1e-9) + 1)]
            if len(y_ticks) > 6:
                y_ticks = y_ticks[::math.ceil(len(y_ticks) / 6)]
        else:
            y_ticks = nice_ticks(self.y_lo, self.y_hi, 4)
        for t in y_ticks:
            py = self.y(t)
            out.append(f'<line class="grid" x1="{x0}" x2="{x1}" y1="{py}" y2="{py}"/>'
                       f'<text class="tick" x="{x0 - 4}" y="{py + 4}" text-anchor="end">{tick_label(t)}</text>')
        out += self._items
        out.append(f'<path class="axis" d="M{x0},{y1} V{y0} H{x1}"/>')
        if self.x_label:
            out.append(f'<text class="axis-label" x="{(x0 + x1) / 2}" y="{h - 6}" text-anchor="middle">'
                       f"{escape(self.x_label)}</text>")
        if self.y_label:
            out.append(f'<text class="axis-label" transform="translate(12 {(y0 + y1) / 2}) rotate(-90)" '
                       f'text-anchor="middle">{escape(self.y_label)}</text>')
        out.append("</svg>")
        return "".join(out)


def _title(text) -> str:
    return f"<title>{escape(str(text))}</title>" if text else ""


def _finite(value) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError, OverflowError):
        return False
