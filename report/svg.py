"""Small hand-written SVG charts (no plotting library, no script): the report inlines them.

Each function returns one `<svg>` element as a string; values are escaped, sizes are in px.
"""

import html
import math
from typing import List, Optional, Sequence, Tuple

SERIES_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd")
FONT = 'font-family="sans-serif"'


def _text(x: float, y: float, text: str, anchor: str = "start", extra: str = "",
          size: int = 12) -> str:
    """One `<text>`; `size` is its own argument so no attribute is written twice (XML refuses)."""
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" {FONT} font-size="{size}" '
            f'{extra}>'
            f'{html.escape(str(text))}</text>')


def _ticks(low: float, high: float, count: int = 5) -> List[float]:
    """Round tick values covering [low, high]."""
    if high <= low:
        high = low + 1.0
    step = 10 ** math.floor(math.log10((high - low) / count))
    for factor in (1, 2, 5, 10):
        if (high - low) / (step * factor) <= count:
            step *= factor
            break
    start = math.floor(low / step) * step
    return [start + i * step for i in range(int(math.ceil((high - start) / step)) + 1)]


def line_chart(series: Sequence[Tuple[str, Sequence[float]]], x_label: str, y_label: str,
               width: int = 560, height: int = 300) -> str:
    """One line per (name, values); x is 1..n (epochs)."""
    values = [v for _, points in series for v in points if v is not None and math.isfinite(v)]
    if not values:
        return ""
    left, right, top, bottom = 60, 130, 16, 42
    ticks = _ticks(min(0.0, min(values)), max(values))
    low, high = ticks[0], ticks[-1]
    count = max(len(points) for _, points in series)
    plot_w, plot_h = width - left - right, height - top - bottom
    x = lambda i: left + (plot_w * i / max(count - 1, 1))  # noqa: E731
    y = lambda v: top + plot_h * (1 - (v - low) / ((high - low) or 1))  # noqa: E731
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="{html.escape(y_label)} '
             f'per {html.escape(x_label)}">']
    for tick in ticks:
        parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y(tick):.1f}" '
                     f'y2="{y(tick):.1f}" stroke="#ddd"/>')
        parts.append(_text(left - 6, y(tick) + 4, f"{tick:g}", "end"))
    step = max(1, count // 10)
    for i in range(0, count, step):
        parts.append(_text(x(i), top + plot_h + 16, str(i + 1), "middle"))
    parts.append(_text(left + plot_w / 2, height - 6, x_label, "middle"))
    parts.append(_text(14, top + plot_h / 2, y_label, "middle",
                       f'transform="rotate(-90 14 {top + plot_h / 2:.1f})"'))
    for index, (name, points) in enumerate(series):
        colour = SERIES_COLOURS[index % len(SERIES_COLOURS)]
        coords = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(points)
                          if v is not None and math.isfinite(v))
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" '
                     f'points="{coords}"/>')
        for i, v in enumerate(points):
            if v is not None and math.isfinite(v):
                parts.append(f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="3" fill="{colour}">'
                             f'<title>{html.escape(name)} epoch {i + 1}: {v:.4f}</title>'
                             f'</circle>')
        legend_y = top + 10 + 18 * index
        parts.append(f'<line x1="{left + plot_w + 12}" x2="{left + plot_w + 32}" '
                     f'y1="{legend_y}" y2="{legend_y}" stroke="{colour}" stroke-width="3"/>')
        parts.append(_text(left + plot_w + 38, legend_y + 4, name))
    parts.append("</svg>")
    return "".join(parts)


def axis_floor(values: Sequence[float]) -> float:
    """Where a [0, 1] bar axis should start so that close values still differ visibly: 0,
    or a round value below the smallest when all are above 0.5."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite or min(finite) <= 0.5:
        return 0.0
    return max(0.0, math.floor(min(finite) * 20) / 20 - 0.05)


def bar_chart(rows: Sequence[Tuple[str, float, str]], value_label: str,
              width: int = 820, bar_height: int = 18,
              reference: Optional[Tuple[str, float]] = None, low: float = 0.0) -> str:
    """Horizontal bars in the given order: (label, value in [0, 1], text after the bar).

    The axis runs from `low` to 1 (see axis_floor); `reference` draws a dashed vertical line
    (e.g. the overall value) to compare against.
    """
    if not rows:
        return ""
    left, right, top = 200, 190, 22
    plot_w = width - left - right
    height = top + bar_height * len(rows) + 30
    position = lambda v: plot_w * (max(low, min(1.0, v)) - low) / (1.0 - low)  # noqa: E731
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="{html.escape(value_label)} per slice">']
    for step in range(5):
        tick = low + (1.0 - low) * step / 4
        tx = left + position(tick)
        parts.append(f'<line x1="{tx:.1f}" x2="{tx:.1f}" y1="{top - 4}" '
                     f'y2="{top + bar_height * len(rows)}" stroke="#e4e4e4"/>')
        parts.append(_text(tx, top - 8, f"{tick:.4g}", "middle"))
    for index, (label, value, note) in enumerate(rows):
        y = top + index * bar_height
        shown = 0.0 if value is None or not math.isfinite(value) else max(0.0, min(1.0, value))
        hue = int(120 * (max(shown, low) - low) / (1.0 - low))  # red (worst) to green
        parts.append(_text(left - 8, y + bar_height - 5, label, "end"))
        parts.append(f'<rect x="{left}" y="{y + 2}" width="{position(shown):.1f}" '
                     f'height="{bar_height - 4}" fill="hsl({hue},55%,50%)">'
                     f'<title>{html.escape(label)}: {value_label} {shown:.4f}</title></rect>')
        parts.append(_text(left + position(shown) + 6, y + bar_height - 5,
                           f"{shown:.3f} {note}".strip()))
    if reference is not None:
        rx = left + position(reference[1])
        parts.append(f'<line x1="{rx:.1f}" x2="{rx:.1f}" y1="{top - 4}" '
                     f'y2="{top + bar_height * len(rows)}" stroke="#333" '
                     f'stroke-dasharray="4 3"/>')
        parts.append(_text(rx, top + bar_height * len(rows) + 16,
                           f"{reference[0]} {reference[1]:.3f}", "middle"))
    parts.append("</svg>")
    return "".join(parts)


def heat_map(matrix: Sequence[Sequence[int]], labels: Sequence[str], cell: int = 110) -> str:
    """A confusion matrix (rows true, columns predicted): each cell shows the count and the
    row-normalized rate, shaded by the rate."""
    size = len(labels)
    left, top = 110, 56
    width, height = left + cell * size + 10, top + cell * size + 10
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="pixel confusion matrix">']
    parts.append(_text(left + cell * size / 2, 14, "predicted class", "middle",
                       'font-weight="bold"'))
    parts.append(_text(12, top + cell * size / 2, "true class", "middle",
                       f'font-weight="bold" transform="rotate(-90 12 {top + cell * size / 2})"'))
    for column, label in enumerate(labels):
        parts.append(_text(left + cell * column + cell / 2, top - 10, label, "middle"))
    for row, label in enumerate(labels):
        total = sum(matrix[row])
        parts.append(_text(left - 8, top + cell * row + cell / 2 + 4, label, "end"))
        for column in range(size):
            count = matrix[row][column]
            rate = count / total if total else 0.0
            light = int(97 - 62 * rate)  # darker blue for a larger share of the row
            x, y = left + cell * column, top + cell * row
            colour = "#fff" if light < 60 else "#111"
            parts.append(f'<rect x="{x}" y="{y}" width="{cell}" height="{cell}" '
                         f'fill="hsl(212,70%,{light}%)" stroke="#fff" stroke-width="2"/>')
            parts.append(_text(x + cell / 2, y + cell / 2 - 4, f"{rate:.1%}", "middle",
                               f'fill="{colour}"', size=17))
            parts.append(_text(x + cell / 2, y + cell / 2 + 16, f"{count:,} px", "middle",
                               f'fill="{colour}"'))
    parts.append("</svg>")
    return "".join(parts)


def range_chart(rows: Sequence[Tuple[str, Sequence[float], Optional[float]]], unit: str = "",
                width: int = 360, row_height: int = 18) -> str:
    """One row per (name, deciles, median): a bar from the 10th to the 90th percentile, thin
    whiskers to the minimum and maximum (the first and last decile boundaries), a tick at the
    median. For comparing one measured feature across splits and spans."""
    values = [v for _, deciles, _ in rows for v in deciles if math.isfinite(v)]
    if not values:
        return ""
    left, right, top = 110, 12, 4
    ticks = _ticks(min(values), max(values), 4)
    low, high = ticks[0], ticks[-1]
    span = (high - low) or 1.0
    x = lambda value: left + (width - left - right) * (value - low) / span  # noqa: E731
    height = top + row_height * len(rows) + 20
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'role="img">']
    for index, (name, deciles, median) in enumerate(rows):
        y = top + index * row_height + row_height / 2
        colour = SERIES_COLOURS[index % len(SERIES_COLOURS)]
        parts.append(_text(left - 6, y + 4, name, "end"))
        if len(deciles) >= 3:
            parts.append(f'<line x1="{x(deciles[0]):.1f}" x2="{x(deciles[-1]):.1f}" '
                         f'y1="{y:.1f}" y2="{y:.1f}" stroke="{colour}"/>')
            parts.append(f'<rect x="{x(deciles[1]):.1f}" y="{y - 5:.1f}" '
                         f'width="{max(1.0, x(deciles[-2]) - x(deciles[1])):.1f}" height="10" '
                         f'fill="{colour}" fill-opacity="0.35" stroke="{colour}"/>')
        if median is not None and math.isfinite(median):
            parts.append(f'<line x1="{x(median):.1f}" x2="{x(median):.1f}" y1="{y - 7:.1f}" '
                         f'y2="{y + 7:.1f}" stroke="{colour}" stroke-width="2"/>')
    axis_y = top + row_height * len(rows) + 4
    for tick in ticks:
        label = f"{tick:,.0f}" if span >= 10 else f"{tick:.2g}"
        parts.append(_text(x(tick), axis_y + 12, label + unit.strip(), "middle"))
    parts.append("</svg>")
    return "".join(parts)
