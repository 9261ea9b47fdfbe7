"""The watchdog's configuration: the file when it reads, else the last one that did.

A mistyped key in `ecauto.toml` stops every daemon (exit 78, one line); the watchdog must not
stop with them, or nobody hears of it. So each good read is kept in the home
(`watchdog/config.last-good.toml`, written atomically, the owner's only), and a bad file makes
the watchdog run on that copy (or on the defaults if there is none) while it alerts the error.
"""

from __future__ import annotations

import logging
import os
import stat
import tomllib
from dataclasses import dataclass
from pathlib import Path

from ecauto import config as config_mod
from ecauto.atomic import write_bytes_atomic
from ecauto.config import Config, ConfigError
from ecauto.home import Home
from ecauto.logsetup import fields
from ecauto.records import one_line

log = logging.getLogger(__name__)

NAME = "config.last-good.toml"
MAX_BYTES = 1 << 20  # a configuration is a few KB


@dataclass(frozen=True)
class Loaded:
    config: Config
    error: str = ""  # the file's one-line error; "" when it was read
    source: str = ""  # what the watchdog runs on when `error` is set


def load(path: str | os.PathLike[str] | None, home: Home) -> Loaded:
    keep = home.watchdog / NAME
    try:
        cfg = config_mod.load(path)
    except ConfigError as e:
        return _fallback(keep, one_line(str(e)))
    _remember(path, keep, cfg)
    return Loaded(cfg)


def signature(path: str | os.PathLike[str] | None) -> tuple[int, int, int] | None:
    """What changes when the file does (inode, size, mtime), None when it cannot be seen."""
    where, _ = config_mod.config_path(path)
    try:
        st = os.stat(where)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def _remember(path: str | os.PathLike[str] | None, keep: Path, cfg: Config) -> None:
    where, _ = config_mod.config_path(path)
    try:
        text = where.read_bytes()[:MAX_BYTES]
        # Kept only if this text is what was read (the file may have changed in between).
        if config_mod.parse(tomllib.loads(text.decode("utf-8"))) != cfg:
            return
        if keep.is_file() and keep.read_bytes() == text:
            return
        keep.parent.mkdir(mode=0o700, exist_ok=True)  # in a home that exists: never make one
        write_bytes_atomic(keep, text)  # 0o600 from its first byte
    except FileNotFoundError:
        return  # no file: the defaults, nothing worth keeping
    except (OSError, ValueError, ConfigError) as e:
        log.warning("last good configuration not kept %s", fields(error=one_line(str(e))))


def last_good(home: Home, error: str) -> Loaded | None:
    """For a look that keeps nothing (a report, a scan): ecauto.toml's `error` with the
    configuration its last good read kept, as the watchdog runs on it; None when none was kept
    (or it cannot be read), where the look cannot tell what the watchdog uses."""
    keep = home.watchdog / NAME
    try:
        return Loaded(_read(keep), error, _source(keep))
    except (OSError, ValueError, ConfigError, RecursionError):
        return None


def _source(keep: Path) -> str:
    return f"the last good configuration ({keep})"


def _read(keep: Path) -> Config:
    st = os.lstat(keep)
    if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_BYTES:
        raise ValueError("not a small regular file")
    with open(keep, "rb") as f:
        return config_mod.parse(tomllib.loads(f.read().decode("utf-8")))


def _fallback(keep: Path, error: str) -> Loaded:
    try:
        cfg = _read(keep)
    except FileNotFoundError:
        return Loaded(Config(), error, "the defaults (no earlier configuration was kept)")
    except (OSError, ValueError, ConfigError, RecursionError) as e:
        log.warning("last good configuration unreadable %s", fields(error=one_line(str(e))))
        return Loaded(Config(), error, "the defaults (the kept configuration is unreadable)")
    return Loaded(cfg, error, _source(keep))
