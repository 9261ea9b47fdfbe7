"""Words every area uses."""

from __future__ import annotations

import os
import re
import string
from collections.abc import Callable

from ecauto.words import Catalog

COMMON = Catalog(
    "common",
    {
        "ok": {"en": "OK", "ja": "正常"},
        "warning": {"en": "WARNING", "ja": "注意"},
        "critical": {"en": "CRITICAL", "ja": "異常"},
        "unknown": {"en": "UNKNOWN", "ja": "不明"},
    },
)


def shim() -> str:
    """The launcher as the operator types it on this machine (ecauto/platform.py's `shim`)."""
    return r".\ecauto.cmd" if os.name == "nt" else "./ecauto.sh"


def clip(text: str, limit: int) -> str:
    """`text` in at most `limit` characters, cut at a word (or, in Japanese, which has no
    spaces, a character) and ended with an ellipsis, never in the middle of a word."""
    if len(text) <= limit:
        return text
    cut = text[: max(1, limit - 1)]
    space = cut.rfind(" ")
    if space >= limit // 2 and not text[len(cut)].isspace():
        cut = cut[:space]
    return cut.rstrip(" ,;:(") + "…"


def width(text: str) -> int:
    """Columns `text` takes in a terminal: East Asian wide and full-width characters take two."""
    import unicodedata  # a built-in module: nothing to read from disk

    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def duration(seconds: float, lang: str) -> str:
    """A duration for a person: "45 s", "12 min", "3 h 5 min"; in Japanese "45秒", "12分"."""
    s = max(0, int(seconds))
    ja = lang == "ja"
    if s < 120:
        return f"{s}秒" if ja else f"{s} s"
    if s < 7200:
        return f"{s // 60}分" if ja else f"{s // 60} min"
    h, m = s // 3600, s % 3600 // 60
    return f"{h}時間{m}分" if ja else f"{h} h {m} min"


_DURATION = re.compile(r"(?:(\d+) h (\d+) min|(\d+) min|(\d+) s)( ago)?")


def reword_duration(text: str, lang: str) -> str:
    """A duration `duration(..., "en")` wrote ("95 s", "3 h 5 min ago"), in `lang`; any other
    text as it is."""
    m = _DURATION.fullmatch(text)
    if lang == "en" or m is None:
        return text
    h, hm, mins, secs, ago = m.groups()
    seconds = int(h) * 3600 + int(hm) * 60 if h else int(mins) * 60 if mins else int(secs)
    said = duration(seconds, lang)
    return (f"{said}前" if lang == "ja" else f"{said} ago") if ago else said


class Reworder:
    """Says again, in another language, text made from a catalog's English templates by code
    that knows no language (a daemon's error, its heartbeat's detail); text it does not know is
    left as it is. Patterns are made on first use: a report in English makes none."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._patterns: list[tuple[str, bool, re.Pattern[str]]] = []

    def translate(
        self,
        text: str,
        lang: str,
        shown: Callable[[str, str], str | None] | None = None,
        depth: int = 3,
    ) -> str:
        """`text` in `lang`. The match that starts first wins, and of those one that starts
        with its own words (a wrapper such as "cycle failed: ..."): what it wraps is said again
        in turn. `shown(name, value)` may give a param's own rendering (a time, a word)."""
        if lang == "en" or not text or depth <= 0:
            return text
        found = [
            (m.start(), not lit, -len(self.catalog.entries[key]["en"]), key, m)
            for key, lit, p in self._compiled()
            if (m := p.search(text))
        ]
        if not found:
            return text
        # First, then one with words of its own first, then the most specific (the longest).
        *_, key, m = min(found, key=lambda f: f[:3])
        params = {}
        for name, value in m.groupdict().items():
            own = shown(name, value) if shown else None
            params[name] = own if own is not None else self.translate(value, lang, shown, depth - 1)
        return text[: m.start()] + self.catalog.say(lang, key, **params)

    def _compiled(self) -> list[tuple[str, bool, re.Pattern[str]]]:
        if not self._patterns:
            for key, forms in self.catalog.entries.items():
                parts = []
                for literal, name, _, _ in string.Formatter().parse(forms["en"]):
                    parts.append(re.escape(literal))
                    if name:
                        parts.append(f"(?P<{name}>.+?)")
                literal_first = not forms["en"].startswith("{")
                self._patterns.append(
                    (key, literal_first, re.compile("".join(parts) + "$", re.DOTALL))
                )
        return self._patterns
