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
