"""``wippy.templates``: Jet templates from the registry (``template.set`` and ``template.jet``
entries), with Wippy's names (S13). Lua's ``templates`` module is a view of this one.

::

    views = templates.get("app.views:views")
    html = views.render("home", {"name": "Alice"})      # the data's keys are the variables
    views.release()

A ``template.jet`` entry belongs to the set its ``set`` field names; inside the set it is
known by ``meta.name``, else by its entry name, and templates refer to each other by that name
(``{{ extends "layout" }}``, ``{{ include "partials/header" }}``; ``./x.jet`` and the ``.jet``
extensions resolve to ``x``). Its ``source`` is inline or a ``file://`` path inside the
application. The set's ``engine``: ``delimiters.left``/``right`` (and wippy's own
``comment_left``/``comment_right``), ``globals`` (variables every template sees),
``development_mode`` (parse on every render instead of once per registry version).
The syntax is :mod:`wippy.templating.syntax`'s subset of Jet.

Checked action (S9): ``template.get`` [set id], Wippy's. Errors are
:class:`wippy.ResourceError`: INVALID (an empty id or name), NOT_FOUND (no such set or
template), INTERNAL (a template that does not parse or render: the message names the template
and line), or :class:`wippy.PermissionDenied`.
"""
from __future__ import annotations

import weakref
from typing import Any, Mapping

from .errors import ResourceError
from .registry.entry import code_file
from .resources import runtime_or_none
from .templating.render import candidates, render
from .templating.syntax import Delims, Template, TemplateError, parse

__all__ = ["get", "Set"]

# store -> (its version, set id) -> {template name: entry}; parsed templates by (entry id, key)
_INDEX: weakref.WeakKeyDictionary[Any, dict[Any, dict[str, dict[str, Any]]]] = \
    weakref.WeakKeyDictionary()
_PARSED: dict[tuple[str, str], Template] = {}
_MAX_CACHED = 1024           # parsed templates kept per OS process (dropped all at once past it)


def get(id: str) -> Set:
    """The template set of ``template.set`` entry ``id``. Raises PermissionDenied or
    ResourceError (INVALID, NOT_FOUND)."""
    if not isinstance(id, str) or not id:
        raise ResourceError("INVALID", "resource id is required")
    rt = runtime_or_none()
    if rt is not None:
        rt.check("template.get", id)
    s = Set(id, getattr(rt, "store", None))
    s._entry()
    return s


class Set:
    """A template set (Wippy's ``Set``): ``render(name, data)``, ``release()``."""

    __slots__ = ("id", "_store", "released")

    def __init__(self, id: str, store: Any) -> None:
        self.id = id
        self._store = store
        self.released = False

    def _entry(self) -> dict[str, Any]:
        entry = self._store.get(self.id) if self._store is not None else None
        if entry is None:
            raise ResourceError("NOT_FOUND", f"template set not found: {self.id}")
        if entry.get("kind") != "template.set":
            raise ResourceError("INVALID", f"{self.id} is a {entry.get('kind')}, not a "
                                           "template set")
        return entry

    def _members(self) -> dict[str, dict[str, Any]]:
        store = self._store
        key = (store.version(), self.id)
        index = _INDEX.setdefault(store, {})
        got = index.get(key)
        if got is None:
            got = {}
            for eid, e in store.entries().items():
                if e.get("kind") == "template.jet" and (e.get("data") or {}).get("set") == self.id:
                    name = (e.get("meta") or {}).get("name") or eid.partition(":")[2]
                    got[str(name)] = e
            if len(index) > 64:
                index.clear()
            index[key] = got
        return got

    def render(self, name: str, data: Mapping[str, Any] | None = None) -> str:
        """Render template ``name`` with ``data``'s keys as variables."""
        if self.released:
            raise ResourceError("INTERNAL", "template set is released")
        if not isinstance(name, str) or not name:
            raise ResourceError("INVALID", "template name is required")
        engine = (self._entry().get("data") or {}).get("engine") or {}
        d = engine.get("delimiters") or {}
        delims = Delims(d.get("left") or "{{", d.get("right") or "}}",
                        d.get("comment_left") or "{*", d.get("comment_right") or "*}")
        members = self._members()
        dev = bool(engine.get("development_mode"))

        def load(ref: str) -> Template:
            for cand in candidates(ref):
                entry = members.get(cand)
                if entry is not None:
                    return self._parse(cand, entry, delims, dev)
            raise TemplateError(f"template not found: {ref}")

        if not any(c in members for c in candidates(name)):
            raise ResourceError("NOT_FOUND", f"template not found: {name} (set {self.id})")
        try:
            return render(load, name, dict(data or {}), dict(engine.get("globals") or {}))
        except TemplateError as exc:
            raise ResourceError("INTERNAL", f"failed to render template {name}: {exc}") from None
        except RecursionError:
            raise ResourceError("INTERNAL", f"failed to render template {name}: nested too "
                                            "deep") from None

    def _parse(self, name: str, entry: dict[str, Any], delims: Delims, dev: bool) -> Template:
        data = entry.get("data") or {}
        key = (entry["id"], repr((entry.get("source_hash"), data.get("source"), delims)))
        got = None if dev else _PARSED.get(key)
        if got is not None:
            return got
        source = data.get("source") or ""
        path = code_file(entry)          # a file:// source, confined to the application
        if path is not None:
            try:
                with open(path, encoding="utf-8") as fh:
                    source = fh.read()
            except OSError as exc:
                raise TemplateError(f"{name}: cannot read {path}: {exc.strerror}") from None
        got = parse(name, source, delims)
        if len(_PARSED) >= _MAX_CACHED:
            _PARSED.clear()
        _PARSED[key] = got
        return got

    def release(self) -> bool:
        """Done with the set."""
        self.released = True
        return True
