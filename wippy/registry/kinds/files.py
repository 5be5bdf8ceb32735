"""Filesystems, command executors and templates (docs/lua.md): ``fs.directory``,
``exec.native``, ``template.set`` and ``template.jet``."""
from __future__ import annotations

import re
from typing import Any

from ..entry import FUNCTION_KINDS
from .fields import (
    OPTIONAL,
    REQUIRED,
    Spec,
    _Ctx,
    _bool,
    _enum,
    _list,
    _mapping,
    _nonempty,
    _ref,
    _source,
    _str,
    _str_map,
    describe,
)
from .lifecycle import _PLAIN_LIFECYCLE


def _octal_mode(value: Any, path: str, ctx: _Ctx) -> Any:
    """A Unix permission mode: ``"0755"`` (Wippy's form, a string of octal digits)."""
    if isinstance(value, str) and re.fullmatch(r"0?[0-7]{3}", value.strip()):
        return value.strip().rjust(4, "0")
    return ctx.error(path, f"must be an octal mode such as \"0755\", got {describe(value)}")


SCHEMAS: dict[str, Spec] = {}
SCHEMAS["fs.directory"] = {
    "directory": (_nonempty(_str), REQUIRED), "auto_init": (_bool, False),
    "mode": (_octal_mode, "0755"), "base": (_enum(("project", "module")), "project"),
    "lifecycle": _PLAIN_LIFECYCLE,
}
SCHEMAS["exec.native"] = {
    "default_work_dir": (_str, OPTIONAL), "default_env": (_str_map, {}),
    "command_whitelist": (_list(_str), OPTIONAL), "lifecycle": _PLAIN_LIFECYCLE,
}
SCHEMAS["template.set"] = {
    "engine": (_mapping({
        "development_mode": (_bool, False),
        "delimiters": (_mapping({"left": (_nonempty(_str), OPTIONAL),
                                 "right": (_nonempty(_str), OPTIONAL),
                                 "comment_left": (_nonempty(_str), OPTIONAL),
                                 "comment_right": (_nonempty(_str), OPTIONAL)}), {}),
        "extensions": (_list(_str), OPTIONAL),
        "globals": (_mapping(None), {}),
    }), {}),
    "lifecycle": _PLAIN_LIFECYCLE,
}
SCHEMAS["template.jet"] = {
    "set": (_ref(frozenset({"template.set"})), REQUIRED), "source": (_source, REQUIRED),
    "data_func": (_ref(FUNCTION_KINDS), OPTIONAL),     # Wippy's view pages: kept, not used here
    "lifecycle": _PLAIN_LIFECYCLE,
}
