"""Access-review progress as geometry for server-rendered SVG (templates/governance/console/
_review_chart.html draws it): one full-width bar per campaign (or per program of one
campaign), split into kept, revoked, decided by the campaign's rule and undecided.

As on the dashboard (charts.py), colour is never the only cue: each part has its own pattern,
its count is written on it when it fits, the row's total is written beside it, and a table
below gives every number.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from governance.console.charts import Series
from governance.reads.reviews import Progress

# (id, colour, pattern), drawn by _charts.html's ``patterns`` macro.
FILLS = (
    ("review-kept", "#2f6f4f", None),
    ("review-revoked", "#b3261e", "stripes"),
    ("review-kept-rule", "#2f6f4f", "dots"),
    ("review-revoked-rule", "#b3261e", "cross"),
    ("review-undecided", "#eaeef2", None),
)
PARTS = (  # Progress attribute, legend label, fill, whether its count is written in white
    ("kept", "Kept", "review-kept", True),
    ("revoked", "Revoked", "review-revoked", True),
    ("kept_by_rule", "Kept by the rule at the due date", "review-kept-rule", True),
    ("revoked_by_rule", "Revoked by the rule at the due date", "review-revoked-rule", True),
    ("undecided", "Undecided", "review-undecided", False),
)
MIN_LABELLED = 28  # px: narrower parts carry their number only in their tooltip and the table


@dataclass(frozen=True)
class Part:
    x: float
    width: float
    value: int
    fill: str
    light_text: bool
    title: str


@dataclass
class ProgressBar:
    label: str
    y: float
    note: str
    parts: list[Part] = field(default_factory=list)


@dataclass
class ProgressChart:
    width: int
    height: int
    plot_left: int
    plot_width: int
    bar_height: int
    bars: list[ProgressBar]
    legend: list[Series]
    rows: list[tuple[str, Progress]]


def progress_chart(rows: list[tuple[str, Progress]], width: int = 900) -> ProgressChart:
    """One bar per (label, progress), its parts as shares of that row's items."""
    left, note_room, bar, gap = 340, 180, 22, 14
    plot = width - left - note_room
    bars, used = [], set()
    for index, (label, progress) in enumerate(rows):
        total = progress.total
        y = 6 + index * (bar + gap)
        share = f"{round(100 * progress.decided / total)}%" if total else "no items"
        chart_bar = ProgressBar(label, y, f"{progress.decided:,} of {total:,} decided"
                                + (f" ({share})" if total else ""))
        x = float(left)
        for attribute, legend_label, fill, light in PARTS:
            value = getattr(progress, attribute)
            if not value:
                continue
            used.add(attribute)
            part_width = plot * value / total
            chart_bar.parts.append(Part(x, part_width, value, fill, light,
                                        f"{label}: {value:,} {legend_label.lower()}"))
            x += part_width
        bars.append(chart_bar)
    legend = [Series(a, label, fill) for a, label, fill, _ in PARTS if a in used]
    return ProgressChart(width, 12 + len(rows) * (bar + gap), left, plot, bar, bars, legend,
                         rows)


def parts_columns() -> list[tuple[str, str]]:
    """The table's columns: Progress attribute and its heading."""
    return [(attribute, label) for attribute, label, _, _ in PARTS]
