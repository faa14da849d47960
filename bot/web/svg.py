"""Charts drawn on the server as inline SVG: no JavaScript library, nothing fetched, CSP-friendly.

Only presentation attributes are used (no style attributes), and every label is escaped.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

COLOURS = ("#2563eb", "#f59e0b", "#dc2626", "#16a34a", "#7c3aed")


def bars(values: Sequence[tuple[str, int]], width: int = 720, height: int = 200, title: str = "") -> Markup:
    """A vertical bar chart; every bar has a <title> with its label and value."""
    top = max((v for _, v in values), default=0) or 1
    n = max(len(values), 1)
    gap, base = 2, height - 20
    bar_w = max(1.0, (width - 40) / n - gap)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" role="img" '
             f'aria-label="{escape(title)}" class="chart">',
             f'<line x1="36" y1="{base}" x2="{width}" y2="{base}" stroke="#999"/>',
             f'<text x="0" y="12" font-size="11" fill="#555">{top}</text>',
             f'<text x="0" y="{base}" font-size="11" fill="#555">0</text>']
    for i, (label, value) in enumerate(values):
        h = (base - 16) * value / top
        x = 40 + i * (bar_w + gap)
        parts.append(f'<rect x="{x:.1f}" y="{base - h:.1f}" width="{bar_w:.1f}" height="{h:.1f}" fill="{COLOURS[0]}">'
                     f'<title>{escape(label)}: {value}</title></rect>')
        if n <= 16 or i % max(1, n // 8) == 0:
            parts.append(f'<text x="{x:.1f}" y="{height - 4}" font-size="10" fill="#555">{escape(label)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every label above went through escape()


def shares(parts: Sequence[tuple[str, int]], width: int = 720, height: int = 56, title: str = "") -> Markup:
    """One horizontal bar split into the parts' shares, with a legend of label, count and percentage."""
    total = sum(v for _, v in parts)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" role="img" '
           f'aria-label="{escape(title)}" class="chart">']
    x = 0.0
    for i, (label, value) in enumerate(parts):
        w = width * value / total if total else 0
        colour = COLOURS[i % len(COLOURS)]
        out.append(f'<rect x="{x:.1f}" y="0" width="{w:.1f}" height="24" fill="{colour}">'
                   f'<title>{escape(label)}: {value}</title></rect>')
        share = f"{100 * value / total:.0f}%" if total else "–"
        lx = i * width / max(len(parts), 1)
        out.append(f'<rect x="{lx:.1f}" y="34" width="12" height="12" fill="{colour}"/>'
                   f'<text x="{lx + 16:.1f}" y="45" font-size="12" fill="#222">{escape(label)}: {value} ({share})</text>')
        x += w
    out.append("</svg>")
    return Markup("".join(out))  # noqa: S704 - every label above went through escape()
