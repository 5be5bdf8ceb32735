"""Typed Lua (SPEC S6): Wippy's annotations erased before Lua 5.4 runs the code."""
from __future__ import annotations

from .translate import TypedLuaError, translate

__all__ = ["TypedLuaError", "translate"]
