"""Small charts drawn on the server as SVG: readable without JavaScript, and at 375 px.

The SVG scales to its container (a viewBox, no fixed width); every bar carries its value
as text and the chart a <title>, so a screen reader and a phone get the same figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from markupsafe import Markup

BAR = 22  # px per row of a horizontal chart
WIDTH = 360  # the viewBox width: fits a phone, scales up on a desk screen
LABEL = 150


def _number(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _short(label: str, limit: int = 24) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def bars(rows: Sequence[tuple[str, float]], *, title: str) -> Markup:
    """Horizontal bars, one row per label: for links and sections."""
    if not rows:
        return Markup(f'<p class="muted">{escape(title)}: nothing counted yet.</p>')
    top = max(value for _, value in rows) or 1
    span = WIDTH - LABEL - 40
    height = BAR * len(rows) + 8
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-label="{escape(title)}" preserveAspectRatio="xMinYMin meet">',
        f"<title>{escape(title)}</title>",
    ]
    for index, (label, value) in enumerate(rows):
        y = 4 + index * BAR
        width = round(span * value / top, 1)
        parts.append(
            f'<text x="{LABEL - 6}" y="{y + 15}" text-anchor="end" font-size="11">'
            f"{escape(_short(label))}</text>"
            f'<rect x="{LABEL}" y="{y + 3}" width="{width}" height="{BAR - 8}" fill="#1f5fa8"/>'
            f'<text x="{LABEL + width + 4}" y="{y + 15}" font-size="11">{_number(value)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def columns(rows: Sequence[tuple[str, float]], *, title: str) -> Markup:
    """Vertical columns over time, oldest first: for the trend across editions."""
    if not rows:
        return Markup(f'<p class="muted">{escape(title)}: no edition has gone out yet.</p>')
    top = max(value for _, value in rows) or 1
    height, base = 150, 120
    step = WIDTH / len(rows)
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-label="{escape(title)}" preserveAspectRatio="xMinYMin meet">',
        f"<title>{escape(title)}</title>",
    ]
    for index, (label, value) in enumerate(rows):
        x = index * step + step * 0.15
        bar = round(100 * value / top, 1)
        parts.append(
            f'<rect x="{x:.1f}" y="{base - bar}" width="{step * 0.7:.1f}" height="{bar}" '
            f'fill="#1f5fa8"/>'
            f'<text x="{x + step * 0.35:.1f}" y="{base - bar - 3}" text-anchor="middle" '
            f'font-size="10">{_number(value)}</text>'
            f'<text x="{x + step * 0.35:.1f}" y="{base + 14}" text-anchor="middle" '
            f'font-size="10">{escape(label)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
