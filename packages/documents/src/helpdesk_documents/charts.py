"""Charts for PDFs, rendered server-side by matplotlib as SVG (vectors: sharp in print).

Figures are built with the object API, never pyplot's global state, so several threads can
draw at once. Text is kept as text (``svg.fonttype: none``), so it stays searchable in the PDF.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

from cycler import cycler
from matplotlib import rc_context
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

_CM = 1 / 2.54
_PALETTE = ["#1d4ed8", "#16a34a", "#dc2626", "#d97706", "#7c3aed", "#0891b2"]
_STYLE: Any = {
    "svg.fonttype": "none",
    "font.size": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.prop_cycle": cycler(color=_PALETTE),
}


def _svg(figure: Figure) -> str:
    buffer = io.StringIO()
    FigureCanvasSVG(figure).print_svg(buffer)
    return buffer.getvalue()


def line_chart(
    x_labels: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    *,
    title: str | None = None,
    width_cm: float = 17,
    height_cm: float = 6.5,
    integers: bool = True,
) -> str:
    """One line per series over the same x labels (a trend per day, week or month);
    ``integers``: the values are counts, so the axis shows no 0.2 tickets."""
    with rc_context(_STYLE):
        figure = Figure(figsize=(width_cm * _CM, height_cm * _CM), layout="constrained")
        axes = figure.add_subplot()
        positions = list(range(len(x_labels)))
        for name, values in series.items():
            points = [float("nan") if v is None else v for v in values]
            axes.plot(positions, points, label=name, linewidth=1.4, marker="o", markersize=2)
        step = max(1, len(x_labels) // 12)
        axes.set_xticks(positions[::step], [x_labels[i] for i in positions[::step]])
        axes.tick_params(axis="x", labelrotation=30)
        axes.grid(axis="y", linewidth=0.3)
        axes.set_ylim(bottom=0)
        if integers:
            axes.yaxis.set_major_locator(MaxNLocator(integer=True))
        if title:
            axes.set_title(title, loc="left", fontsize=9)
        if len(series) > 1:
            # Above the plot, never over the lines (constrained layout makes room for it).
            figure.legend(frameon=False, ncols=min(4, len(series)), loc="outside upper right")
        return _svg(figure)


def bar_chart(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    title: str | None = None,
    width_cm: float = 17,
    limit: int = 15,
) -> str:
    """Horizontal bars, largest first, at most ``limit`` (a breakdown per unit or agent)."""
    pairs = sorted(zip(labels, values, strict=True), key=lambda p: p[1], reverse=True)[:limit]
    pairs.reverse()  # matplotlib draws the first bar at the bottom
    height_cm = 1.6 + 0.55 * max(1, len(pairs))
    with rc_context(_STYLE):
        figure = Figure(figsize=(width_cm * _CM, height_cm * _CM), layout="constrained")
        axes = figure.add_subplot()
        names = [_shorten(name) for name, _ in pairs]
        bars = axes.barh(names, [v for _, v in pairs], color=_PALETTE[0])
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.bar_label(bars, padding=2, fontsize=7)
        axes.grid(axis="x", linewidth=0.3)
        if title:
            axes.set_title(title, loc="left", fontsize=9)
        return _svg(figure)


def _shorten(text: str, width: int = 40) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
