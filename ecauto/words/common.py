"""Words every area uses."""

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
