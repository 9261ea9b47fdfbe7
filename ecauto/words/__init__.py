"""Words shown to people, in the operator's language (`ui.language` in ecauto.toml).

One catalog module per area (`ecauto/words/report.py`, `alerts.py`, `dashboard.py`, ...), each a
`Catalog` of keys, every key with a template per language in `str.format` form. Catalogs are
Python, not data files: they load from bytecode, which keeps `watchdog report` fast.

Only what a person reads goes through here. Machine output (`--json`, events, metrics, log
keys) stays language-neutral: keys and numbers, never these templates.
"""

from __future__ import annotations

import string
from collections.abc import Mapping

LANGUAGES = ("ja", "en")
DEFAULT_LANGUAGE = "en"  # the code's default; the shipped ecauto.toml chooses "ja"


class Catalog:
    """The templates of one area: `say(lang, key, **params)` fills one in."""

    def __init__(self, area: str, entries: Mapping[str, Mapping[str, str]]) -> None:
        self.area = area
        self.entries = entries

    def say(self, lang: str, key: str, /, **params: object) -> str:
        forms = self.entries[key]
        return (forms.get(lang) or forms[DEFAULT_LANGUAGE]).format(**params)

    def problems(self) -> list[str]:
        """What is wrong with the catalog itself: a language missing, placeholders that differ."""
        out = []
        for key, forms in self.entries.items():
            missing = [lang for lang in LANGUAGES if not forms.get(lang)]
            if missing:
                out.append(f"{self.area}.{key}: no {', '.join(missing)}")
                continue
            names = {lang: _fields(forms[lang]) for lang in LANGUAGES}
            if len(set(map(frozenset, names.values()))) > 1:
                out.append(f"{self.area}.{key}: placeholders differ: {names}")
        return out


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}
