"""Server-side charts: geometry computed here, drawn as inline SVG by a Jinja macro.

No JavaScript (the CSP allows none) and no chart library: a stacked bar chart and a
horizontal bar chart are all the dashboard needs. Text reaches the page only through the
autoescaping template, never by string concatenation here. Colours are the Okabe-Ito
palette (distinguishable with the common colour-vision deficiencies); every chart also
comes with a data table, which is what screen readers use.
"""

from __future__ import annotations

from dataclasses import dataclass, field

PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000")
OTHER_COLOUR = "#8a8a8a"
WIDTH = 720
PLOT_HEIGHT = 220
LEFT, RIGHT, TOP = 44, 12, 12


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    w: float
    h: float
    fill: str
    tip: str  # shown on hover (an SVG <title>)


@dataclass(frozen=True)
class Label:
    x: float
    y: float
    text: str
    anchor: str = "middle"


@dataclass(frozen=True)
class Rule:
    x1: float
    y1: float
    x2: float
    y2: float


@dataclass
class Chart:
    id: str
    title: str
    summary: str  # the SVG <desc>: the gist in one sentence
    width: int
    height: int
    bars: list[Bar] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    legend: list[tuple[str, str]] = field(default_factory=list)  # (colour, name)


def nice_max(value: int) -> int:
    """A round axis maximum at or above ``value``: 1, 2, 5, 10, 20, 50..."""
    if value <= 1:
        return 1
    step = 1
    while True:
        for m in (1, 2, 5):
            if step * m >= value:
                return step * m
        step *= 10


def colours(names: list[str]) -> dict[str, str]:
    return {n: (PALETTE[i] if i < len(PALETTE) else OTHER_COLOUR) for i, n in enumerate(names)}


def stacked_bars(chart_id: str, title: str, categories: list[str],
                 series: list[tuple[str, list[int]]], unit: str) -> Chart:
    """One column per category (a day), stacked by series (a network)."""
    totals = [sum(vals[i] for _, vals in series) for i in range(len(categories))]
    top = nice_max(max(totals, default=0))
    plot_w = WIDTH - LEFT - RIGHT
    chart = Chart(chart_id, title, f"{sum(totals)} {unit} in total; the busiest column has "
                  f"{max(totals, default=0)}.", WIDTH, TOP + PLOT_HEIGHT + 40)
    _y_axis(chart, top)
    slot = plot_w / max(len(categories), 1)
    palette = colours([name for name, _ in series])
    for i, category in enumerate(categories):
        x = LEFT + i * slot + slot * 0.15
        y: float = TOP + PLOT_HEIGHT
        for name, vals in series:
            if vals[i] <= 0:
                continue
            h = vals[i] / top * PLOT_HEIGHT
            y -= h
            chart.bars.append(Bar(round(x, 1), round(y, 1), round(slot * 0.7, 1), round(h, 1),
                                  palette[name], f"{category}, {name}: {vals[i]} {unit}"))
        chart.labels.append(Label(round(LEFT + i * slot + slot / 2, 1), TOP + PLOT_HEIGHT + 16, category))
    chart.legend = [(palette[name], name) for name, _ in series]
    return chart


def horizontal_bars(chart_id: str, title: str, rows: list[tuple[str, int]], unit: str) -> Chart:
    """One bar per row (a verification outcome), longest meaning most."""
    label_w, row_h = 130, 28
    top = nice_max(max((v for _, v in rows), default=0))
    plot_w = WIDTH - label_w - RIGHT - 40
    chart = Chart(chart_id, title, f"{sum(v for _, v in rows)} {unit} in total.", WIDTH,
                  TOP + row_h * max(len(rows), 1) + 8)
    palette = colours([name for name, _ in rows])
    for i, (name, value) in enumerate(rows):
        y = TOP + i * row_h
        w = value / top * plot_w
        chart.labels.append(Label(label_w - 8, y + row_h * 0.62, name, "end"))
        chart.bars.append(Bar(label_w, y + 4, round(w, 1), row_h - 8, palette[name],
                              f"{name}: {value} {unit}"))
        chart.labels.append(Label(round(label_w + w + 6, 1), y + row_h * 0.62, str(value), "start"))
    return chart


def _y_axis(chart: Chart, top: int) -> None:
    base = TOP + PLOT_HEIGHT
    for frac in (0.0, 0.5, 1.0):
        value = top * frac
        if frac == 0.5 and top % 2:
            continue  # no half ticks on odd maxima such as 1 or 5
        y = round(base - frac * PLOT_HEIGHT, 1)
        chart.rules.append(Rule(LEFT, y, WIDTH - RIGHT, y))
        chart.labels.append(Label(LEFT - 6, y + 4, str(int(value)), "end"))
