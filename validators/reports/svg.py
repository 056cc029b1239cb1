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

from .markdown import printable

PALETTE = 6  # the page defines .c0 ... .c5
TINY_STEP = 1e-300  # below this a tick step is not worth rounding (and 10 ** floor(log10) underflows)


def exact(value) -> str:
    """``repr`` of a number as Python writes it (never ``np.float64(...)``, never rounded)."""
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    return repr(value)


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About ``n`` round tick positions (1, 2 or 5 times a power of ten) within ``[lo, hi]``.

    Any finite ``lo < hi`` works: a span that overflows a float (``-1e308`` to ``1e308``) is
    stepped in halves, and a span too small for round steps (subnormal, below ``1e-300``) gets
    ticks at its two ends only.
    """
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo] if math.isfinite(lo) else []
    m = max(n, 2)
    raw = (hi - lo) / m
    if not math.isfinite(raw):
        raw = hi / m - lo / m
    if not raw >= TINY_STEP:
        return [lo, hi]
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(k * power for k in (1, 2, 5, 10) if k * power >= raw)
    if not math.isfinite(step):
        return [lo, hi]
    first = math.ceil(lo / step - 1e-9)
    ticks = []
    k = first
    while k * step <= hi + step * 1e-9 and len(ticks) < 50:
        ticks.append(0.0 if abs(k * step) < step * 1e-9 else k * step)
        k += 1
    return [t for t in ticks if math.isfinite(t)] or [lo, hi]


def tick_label(value: float) -> str:
    return f"{value:.6g}"


def power_label(exponent: int) -> str:
    """``10 ** exponent`` as a tick label: ``0.001``, ``1e+300``, ``1e-323`` (never ``9.88131e-324``)."""
    if -4 <= exponent <= 5:
        return tick_label(10.0 ** exponent)
    return f"1e{'+' if exponent >= 0 else '-'}{abs(exponent):02d}"


def padded(lo: float, hi: float, fraction: float = 0.04) -> tuple[float, float]:
    """``[lo, hi]`` widened by ``fraction`` of its span each side; a point becomes a small interval.

    For finite ``lo`` and ``hi`` the result is finite with ``lo' < hi'``, whatever their scale: where
    padding would overflow the interval is kept as it is, and a point too small to widen by a tenth
    (``5e-324``) becomes the interval between its neighbouring floats.
    """
    lo, hi = float(lo), float(hi)
    if hi < lo:
        lo, hi = hi, lo
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return lo, hi
    span = hi - lo
    if span == 0:
        pad = abs(lo) * 0.1 if lo else 0.5
        a, b = lo - pad, hi + pad
    else:
        a, b = lo - span * fraction, hi + span * fraction
    if not (math.isfinite(a) and math.isfinite(b) and (math.isfinite(b - a) or not math.isfinite(span))):
        a, b = lo, hi  # no room to pad within a float
    if not b > a:
        a, b = math.nextafter(lo, -math.inf), math.nextafter(hi, math.inf)
        a, b = (lo if math.isinf(a) else a), (hi if math.isinf(b) else b)
    return a, b


def fraction_of(value: float, lo: float, hi: float) -> float:
    """Where ``value`` lies on ``[lo, hi]`` (0 at ``lo``, 1 at ``hi``), without overflow: a span
    wider than a float holds is measured in halves. NaN is ``-inf`` (off the axis)."""
    span = hi - lo
    if math.isfinite(span):
        frac = (value - lo) / span
    else:
        frac = (value / 2 - lo / 2) / (hi / 2 - lo / 2)
    return -math.inf if math.isnan(frac) else frac


def _axis(lo, hi) -> tuple[float, float]:
    """A finite axis range with ``lo < hi`` from whatever a caller passed."""
    lo, hi = float(lo), float(hi)
    if not math.isfinite(lo):
        lo = hi - 1.0 if math.isfinite(hi) else 0.0
    if not math.isfinite(hi):
        hi = lo + 1.0
    if not hi > lo:
        lo, hi = padded(lo, lo)
    return lo, hi


class Plot:
    """A chart area with data ranges ``x_range`` and ``y_range`` (each ``(lo, hi)``, lo < hi).

    ``log_y``: the y axis is logarithmic; its range is then ``y_log10`` (the exponents, e.g.
    ``(-323.3, 300.2)``) or else ``y_range`` in data units (> 0). Any finite data draws: pixel
    positions never overflow, and a value beyond the axis sits just outside it.
    """

    def __init__(self, x_range, y_range, *, width=560, height=250, x_label="", y_label="", label="",
                 log_y=False, y_log10=None):
        self.log_y = bool(log_y)  # y_lo, y_hi are then log10 of the data
        self.x_lo, self.x_hi = _axis(*x_range)
        if self.log_y and y_log10 is not None:
            self.y_lo, self.y_hi = _axis(*y_log10)
        elif self.log_y:
            self.y_lo, self.y_hi = _axis(*(_log10(v) for v in y_range))
        else:
            self.y_lo, self.y_hi = _axis(*y_range)
        self.width, self.height = width, height
        self.left, self.right, self.top, self.bottom = 64, 12, 10, 40
        self.x_label, self.y_label, self.label = x_label, y_label, label
        self._under: list[str] = []  # bands, drawn below the grid and the data
        self._items: list[str] = []
        self._markers = {"start": 0, "end": 0}  # markers stacked at each edge

    # -- coordinates ----------------------------------------------------------------------
    def x(self, value) -> float:
        frac = fraction_of(float(value), self.x_lo, self.x_hi)
        frac = min(max(frac, -0.02), 1.02)  # off-scale values sit just outside the axis
        return round(self.left + frac * (self.width - self.left - self.right), 2)

    def axis_y(self, value) -> float:
        """``value`` in the y axis' units: itself, or its log10 on a log axis (a value <= 0 below it)."""
        value = float(value)
        if self.log_y:
            return _log10(value) if value > 0 else self.y_lo - (self.y_hi - self.y_lo)
        return value

    def y(self, value) -> float:
        return self._py(self.axis_y(value))

    def _py(self, axis_value) -> float:
        frac = fraction_of(axis_value, self.y_lo, self.y_hi)
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
        y_top = self._py(self.y_hi if hi is None else min(self.axis_y(hi), self.y_hi))
        y_bottom = self._py(self.y_lo if lo is None else max(self.axis_y(lo), self.y_lo))
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
                           f'{_escape(text)}{_title(title)}</text>')

    # -- output ---------------------------------------------------------------------------
    def render(self) -> str:
        w, h = self.width, self.height
        x0, x1, y0, y1 = self.left, w - self.right, h - self.bottom, self.top
        out = [(f'<svg class="plot" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" '
               f'height="{h}" role="img" aria-label="{_escape(self.label)}">')]
        if self.label:
            out.append(f"<title>{_escape(self.label)}</title>")
        out += self._under
        for t in nice_ticks(self.x_lo, self.x_hi, 6):
            px = self.x(t)
            out.append(f'<line class="grid" x1="{px}" x2="{px}" y1="{y1}" y2="{y0}"/>'
                       f'<text class="tick" x="{px}" y="{y0 + 14}" text-anchor="middle">{tick_label(t)}</text>')
        if self.log_y:  # a tick at each power of ten a float holds, at most about six
            powers = list(range(max(math.ceil(self.y_lo - 1e-9), -323), min(math.floor(self.y_hi + 1e-9), 308) + 1))
            if len(powers) > 6:
                powers = powers[::math.ceil(len(powers) / 6)]
            y_ticks = [(self._py(k), power_label(k)) for k in powers]
        else:
            y_ticks = [(self.y(t), tick_label(t)) for t in nice_ticks(self.y_lo, self.y_hi, 4)]
        for py, text in y_ticks:
            out.append(f'<line class="grid" x1="{x0}" x2="{x1}" y1="{py}" y2="{py}"/>'
                       f'<text class="tick" x="{x0 - 4}" y="{py + 4}" text-anchor="end">{text}</text>')
        out += self._items
        out.append(f'<path class="axis" d="M{x0},{y1} V{y0} H{x1}"/>')
        if self.x_label:
            out.append(f'<text class="axis-label" x="{(x0 + x1) / 2}" y="{h - 6}" text-anchor="middle">'
                       f"{_escape(self.x_label)}</text>")
        if self.y_label:
            out.append(f'<text class="axis-label" transform="translate(12 {(y0 + y1) / 2}) rotate(-90)" '
                       f'text-anchor="middle">{_escape(self.y_label)}</text>')
        out.append("</svg>")
        return "".join(out)


def _title(text) -> str:
    return f"<title>{_escape(text)}</title>" if text else ""


def _escape(text) -> str:
    """Text as SVG (XML) can hold it: markup escaped, control characters and lone surrogates as escapes."""
    return escape(printable(text))


def _log10(value: float) -> float:
    """``log10`` of a positive float, subnormals included (``5e-324``: -323.3); inf is 309 (off any axis)."""
    return math.log10(value) if value < math.inf else 309.0


def _finite(value) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError, OverflowError):
        return False
