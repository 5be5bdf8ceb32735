"""Wippy's Lua ``templates`` module: ``templates.get(id)`` and a set's ``render(name, data)``
and ``release()``, a view of :mod:`wippy.templates` (Jet templates, :mod:`wippy.templating`).

``TemplateSet`` objects carry the Python set as their first field. Rendering runs in the
process's slice (it is pure computation over data the process passed).
"""
from __future__ import annotations

from typing import Any

from .. import templates as _templates
from .api import ApiError, New, function, method, text
from .engine import from_lua, is_lua_table

__all__: list[str] = []


@function("templates")
def get(id: Any = None) -> Any:
    return New((b"TemplateSet", _templates.get("" if id is None else text(id, "resource id"))))


def _set(s: Any) -> _templates.Set:
    if not isinstance(s, _templates.Set):
        raise ApiError("INVALID", "a template set expected")
    return s


@method("TemplateSet", "render")
def _render(s: Any, _b: Any, _c: Any, name: Any = None, data: Any = None) -> bytes:
    variables: Any = {}
    if data is not None:
        if not is_lua_table(data):
            raise ApiError("INVALID", "data must be a table")
        variables = from_lua(data)
        if not isinstance(variables, dict):
            variables = {}               # Wippy: data that is not a map gives no variables
    return _set(s).render("" if name is None else text(name, "template name"),
                          variables).encode()


@method("TemplateSet", "release")
def _release(s: Any, *_: Any) -> bool:
    return _set(s).release()
