"""Small SVG charts drawn as text, for a report that must open with no network.

Each function returns one ``<svg>`` element with a ``role="img"`` and an
``aria-label``, a ``<title>`` tooltip on every bar or point, and the class
``chart`` (the browser test counts the shapes inside it). Sizes are in CSS
pixels through ``viewBox``, so the charts scale with the page.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape

# Colour-blind-safe hues (Okabe and Ito); the page uses the same.
BLUE = "#0072B2"
ORANGE = "#E69F00"
RED = "#D55E00"
GREEN = "#009E73"
GREY = "#8a8f98"
INK = "#1f2328"


def _svg(width: int, height: int, label: str, body: list[str], name: str) -> str:
    return (
        f'<svg class="chart" data-chart="{escape(name)}" role="img" '
        f'aria-label="{escape(label)}" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg" '
        f'font-family="system-ui, sans-serif" font-size="12">'
        + "".join(body)
        + "</svg>"
    )


def _text(x: float, y: float, text: str, **attrs: str) -> str:
    extra = "".join(f' {k.replace("_", "-")}="{escape(v)}"' for k, v in attrs.items())
    return f'<text x="{x:.1f}" y="{y:.1f}"{extra}>{escape(text)}</text>'


def empty_chart(name: str, label: str, message: str, width: int = 520) -> str:
    """Return a chart frame that says why there is nothing to draw.

    >>> "no failures" in empty_chart("failures", "Failures by kind", "no failures")
    True
    """
    body = [
        f'<rect x="0.5" y="0.5" width="{width - 1}" height="59" rx="6" '
        f'fill="#f6f8fa" stroke="#d0d7de"/>',
        _text(width / 2, 35, message, text_anchor="middle", fill=GREY),
    ]
    return _svg(width, 60, label, body, name)


def _text_width(text: str, size: float = 12) -> float:
    # A generous estimate of sans-serif text width; the page cannot measure
    # text without a script, and clipped labels are worse than wide margins.
    return len(text) * size * 0.62


def hbar_chart(
    name: str,
    label: str,
    items: Sequence[tuple[str, float, str]],
    maximum: float | None = None,
    colour: str = BLUE,
    span: int = 300,
) -> str:
    """Draw horizontal bars, one per item, longest scale at ``maximum``.

    The label column and the value column are as wide as their longest text.

    :param items: (label, value, text shown at the bar's end) per bar.
    :param maximum: the value of a full-length bar; the largest value if None.
    :param span: the length of a full bar in pixels.
    :returns: the ``<svg>`` element.

    >>> hbar_chart("fill", "Fill rate", [("catalogNumber", 0.9, "90%")], 1.0)[:4]
    '<svg'
    """
    if not items:
        return empty_chart(name, label, "nothing to show")
    top = maximum if maximum else max(value for _, value, _ in items) or 1.0
    row = 22
    left = round(max(_text_width(text) for text, _, _ in items)) + 14
    right = round(max(_text_width(shown) for _, _, shown in items)) + 12
    width = left + span + right
    body: list[str] = []
    for index, (text, value, shown) in enumerate(items):
        y = index * row + 4
        length = max(span * min(value / top, 1.0), 0.0)
        body.append(
            f'<rect x="{left}" y="{y}" width="{span}" height="{row - 8}" '
            f'fill="#eef1f4" rx="3"/>'
        )
        body.append(
            f'<rect class="bar" x="{left}" y="{y}" width="{max(length, 1.0):.1f}" '
            f'height="{row - 8}" fill="{colour}" rx="3">'
            f"<title>{escape(text)}: {escape(shown)}</title></rect>"
        )
        body.append(_text(left - 8, y + row - 11, text, text_anchor="end", fill=INK))
        body.append(_text(left + span + 6, y + row - 11, shown, fill=INK))
    return _svg(width, len(items) * row + 8, label, body, name)


def _axis_time(stamp: float, span: float) -> str:
    moment = datetime.fromtimestamp(stamp, UTC)
    if span >= 2 * 86400:
        return moment.strftime("%d %b")
    if span >= 3600:
        return moment.strftime("%d %b %H:%M")
    return moment.strftime("%H:%M:%S")


def nice_top(value: float, integer: bool = False) -> float:
    """Round an axis maximum up to a number whose ticks read well.

    Amounts go to 1, 2, 2.5 or 5 times a power of ten; counts (``integer``)
    to a whole number: the count itself up to 4, else 1, 2 or 5 times a
    power of ten, so that every tick (see :func:`ticks`) is whole.

    >>> nice_top(0.018), nice_top(3, integer=True), nice_top(7, integer=True)
    (0.02, 3.0, 10.0)
    """
    if value <= 0:
        return 1.0
    if integer and value <= 4:
        return float(math.ceil(value))
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10) if integer else (1, 2, 2.5, 5, 10):
        top = step * power
        if top >= value * (1 - 1e-9):
            break
    return float(f"{top:.12g}")


def ticks(top: float, integer: bool = False) -> int:
    """Return how many intervals to cut an axis of ``top`` into."""
    if integer and top <= 4:
        return max(int(top), 1)
    if integer and top % 4:
        return 5
    return 4


def _frame(
    width: int,
    height: int,
    pad: tuple[int, int, int, int],
    top: float,
    unit: str,
    integer: bool = False,
) -> list[str]:
    left, right, upper, lower = pad
    steps = ticks(top, integer)
    body = []
    for step in range(steps + 1):
        value = top * step / steps
        y = height - lower - (height - upper - lower) * step / steps
        body.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="#e5e8eb"/>'
        )
        shown = f"{value:,.0f}" if integer else f"{value:,.4g}"
        body.append(_text(left - 6, y + 4, unit + shown, text_anchor="end", fill=GREY))
    return body


def time_bars(
    name: str,
    label: str,
    starts: Sequence[float],
    stacks: Sequence[tuple[str, str, Sequence[float]]],
    bucket_s: float,
    width: int = 520,
    height: int = 220,
) -> str:
    """Draw stacked bars over time (e.g. records finished per interval).

    :param starts: each bucket's start, Unix seconds.
    :param stacks: (name, colour, value per bucket) from the bottom up.
    :param bucket_s: the bucket length in seconds, for the axis label.
    """
    if not starts:
        return empty_chart(name, label, "no finish times recorded", width)
    pad = (48, 12, 12, 34)
    left, right, upper, lower = pad
    totals = [sum(values[i] for _, _, values in stacks) for i in range(len(starts))]
    top = nice_top(max(totals), integer=True)
    plot_w, plot_h = width - left - right, height - upper - lower
    slot = plot_w / len(starts)
    body = _frame(width, height, pad, top, "", integer=True)
    for index, start in enumerate(starts):
        base = 0.0
        for stack_name, colour, values in stacks:
            value = values[index]
            if value <= 0:
                continue
            bar_h = plot_h * value / top
            y = height - lower - plot_h * base / top - bar_h
            when = _axis_time(start, bucket_s * len(starts))
            body.append(
                f'<rect class="bar" x="{left + index * slot + slot * 0.1:.1f}" '
                f'y="{y:.1f}" width="{max(slot * 0.8, 1.0):.1f}" height="{bar_h:.1f}" '
                f'fill="{colour}"><title>{escape(when)}: {value:,.0f} '
                f"{escape(stack_name)}</title></rect>"
            )
            base += value
    body += _time_labels(starts, bucket_s, pad, width, height)
    return _svg(width, height, label, body, name)


def _time_labels(
    starts: Sequence[float],
    bucket_s: float,
    pad: tuple[int, int, int, int],
    width: int,
    height: int,
) -> list[str]:
    left, right, _, lower = pad
    span = bucket_s * len(starts)
    slot = (width - left - right) / len(starts)
    picks = sorted({0, len(starts) // 2, len(starts) - 1})
    anchors = {0: "start", len(starts) - 1: "end"}
    return [
        _text(
            left
            + index * slot
            + (0 if index == 0 else slot if index == len(starts) - 1 else slot / 2),
            height - lower + 16,
            _axis_time(starts[index], span),
            text_anchor=anchors.get(index, "middle"),
            fill=GREY,
        )
        for index in picks
    ]


def line_chart(
    name: str,
    label: str,
    starts: Sequence[float],
    values: Sequence[float],
    bucket_s: float,
    unit: str = "",
    colour: str = ORANGE,
    width: int = 520,
    height: int = 220,
) -> str:
    """Draw a cumulative line over time with a shaded area under it.

    :param values: the value at the end of each bucket.
    :param unit: a prefix for the axis numbers, e.g. ``$``.
    """
    if not starts:
        return empty_chart(name, label, "no finish times recorded", width)
    pad = (56, 12, 12, 34)
    left, right, upper, lower = pad
    top = nice_top(max(values))
    plot_w, plot_h = width - left - right, height - upper - lower
    slot = plot_w / len(starts)
    points = [
        (left + (i + 1) * slot, height - lower - plot_h * v / top)
        for i, v in enumerate(values)
    ]
    points.insert(0, (left, height - lower))
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    body = _frame(width, height, pad, top, unit)
    body.append(
        f'<polygon points="{path} {points[-1][0]:.1f},{height - lower}" '
        f'fill="{colour}" fill-opacity="0.18"/>'
    )
    body.append(
        f'<polyline class="line" points="{path}" fill="none" stroke="{colour}" '
        f'stroke-width="2"/>'
    )
    for index, (x, y) in enumerate(points[1:]):
        # Dots only where they can be told apart; each carries a tooltip.
        radius = 2.5 if len(starts) <= 30 else 0.1
        when = _axis_time(starts[index] + bucket_s, bucket_s * len(starts))
        body.append(
            f'<circle class="point" cx="{x:.1f}" cy="{y:.1f}" r="{radius}" '
            f'fill="{colour}"><title>{escape(when)}: {unit}{values[index]:,.4f}'
            "</title></circle>"
        )
    body += _time_labels(starts, bucket_s, pad, width, height)
    return _svg(width, height, label, body, name)


def histogram(
    name: str,
    label: str,
    bins: Sequence[int],
    colour: str = BLUE,
    width: int = 160,
    height: int = 46,
) -> str:
    """Draw a small 0-1 histogram (for a field's confidence values).

    :param bins: counts of equal-width bins from 0 to 1.
    """
    top = max(bins) or 1
    slot = width / len(bins)
    body = [
        f'<line x1="0" x2="{width}" y1="{height - 12}" y2="{height - 12}" '
        f'stroke="#d0d7de"/>'
    ]
    for index, count in enumerate(bins):
        bar_h = (height - 14) * count / top
        low, high = index / len(bins), (index + 1) / len(bins)
        body.append(
            f'<rect class="bar" x="{index * slot + 1:.1f}" '
            f'y="{height - 12 - bar_h:.1f}" width="{slot - 2:.1f}" '
            f'height="{max(bar_h, 0.5 if count else 0):.1f}" fill="{colour}">'
            f"<title>{low:.1f}-{high:.1f}: {count:,}</title></rect>"
        )
    body.append(_text(0, height - 1, "0", fill=GREY, font_size="10"))
    body.append(
        _text(width, height - 1, "1", fill=GREY, font_size="10", text_anchor="end")
    )
    return _svg(width, height, label, body, name)
