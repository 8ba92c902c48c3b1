"""The plots of the HTML report, drawn with matplotlib as inline SVG: text kept as text, and nothing fetched (no
fonts, images or links).

Each function returns an ``<svg>`` element ready to drop into a page, or ``None`` when there is nothing to draw.
matplotlib is imported lazily (``pip install 'agora[report]'``).
"""

from __future__ import annotations

import io
import itertools
import re
from collections.abc import Callable, Sequence
from html import escape
from typing import TYPE_CHECKING, Any

from agora.errors import ConfigError
from agora.metrics.types import Estimate, Headline, JuryAgreement, Robustness
from agora.runner.summary import DECISION

if TYPE_CHECKING:
    from matplotlib.figure import Figure

MAX_CURVES = 8
"""Curves in one reliability or risk-coverage plot; beyond it, only the seats' decisions are drawn."""
UPSCALE = 1.6
"""How far a plot may grow beyond its natural size (1 pt = 1 px) on a wide screen."""
WIDTH = 4.8
"""Inches: 345 pt, the width of a phone's screen, so text stays at its stated size there."""
COLORS = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c", "#ccb974", "#64b5cd")
STYLES = ("-", "--", ":", "-.")
RC: dict[str, Any] = {
    "svg.fonttype": "none",  # text stays text: small, selectable, drawn in the page's font
    "svg.hashsalt": "agora",  # the same run gives the same page
    "text.parse_math": False,  # a judge named "$x$" is a name, not TeX
    "font.size": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
}
_figures = itertools.count()


def _svg(fig: Figure, title: str) -> str:
    """The figure as a bare inline ``<svg>``: no prolog, metadata, global style or fixed size; ids unique in the
    page; an accessible name; a maximum width so that a small plot does not swell on a wide screen."""
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    text = text[text.index("<svg") :]
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.S)
    text = re.sub(r"<style[^>]*>.*?</style>\s*", "", text, flags=re.S)
    end = text.index(">")
    width = float(re.search(r'width="([\d.]+)pt"', text[:end]).group(1))  # type: ignore[union-attr]
    text = re.sub(r"\s(?:xmlns(?::\w+)?|width|height|version)=\"[^\"]*\"", "", text[:end]) + text[end:]
    text = re.sub(r"font-family:[^;\"]*;?\s*", "", text)
    referenced = set(re.findall(r"(?:href=\"#|url\(#)([^\")]+)", text))
    prefix = f"f{next(_figures)}-"
    text = re.sub(r"\sid=\"([^\"]*)\"", lambda m: f' id="{prefix}{m[1]}"' if m[1] in referenced else "", text)
    text = re.sub(r"(href=\"#|url\(#)([^\")]+)", lambda m: m[1] + prefix + m[2], text)
    head = f'<svg role="img" aria-label="{escape(title)}" style="max-width:{UPSCALE * width:.0f}px"'
    return text.replace("<svg", head, 1).strip()


def _draw(width: float, height: float, title: str, paint: Callable[[Figure], None]) -> str:
    try:
        import matplotlib
        from matplotlib.figure import Figure
    except ImportError:
        raise ConfigError("the HTML report draws its plots with matplotlib: pip install 'agora[report]'") from None
    with matplotlib.rc_context(RC):  # type: ignore[arg-type]
        fig = Figure(figsize=(width, height), layout="constrained")
        paint(fig)
        return _svg(fig, title)


def _name(row: Headline) -> str:
    return f"{row.protocol} · {row.judge}"


def _palette(names: Sequence[str]) -> dict[str, str]:
    return {name: COLORS[i % len(COLORS)] for i, name in enumerate(dict.fromkeys(names))}


def _curves(rows: Sequence[Headline]) -> list[Headline]:
    """The rows to draw as curves: all of them when few, else the seats' decisions."""
    if len(rows) <= MAX_CURVES:
        return list(rows)
    decisions = [r for r in rows if r.judge == DECISION]
    return (decisions or list(rows))[:MAX_CURVES]


def _error(estimate: Estimate) -> tuple[float, list[list[float]]]:
    """The value and the error bar of an estimate (none when its interval is unknown)."""
    value = estimate.value or 0.0
    low = value if estimate.low is None else estimate.low
    high = value if estimate.high is None else estimate.high
    return value, [[value - low], [high - value]]


def accuracy(rows: Sequence[Headline]) -> str | None:
    """Accuracy of each protocol and judge: a dot and its 95% interval, coloured by protocol; the seat's decision
    a diamond."""
    shown = [r for r in rows if r.accuracy.value is not None]
    if not shown:
        return None
    colors = _palette([r.protocol for r in shown])
    return _intervals(
        [(_name(r), r.accuracy, colors[r.protocol], "D" if r.judge == DECISION else "o") for r in shown],
        "accuracy, 95% interval",
        "Accuracy by protocol and judge with 95% intervals",
    )


def _intervals(rows: Sequence[tuple[str, Estimate, str, str | None]], xlabel: str, title: str) -> str:
    """One share per row, (label, estimate, colour, marker): a marker and its interval, or a bar (marker ``None``)
    with its interval, on a 0-100% axis."""

    def paint(fig: Figure) -> None:
        from matplotlib.ticker import PercentFormatter

        ax = fig.add_subplot()
        for y, (_, estimate, color, marker) in enumerate(rows):
            value, error = _error(estimate)
            if marker is None:
                ax.barh([y], [value], xerr=error, color=color, capsize=3, height=0.7)
            else:
                ax.errorbar([value], [y], xerr=error, fmt=marker, color=color, capsize=3, markersize=6)
        ax.set_yticks(range(len(rows)), [label for label, *_ in rows])
        ax.invert_yaxis()
        ax.set_xlim(-0.03, 1.03)  # a mark at 0% or 100% whole
        ax.xaxis.set_major_formatter(PercentFormatter(1.0))
        ax.set_xlabel(xlabel)

    return _draw(WIDTH, 1.1 + 0.3 * len(rows), title, paint)


def reliability(rows: Sequence[Headline]) -> str | None:
    """The reliability diagram: observed accuracy against stated confidence in each confidence bin."""
    shown = [r for r in _curves(rows) if any(b.n and b.accuracy is not None for b in r.calibration.bins)]
    if not shown:
        return None
    colors = _palette([r.protocol for r in rows])
    curves = [
        (
            _name(r) + ("" if r.calibration.ece is None else f" (ECE {r.calibration.ece:.3f})"),
            [(b.mean_confidence, b.accuracy) for b in r.calibration.bins if b.n and b.mean_confidence is not None],
            colors[r.protocol],
        )
        for r in shown
    ]
    title = "Reliability diagram: accuracy against stated confidence"
    return _lines(curves, ("stated confidence", "accuracy"), title, diagonal="perfect calibration")


def risk_coverage(rows: Sequence[Headline]) -> str | None:
    """Selective accuracy against coverage as the confidence threshold rises, one curve per protocol and judge."""
    shown = [r for r in _curves(rows) if any(a is not None for a in r.risk_coverage.selective_accuracy)]
    if not shown:
        return None
    colors = _palette([r.protocol for r in rows])
    curves = [
        (
            _name(r) + ("" if r.risk_coverage.aurc is None else f" (AURC {r.risk_coverage.aurc:.3f})"),
            sorted(zip(r.risk_coverage.coverage, r.risk_coverage.selective_accuracy, strict=True)),
            colors[r.protocol],
        )
        for r in shown
    ]
    axes = ("coverage (share of items decided at the threshold)", "selective accuracy")
    return _lines(curves, axes, "Risk-coverage: selective accuracy against coverage")


Curve = tuple[str, Sequence[tuple[float, float | None]], str]
"""A labelled line of (x, y) points (those with no y left out) in one colour."""


def _lines(curves: Sequence[Curve], axes: tuple[str, str], title: str, *, diagonal: str | None = None) -> str:
    """Curves on the unit square, each in its own line style, the legend below; ``diagonal`` labels y = x."""

    def paint(fig: Figure) -> None:
        ax = fig.add_subplot()
        if diagonal:
            ax.plot([0, 1], [0, 1], color="#888888", linewidth=1, linestyle=":", label=diagonal)
        for (label, points, color), style in zip(curves, itertools.cycle(STYLES), strict=False):
            drawn = [(x, y) for x, y in points if y is not None]
            ax.plot([x for x, _ in drawn], [y for _, y in drawn], marker="o", markersize=4, linestyle=style,
                    color=color, label=label)  # fmt: skip
        ax.set_xlim(0, 1.02)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel(axes[0])
        ax.set_ylabel(axes[1])
        fig.legend(loc="outside lower center", ncols=1, fontsize=9, frameon=False)  # no curve hides under it

    entries = len(curves) + (diagonal is not None)
    return _draw(WIDTH, 3.4 + 0.2 * entries, title, paint)


def kappa_heatmap(jury: JuryAgreement) -> str | None:
    """Cohen's κ between each pair of judges of one protocol, the value written in each cell: blue above chance,
    red below (no colour bar: it would be a raster image)."""
    judges = jury.judges
    if len(judges) < 2:
        return None

    def paint(fig: Figure) -> None:
        from matplotlib import colormaps
        from matplotlib.colors import Normalize
        from matplotlib.patches import Rectangle

        ax = fig.add_subplot()
        cmap, norm = colormaps["RdBu"], Normalize(-1, 1)
        for i, row in enumerate(jury.pairwise_kappa):
            for j, value in enumerate(row):
                face = "#eeeeee" if value is None else cmap(norm(value))
                ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, facecolor=face, edgecolor="white", linewidth=1))
                dark = value is not None and abs(value) > 0.6
                text = "–" if value is None else f"{value:.2f}"
                ax.text(j, i, text, ha="center", va="center", color="white" if dark else "black")
        ax.set_xlim(-0.5, len(judges) - 0.5)
        ax.set_ylim(len(judges) - 0.5, -0.5)
        ax.set_xticks(range(len(judges)), judges, rotation=30, ha="right")
        ax.set_yticks(range(len(judges)), judges)
        ax.set_aspect("equal")
        ax.grid(False)

    size = 1.8 + 0.6 * len(judges)
    return _draw(size + 0.4, size, f"Cohen's kappa between the judges of {jury.protocol}", paint)


def flip_rates(rows: Sequence[Robustness]) -> str | None:
    """How often each judge fell for each probe: bars with 95% intervals, coloured by judge."""
    shown = [r for r in rows if r.rate.value is not None]
    if not shown:
        return None
    colors = _palette([r.judge for r in shown])
    return _intervals(
        [(f"{r.check} · {r.judge}", r.rate, colors[r.judge], None) for r in shown],
        "share of probes the judge fell for, 95% interval",
        "Probe flip rates by check and judge",
    )
