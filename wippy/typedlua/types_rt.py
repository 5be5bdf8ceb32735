"""Run-time type values for typed Lua: a pure-Lua prelude, run once in each Lua state.

Why pure Lua: no Python object is reachable from sandboxed code, nothing crosses the lupa
boundary while validating, and the same code runs wherever a Lua state does.

Three parts, because a Lua state is created per process and compiling the ~25 KB of Lua this
takes costs ~0.6 ms (~0.05 ms from bytecode) -- far more than a spawn, while most processes never
touch a type value:

* the *installer* (:func:`prelude`, ~60 lines) runs in every state: it gives the environment an
  ``__index`` that materialises the type globals on first access, and ``string`` a ``__call``;
* the *core* (:func:`core_source`) is loaded on that first access: builtin type values, the
  constructors translated code calls (a module that declares ``type`` aliases needs only this),
  ``typeof``; type values get stub metamethods;
* the *engine* (:func:`engine_source`) is loaded the first time a type value is called,
  compared, printed or asked a method: validation, reflection, subtyping.

Each part is a Lua file beside this module: ``types_install.lua``, ``types_core.lua``,
``types_engine.lua``.

The globals, once materialised:

* ``__wippy_types`` -- constructors the translated code calls (``def``, ``record``, ``union``,
  ...) and the builtin type values (``__wippy_types.Number`` ...);
* ``typeof(v)``; ``Number``, ``Integer``, ``String``, ``Boolean``, ``Nil``, ``Any``,
  ``Unknown``, ``Never``; the casts ``number(x)``, ``integer(x)``, ``boolean(x)`` and
  ``string(x)`` (the ``string`` library table gets a ``__call``).

Semantics (Wippy's ``en/lua/types.md``; where the page is silent, the choice is written here):

* ``T(v)`` validates and returns ``v``, or raises an error object (``:kind()`` ``"INVALID"``,
  ``:message()``, ``:retryable()`` false, ``tostring`` = message prefixed with ``file:line:``).
  For a primitive ``T``, lossless conversions Lua itself performs are applied first:
  ``string(42)`` -> ``"42"``, ``number("1.5")`` -> ``1.5``, ``integer("7")``/``integer(7.0)``
  -> ``7``; ``boolean`` converts nothing.
* ``T:is(v)`` returns ``v, nil`` or ``nil, err`` and never converts.
* Records are structural: extra fields are allowed, fields are read with normal indexing (so
  objects whose methods come from a metatable pass). ``{T}`` needs keys ``1..#v`` only;
  an integral float passes as ``integer`` (JSON numbers).
* Validators run after the type check: ``@min/@max`` (numbers), ``@min_len/@max_len`` (UTF-8
  characters of a string, ``#`` of a table), ``@pattern`` (Lua patterns the translator made
  from the regex; any may match).
* ``typeof(v)`` is the dynamic type (``Integer`` for an integer, ``Number`` for a float, ...);
  for a local declared with a type, the translator passes the declared type.
* ``A == B`` is structural equality, ``A <= B`` subtyping, ``A < B`` strict subtyping.
* A named type that resolves to nothing at run time (a typo, or a type of another module not
  exported) validates as ``any``; ``wippy lint`` reports it.
* Errors are made by ``__wippy_types.make_error(message)``; the Lua runtime may replace it to
  build its own error objects.
"""
from __future__ import annotations

import os

__all__ = ["prelude", "core_source", "engine_source", "PRELUDE_CHUNK_NAME", "CORE_CHUNK_NAME",
           "ENGINE_CHUNK_NAME"]

PRELUDE_CHUNK_NAME = "=[wippy types installer]"
CORE_CHUNK_NAME = "=[wippy types]"
ENGINE_CHUNK_NAME = "=[wippy types engine]"


def _lua(name: str) -> str:
    with open(os.path.join(os.path.dirname(__file__), name), encoding="utf-8", newline="") as f:
        return f.read()


# The Lua itself, in files beside this one (read once, at import).
_INSTALL = _lua("types_install.lua")
_CORE = _lua("types_core.lua")
_ENGINE = _lua("types_engine.lua")


def prelude() -> str:
    """Lua source of the installer: run once per Lua state, before any translated chunk.

    Run it with the real globals as its own environment (it keeps private references to
    ``load``, ``setmetatable``, ``debug.getinfo`` taken before the sandbox removes them), the
    sandbox environment as first argument and the two other chunks as the next ones::

        core, names = load(prelude(), PRELUDE_CHUNK_NAME, "t", _G)(env, core, engine, make_error)

    ``core`` and ``engine`` are :func:`core_source` and :func:`engine_source`, either as text,
    as binary chunks (``string.dump`` of the loaded text, stripped, made once per host by the
    same Lua build: much cheaper to load), or as functions already loaded in this state.
    ``make_error(message)`` (optional) builds the error objects validation raises and returns
    (the default has ``:kind()`` ``"INVALID"``, ``:message()``, ``:retryable()``).

    With ``env`` a table, the installer sets an ``__index`` on it (chaining any ``__index``
    already there) that materialises the type globals on first access; with ``env`` false it
    touches no environment and the sandbox wires its own lazy globals: for a name in ``names``,
    the value is ``core().globals[name]``. Either way the global ``string`` table gets a
    ``__call`` (``string(x)``). The core is loaded on the first access to a type global, the
    engine on the first use of a type value. Returns ``core`` (loads the core once, returns
    ``__wippy_types``) and ``names``.
    """
    return _INSTALL


def core_source() -> str:
    """Lua source of the core: builtin types, constructors called by translated code, typeof."""
    return _CORE


def engine_source() -> str:
    """Lua source of the engine: validation, reflection and comparison of type values."""
    return _ENGINE
