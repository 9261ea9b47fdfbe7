"""Every catalog of operator-facing words has every language, with the same placeholders."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import ecauto.words
from ecauto.words import Catalog


def catalogs() -> list[Catalog]:
    found = []
    for info in pkgutil.iter_modules(ecauto.words.__path__):
        module = importlib.import_module(f"ecauto.words.{info.name}")
        found += [v for v in vars(module).values() if isinstance(v, Catalog)]
    return found


@pytest.mark.parametrize("catalog", catalogs(), ids=lambda c: c.area)
def test_every_key_has_every_language_with_the_same_placeholders(catalog: Catalog) -> None:
    assert catalog.problems() == []


def test_a_catalog_with_a_missing_language_or_placeholder_is_caught() -> None:
    bad = Catalog("x", {"a": {"en": "{n} left", "ja": "残り"}, "b": {"en": "only"}})
    assert bad.problems() == [
        "x.a: placeholders differ: {'ja': set(), 'en': {'n'}}",
        "x.b: no ja",
    ]


def test_say_fills_the_language_asked_and_falls_back_to_english() -> None:
    c = Catalog("x", {"left": {"en": "{n} left", "ja": "残り{n}件"}})
    assert c.say("ja", "left", n=3) == "残り3件"
    assert c.say("en", "left", n=3) == "3 left"
    assert c.say("fr", "left", n=3) == "3 left"


@pytest.mark.parametrize("catalog", catalogs(), ids=lambda c: c.area)
def test_every_word_can_be_written_in_cp932(catalog: Catalog) -> None:
    # A Japanese Windows writes a redirected stdout (a scheduled task's log) in cp932.
    for forms in catalog.entries.values():
        for template in forms.values():
            template.encode("cp932")  # raises for a character cp932 does not have
