"""Server-rendered SVG charts, pure: numbers in, markup out (no script, nothing fetched).

Colours come from the page's stylesheet (classes), so one chart reads in light and dark themes.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from ecauto.dashboard.read import Bar

W, H = 600, 90  # the viewBox; the SVG scales to the width of its box


def quota_chart(bars: Sequence[Bar], title: str) -> str:
    """Use against the limit as bars (the limit is the top line), throttled answers as marks."""
    n = max(1, len(bars))
    bw = W / n
    top = 10  # room for the throttle marks above the limit line
    body = H - top
    parts = [
        f'<svg class="chart quota" viewBox="0 0 {W} {H}" preserveAspectRatio="none" '
        f'role="img" aria-label="{escape(title)}" data-points="'
        f'{sum(1 for b in bars if b.granted or b.throttled)}">',
        f'<line class="limit" x1="0" y1="{top}" x2="{W}" y2="{top}"/>',
        f'<line class="half" x1="0" y1="{top + body / 2}" x2="{W}" y2="{top + body / 2}"/>',
    ]
    for i, b in enumerate(bars):
        x = i * bw
        if b.granted or b.share:
            h = min(1.0, b.share) * body
            cls = "over" if b.share > 1.0 else "hot" if b.share >= 0.8 else "use"
            parts.append(
                f'<rect class="{cls}" x="{x + 0.5:.1f}" y="{H - h:.1f}" '
                f'width="{max(0.5, bw - 1):.1f}" height="{max(h, 1.0):.1f}">'
                f"<title>{b.granted} ({b.share:.0%})</title></rect>"
            )
        if b.throttled:
            cx = x + bw / 2
            parts.append(
                f'<path class="throttled" d="M{cx - 4:.1f},0 L{cx + 4:.1f},0 L{cx:.1f},8 Z">'
                f"<title>429 x {b.throttled}</title></path>"
            )
    parts.append("</svg>")
    return "".join(parts)


def gauge(share: float, cls: str = "") -> str:
    """A bar of a share of 0..1: the sync's progress (`cls` "progress"), a window's use."""
    pct = max(0.0, min(1.0, share)) * 100
    cls = cls or ("over" if share > 1.0 else "hot" if share >= 0.8 else "use")
    return (
        f'<svg class="gauge" viewBox="0 0 100 8" preserveAspectRatio="none" role="img" '
        f'aria-label="{pct:.0f}%"><rect class="track" width="100" height="8"/>'
        f'<rect class="{cls}" width="{pct:.1f}" height="8"/></svg>'
    )


def runs_chart(durations: Sequence[float], title: str) -> str:
    """Sync cycle durations, oldest on the left, the newest at the right edge."""
    if not durations:
        return ""
    n = len(durations)
    slots = max(n, 24)  # one cycle is one narrow bar, not the whole width
    bw = W / slots
    top = max(durations) or 1.0
    parts = [
        f'<svg class="chart runs" viewBox="0 0 {W} {H}" preserveAspectRatio="none" '
        f'role="img" aria-label="{escape(title)}">'
    ]
    for i, d in enumerate(durations, start=slots - n):
        h = d / top * (H - 4)
        parts.append(
            f'<rect class="use" x="{i * bw + 0.5:.1f}" y="{H - h:.1f}" '
            f'width="{max(0.5, bw - 1):.1f}" height="{max(h, 1.0):.1f}">'
            f"<title>{d:.0f} s</title></rect>"
        )
    parts.append("</svg>")
    return "".join(parts)
