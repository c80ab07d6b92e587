"""Chart geometry for the reports page; `templates/web/_charts.html` draws it as inline SVG.

Why our own and not a charting library: the page's Content-Security-Policy allows no inline
style or script, and the common Python SVG libraries (pygal, for one) put a <style> element
and, unless told otherwise, a <script> from their CDN inside every chart; their tooltips need
that script. The charts here are two shapes (columns, grouped or stacked, and labelled rows),
about 150 lines: positions are computed here, colours come from classes in the app's own
stylesheet, and each chart is `role="img"` with a <title>, its figures repeated in a table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

WIDTH = 360
COLUMN_HEIGHT = 210
ROW_HEIGHT = 26
LABEL_CHAR_PX = 6.2  # an average character of the 11px chart font
_PAD_LEFT, _PAD_RIGHT, _PAD_TOP, _PAD_BOTTOM = 34, 8, 12, 24


@dataclass(frozen=True)
class Series:
    name: str
    css: str  # a class of the stylesheet's chart palette, e.g. "c0"
    values: Sequence[int]


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    width: float
    height: float
    css: str
    label: str  # said by the <title> of the shape (a hover hint; the table has it all)


@dataclass(frozen=True)
class Text:
    x: float
    y: float
    label: str


@dataclass
class Chart:
    id: str
    title: str
    width: int
    height: int
    rects: list[Rect] = field(default_factory=list)
    y_ticks: list[Text] = field(default_factory=list)  # value labels at grid lines
    grid: list[float] = field(default_factory=list)  # y of each grid line
    x_labels: list[Text] = field(default_factory=list)
    row_labels: list[Text] = field(default_factory=list)
    value_labels: list[Text] = field(default_factory=list)
    legend: list[tuple[str, str]] = field(default_factory=list)  # (name, css)
    plot_left: float = _PAD_LEFT
    plot_right: float = WIDTH - _PAD_RIGHT
    baseline: float = 0.0
    empty: bool = False


def nice_step(top: float, most_ticks: int = 5) -> int:
    """A grid step of 1, 2 or 5 times a power of ten that fits `top` in `most_ticks` steps."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor * most_ticks >= top:
                return step * factor
        step *= 10


def column_chart(chart_id: str, title: str, categories: Sequence[str],
                 series: Sequence[Series], stacked: bool = False) -> Chart:
    """Vertical bars, one group (or one stack) per category, with a grid and a legend."""
    height = COLUMN_HEIGHT
    chart = Chart(chart_id, title, WIDTH, height,
                  legend=[(s.name, s.css) for s in series] if len(series) > 1 else [])
    top_y, base_y = _PAD_TOP, height - _PAD_BOTTOM
    chart.baseline = base_y
    if stacked:
        peak = max((sum(s.values[i] for s in series) for i in range(len(categories))), default=0)
    else:
        peak = max((v for s in series for v in s.values), default=0)
    chart.empty = peak == 0
    step = nice_step(max(peak, 1))
    top_value = step * max(1, -(-max(peak, 1) // step))
    scale = (base_y - top_y) / top_value
    for value in range(0, top_value + 1, step):
        y = base_y - value * scale
        chart.grid.append(y)
        chart.y_ticks.append(Text(_PAD_LEFT - 4, y + 4, str(value)))
    slot = (chart.plot_right - chart.plot_left) / max(1, len(categories))
    gap = min(8.0, slot * 0.2)
    bar_room = slot - gap
    for i, category in enumerate(categories):
        left = chart.plot_left + i * slot + gap / 2
        stack_top = base_y
        for j, one in enumerate(series):
            value = one.values[i]
            if value <= 0:
                continue
            h = value * scale
            if stacked:
                x, w, y = left, bar_room, stack_top - h
                stack_top = y
            else:
                w = bar_room / len(series)
                x, y = left + j * w, base_y - h
            chart.rects.append(Rect(round(x, 1), round(y, 1), round(max(w, 0.5), 1),
                                    round(h, 1), one.css, f"{category}: {value} {one.name}"))
    every = _label_stride(categories, slot)
    for i, category in enumerate(categories):
        if i % every == 0:
            chart.x_labels.append(Text(round(chart.plot_left + (i + 0.5) * slot, 1),
                                       height - 8, category))
    return chart


def row_chart(chart_id: str, title: str, rows: Sequence[tuple[str, int, str]]) -> Chart:
    """Horizontal bars, one labelled row each with its value at the end: (label, value, css)."""
    label_room = 104
    height = len(rows) * ROW_HEIGHT + 8
    chart = Chart(chart_id, title, WIDTH, height, plot_left=label_room)
    peak = max((value for _, value, _ in rows), default=0)
    chart.empty = peak == 0
    room = chart.plot_right - label_room - 36  # space for the value after the bar
    for i, (label, value, css) in enumerate(rows):
        y = 4 + i * ROW_HEIGHT
        w = room * value / peak if peak else 0
        chart.row_labels.append(Text(label_room - 6, y + 16, label))
        if value > 0:
            chart.rects.append(Rect(label_room, y + 3, round(max(w, 1.5), 1), ROW_HEIGHT - 8,
                                    css, f"{label}: {value}"))
        chart.value_labels.append(Text(round(label_room + w + 5, 1), y + 16, str(value)))
    return chart


def _label_stride(categories: Sequence[str], slot: float) -> int:
    """Show every n-th category label so that labels never overlap."""
    longest = max((len(c) for c in categories), default=1) * LABEL_CHAR_PX + 6
    return max(1, -(-int(longest) // max(1, int(slot))))
