"""The dashboard's charts as geometry for server-rendered SVG (templates/governance/console/
_charts.html draws it): no script, no style attribute, nothing loaded from elsewhere.

Colour is never the only cue: every series has its own fill pattern (``FILLS``, defined once
in the page), bars carry their numbers as text, and each chart has a legend, a title and a
table of the same numbers.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date

from governance.reads.dashboard import ALLOWED, DayCount, DeniedField, ProgramElevation

# (id, colour, pattern): the pattern is drawn over the colour in white, so a series reads the
# same in greyscale or to someone who does not tell red from green. Colours keep 3:1 or more
# against white (WCAG 1.4.11). Each chart draws from its own fills, so one pattern never means
# two things on the page.
FILLS = (
    # decisions per day: nothing withheld, then the reasons by rank, then "other reasons"
    ("solid-green", "#2f6f4f", None),
    ("dots-amber", "#8a5300", "dots"),
    ("cross-purple", "#5b3f99", "cross"),
    ("backslash-raspberry", "#a4336b", "backslash"),
    ("lines-blue", "#0b5cad", "lines"),
    ("columns-grey", "#57606a", "columns"),
    # most-denied fields, by sensitivity: the darker, the more sensitive
    ("solid-teal-dark", "#0e4a54", None),
    ("stripes-teal", "#1a6f78", "stripes"),
    ("solid-teal-light", "#4f8a90", None),
    ("dots-grey", "#6e7781", "dots"),
    # overrides and break-glass
    ("solid-blue", "#0b5cad", None),
    ("stripes-red", "#b3261e", "stripes"),
)
DAY_FILLS = ("solid-green", "dots-amber", "cross-purple", "backslash-raspberry", "lines-blue")
OTHER_FILL = "columns-grey"
FILL_IDS = {fill_id for fill_id, _, _ in FILLS}

REASON_LABELS = {
    ALLOWED: "Nothing withheld",
    "unknown_field": "Unknown field",
    "subject_inactive": "User inactive",
    "not_in_program": "Not in the program",
    "no_role_grant": "No role grant",
    "no_case_involvement": "Not on the case",
    "unknown_recipient": "Unknown recipient",
    "entire_record_not_justified": "Entire record not justified",
    "bundle_prohibited": "Prohibited by the bundle",
    "not_in_bundle": "Not in the bundle",
    "no_consent": "No consent",
    "consent_expired": "Consent expired",
    "consent_restriction": "Consent restriction",
    "escalation_required": "Escalation required",
}
OTHER = "other"
SENSITIVITY = {  # label and fill of a field's bar
    "very_restricted": ("Very restricted", "solid-teal-dark"),
    "restricted": ("Restricted", "stripes-teal"),
    "normal": ("Normal", "solid-teal-light"),
    None: ("Not in the catalogue", "dots-grey"),
}
MOST_REASONS = 4  # named series in the per-day chart; the rest are "other reasons"


def reason_label(reason: str) -> str:
    if reason == OTHER:
        return "Other reasons"
    return REASON_LABELS.get(reason, reason.replace("_", " ").capitalize())


def nice_ticks(top: int, count: int = 4) -> list[int]:
    """Round axis values from 0 to at least ``top`` (1, 2 or 5 times a power of ten apart)."""
    if top <= 0:
        return [0, 1]
    raw = top / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    step = max(1, int(step))
    return list(range(0, int(math.ceil(top / step)) * step + 1, step))


@dataclass(frozen=True)
class Series:
    key: str
    label: str
    fill: str


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    width: float
    height: float
    fill: str
    title: str


@dataclass
class DayBar:
    day: date
    x: float  # centre
    total: int
    total_y: float
    segments: list[Rect] = field(default_factory=list)


@dataclass
class DaysChart:
    """Stacked columns: one a day, one segment per series."""

    width: int
    height: int
    plot_left: int
    plot_right: int
    plot_bottom: int
    series: list[Series]
    bars: list[DayBar]
    ticks: list[tuple[int, float]]  # value, y
    rows: list[tuple[date, list[int], int]]  # the table: day, per series, total
    total: int
    withheld: int


def days_chart(days: list[DayCount], width: int = 900, height: int = 280) -> DaysChart:
    """Decisions per day, split into 'nothing withheld' and the main reason that withheld."""
    totals: dict[str, int] = {}
    for day in days:
        for reason, n in day.by_reason.items():
            if reason != ALLOWED:
                totals[reason] = totals.get(reason, 0) + n
    named = sorted(totals, key=lambda r: (-totals[r], r))[:MOST_REASONS]
    keys = [ALLOWED, *named] + ([OTHER] if len(totals) > len(named) else [])
    series = [Series(k, reason_label(k), DAY_FILLS[i] if k != OTHER else OTHER_FILL)
              for i, k in enumerate(keys)]
    left, right, top_margin, bottom = 52, width - 8, 22, height - 44
    ticks = nice_ticks(max((d.total for d in days), default=0))
    scale = (bottom - top_margin) / ticks[-1]
    slot = (right - left) / max(1, len(days))
    bar_width = min(40.0, slot * 0.62)
    bars, rows = [], []
    for index, day in enumerate(days):
        values = [_series_value(day, k, named) for k in keys]
        centre = left + slot * (index + 0.5)
        bar = DayBar(day.day, centre, day.total, bottom - day.total * scale - 6)
        y = float(bottom)
        for s, value in zip(series, values, strict=True):
            if value:
                h = value * scale
                y -= h
                bar.segments.append(Rect(centre - bar_width / 2, y, bar_width, h, s.fill,
                                         f"{day.day:%a %d %b}: {value:,} — {s.label.lower()}"))
        bars.append(bar)
        rows.append((day.day, values, day.total))
    return DaysChart(width, height, left, right, bottom, series, bars,
                     [(t, bottom - t * scale) for t in ticks], rows,
                     sum(d.total for d in days), sum(d.withheld for d in days))


def _series_value(day: DayCount, key: str, named: list[str]) -> int:
    if key == OTHER:
        return sum(n for r, n in day.by_reason.items() if r != ALLOWED and r not in named)
    return day.by_reason.get(key, 0)


@dataclass(frozen=True)
class HBar:
    label: str
    y: float
    width: float
    value: int
    fill: str
    note: str
    title: str


@dataclass
class HBarChart:
    """Horizontal bars with their labels at the left and their numbers at the right."""

    width: int
    height: int
    plot_left: int
    bar_height: float
    bars: list[HBar]
    legend: list[Series]
    rows: list[tuple] = field(default_factory=list)  # the table: field, sensitivity, n, reason


def _hbar_scale(largest: int, plot_left: int, width: int) -> float:
    return (width - plot_left - 230) / max(1, largest)  # room at the right for the note


def denied_fields_chart(fields: list[DeniedField], width: int = 900) -> HBarChart:
    """The most-denied fields, coloured and patterned by sensitivity, each with its main
    reason."""
    left, row = 250, 30
    scale = _hbar_scale(max((f.denials for f in fields), default=0), left, width)
    bars, rows = [], []
    for index, f in enumerate(fields):
        sensitivity, fill = SENSITIVITY.get(f.sensitivity, SENSITIVITY[None])
        main = reason_label(f.main_reason).lower()
        rows.append((f.field, sensitivity, f.denials, reason_label(f.main_reason)))
        bars.append(HBar(f.field, 8 + index * row, max(2.0, f.denials * scale), f.denials, fill,
                         f"{f.denials:,} · mostly {main}",
                         f"{f.field} ({sensitivity.lower()}): denied {f.denials:,} times, "
                         f"mostly {main}"))
    used = {f.sensitivity if f.sensitivity in SENSITIVITY else None for f in fields}
    legend = [Series(str(key), label, fill) for key, (label, fill) in SENSITIVITY.items()
              if key in used]
    return HBarChart(width, 16 + len(fields) * row, left, 20, bars, legend, rows)


@dataclass
class ProgramRow:
    name: str
    y: float
    bars: list[HBar]
    lines: list[str]  # the name as it is drawn beside the bars (see label_lines)


def label_lines(text: str, most: int = 30) -> list[str]:
    """``text`` on one line, or on two split at the space nearest its middle when it is longer
    than ``most`` characters, each line cut to ``most`` with an ellipsis: the room left of
    the bars holds about 30 (the table and the description have the whole name)."""
    spaces = [i for i, c in enumerate(text) if c == " "]
    if len(text) <= most or not spaces:
        return [text if len(text) <= most else text[:most - 1] + "…"]
    cut = min(spaces, key=lambda i: abs(2 * i - len(text)))
    return [line if len(line) <= most else line[:most - 1] + "…"
            for line in (text[:cut], text[cut + 1:])]


@dataclass
class ProgramsChart:
    width: int
    height: int
    plot_left: int
    bar_height: float
    programs: list[ProgramRow]
    legend: list[Series]
    rows: list[ProgramElevation]


def programs_chart(rows: list[ProgramElevation], width: int = 900) -> ProgramsChart:
    """For each program, a bar for override requests and one for break-glass uses."""
    left, bar, gap = 250, 18, 18
    scale = _hbar_scale(max((max(r.overrides, r.break_glass) for r in rows), default=0),
                        left, width)
    legend = [Series("override", "Override requests", "solid-blue"),
              Series("break_glass", "Break-glass uses", "stripes-red")]
    programs, y = [], 8.0
    for r in rows:
        bars = []
        for offset, (value, s, one, many) in enumerate((
                (r.overrides, legend[0], "override request", "override requests"),
                (r.break_glass, legend[1], "break-glass use", "break-glass uses"))):
            words = f"{value:,} {one if value == 1 else many}"
            bars.append(HBar(s.label, y + offset * (bar + 2), max(2.0, value * scale) if value
                             else 0.0, value, s.fill, words, f"{r.name}: {words}"))
        programs.append(ProgramRow(r.name, y, bars, label_lines(r.name)))
        y += 2 * bar + 2 + gap
    return ProgramsChart(width, int(y), left, bar, programs, legend, rows)
