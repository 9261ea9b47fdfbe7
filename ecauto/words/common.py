"""Words every area uses."""

import os

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
