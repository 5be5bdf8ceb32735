"""Wippy's registry filter (``registry.find``, ``snapshot:find``), as one pure function.

Keys, as in Wippy's registry docs:

* root selectors ``.kind``, ``.ns``, ``.name``, ``.id`` (equal); Wippy also accepts them
  unprefixed (``kind``, ``ns``, ``name``, ``id``), and so do we;
* ``meta.k`` (equal), ``~meta.k`` (regex search), ``*meta.k`` (contains), ``^meta.k`` (prefix),
  ``$meta.k`` (suffix).

Any other unprefixed key is ignored, as Wippy's finder does, with one warning per key per OS
process (a typo such as ``{type = "x"}`` for ``meta.type`` would otherwise match everything in
silence). A malformed prefixed key (``.color``, ``~name``) is still an error: it cannot be a
meta field, so it is a mistake in a selector we know.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from ..errors import RegistryError

__all__ = ["match", "ROOT_KEYS"]

log = logging.getLogger("wippy.registry")

#: The root selectors, and the part of an entry each compares.
ROOT_KEYS = (".kind", ".ns", ".name", ".id")
_BARE = {key[1:]: key for key in ROOT_KEYS}     # Wippy's unprefixed spellings
_OPS = frozenset("~*^$")
_warned: set[str] = set()


@lru_cache(maxsize=256)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _root(entry: Mapping[str, Any], key: str) -> Any:
    if key == ".kind":
        return entry["kind"]
    if key == ".id":
        return entry["id"]
    ns, _, name = entry["id"].partition(":")
    return ns if key == ".ns" else name


def _ignored(key: str) -> None:
    if key not in _warned:
        _warned.add(key)
        log.warning("registry filter key %r ignored (known: %s, meta.k, ~meta.k, *meta.k, "
                    "^meta.k, $meta.k)", key, " ".join(ROOT_KEYS))


def match(entry: Mapping[str, Any], flt: Mapping[str, Any]) -> bool:
    """Pure (but for a warning): does ``entry`` (public or stored form) pass every key of
    Wippy's filter ``flt``? Raises :class:`wippy.RegistryError` for a malformed prefixed key."""
    meta = entry.get("meta") or {}
    for key, want in flt.items():
        key = _BARE.get(key, key) if isinstance(key, str) else str(key)
        if key in ROOT_KEYS:
            ok = _root(entry, key) == want
        elif key.startswith("meta."):
            ok = meta.get(key[5:]) == want
        elif key[:1] in _OPS and key[1:6] == "meta.":
            have = meta.get(key[6:])
            if have is None:
                return False
            have, want_s = str(have), str(want)
            op = key[0]
            ok = (bool(_regex(want_s).search(have)) if op == "~" else want_s in have if op == "*"
                  else have.startswith(want_s) if op == "^" else have.endswith(want_s))
        elif key[:1] in _OPS or key.startswith("."):
            raise RegistryError(f"unknown filter key '{key}' ({' '.join(ROOT_KEYS)} meta.k "
                                "~meta.k *meta.k ^meta.k $meta.k)")
        else:
            _ignored(key)
            continue
        if not ok:
            return False
    return True
