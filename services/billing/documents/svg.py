"""Hand-written SVG charts (no plotting dependency): horizontal bars and a line chart."""

from __future__ import annotations

from html import escape

PALETTE = ("#1f6f8b", "#e07a5f", "#81b29a", "#f2cc8f", "#3d405b", "#99a1a6")


def bar_chart(items: list[tuple[str, int]], title: str, *, width: int = 560) -> str:
    """One horizontal bar per item, labelled with its value; an empty chart says so."""
    row, label_w, top = 22, 170, 28
    height = top + max(len(items), 1) * row + 10
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" aria-label="{escape(title)}">',
        f'<text x="0" y="16" font-size="13" font-weight="bold">{escape(title)}</text>',
    ]
    if not items:
        parts.append(f'<text x="0" y="{top + 14}" font-size="12" fill="#777">no data</text>')
    biggest = max((abs(v) for _, v in items), default=0) or 1
    span = width - label_w - 70
    for i, (label, value) in enumerate(items):
        y = top + i * row
        bar = max(int(span * abs(value) / biggest), 1 if value else 0)
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 14}" font-size="11" text-anchor="end">'
            f"{escape(label[:28])}</text>"
        )
        parts.append(
            f'<rect x="{label_w}" y="{y + 3}" width="{bar}" height="{row - 8}" '
            f'fill="{PALETTE[i % len(PALETTE)]}"/>'
        )
        parts.append(f'<text x="{label_w + bar + 4}" y="{y + 14}" font-size="11">{value:,}</text>')
    parts.append("</svg>")
    return "".join(parts)


def line_chart(
    labels: list[str], series: list[tuple[str, list[int]]], title: str, *, width: int = 560
) -> str:
    """Lines over shared x labels (periods), with a legend; values are counts (>= 0)."""
    height, left, right, top, bottom = 240, 50, 10, 30, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    biggest = max((v for _, values in series for v in values), default=0) or 1
    step = plot_w / max(len(labels) - 1, 1)

    def point(i: int, v: int) -> str:
        return f"{left + i * step:.1f},{top + plot_h - plot_h * v / biggest:.1f}"

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" aria-label="{escape(title)}">',
        f'<text x="0" y="16" font-size="13" font-weight="bold">{escape(title)}</text>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
        'stroke="#999"/>',
        f'<text x="{left - 4}" y="{top + 4}" font-size="10" text-anchor="end">{biggest:,}</text>',
        f'<text x="{left - 4}" y="{top + plot_h}" font-size="10" text-anchor="end">0</text>',
    ]
    for i, label in enumerate(labels):
        if len(labels) <= 12 or i % 2 == 0:
            parts.append(
                f'<text x="{left + i * step:.1f}" y="{top + plot_h + 14}" font-size="9" '
                f'text-anchor="middle">{escape(label)}</text>'
            )
    for n, (name, values) in enumerate(series):
        color = PALETTE[n % len(PALETTE)]
        points = " ".join(point(i, v) for i, v in enumerate(values))
        parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{points}"/>')
        parts.append(
            f'<rect x="{left + n * 130}" y="{height - 14}" width="10" height="10" fill="{color}"/>'
            f'<text x="{left + n * 130 + 14}" y="{height - 5}" font-size="11">{escape(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
