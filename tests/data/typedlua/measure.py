"""Measure typed-Lua costs (not a test): python tests/data/typedlua/measure.py

Prints the translation cost of bench_200.lua (uncached and cached) and the per-Lua-state cost
of the run-time types (installer, core on first type global, engine on first use), from text
and from precompiled bytecode. Best of several repeats; figures go in docs/typed-lua.md.
"""
from __future__ import annotations

import os
import sys
import timeit

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", ".."))

import lupa.lua54 as lua54  # noqa: E402

from wippy.typedlua import core_source, engine_source, prelude, translate  # noqa: E402
from wippy.typedlua.translate import _translate  # noqa: E402

SRC = open(os.path.join(os.path.dirname(__file__), "bench_200.lua")).read()


def best_ms(fn, number: int, repeat: int = 7) -> float:
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number * 1e3


print(f"bench_200.lua: {SRC.count(chr(10))} lines, {len(SRC)} bytes")
print(f"translate, uncached: {best_ms(lambda: _translate(SRC, 'b'), 30):.2f} ms")
translate(SRC, "b")
print(f"translate, cached:   {best_ms(lambda: translate(SRC, 'b'), 20000) * 1e3:.2f} us")
print(f"lupa LuaRuntime():   {best_ms(lua54.LuaRuntime, 300) * 1e3:.1f} us (for scale)")

lua = lua54.LuaRuntime()
bench = lua.eval("""function(inst, core, eng, n)
  local function dump(s) return string.dump(load(s, '=x', 't'), true) end
  local ib, cb, eb = dump(inst), dump(core), dump(eng)
  local ifn = load(ib, '=i', 'b')
  local out = {}
  local function timeit(name, fn)
    local best = math.huge
    for _ = 1, 5 do
      collectgarbage() collectgarbage("stop")
      local envs = {} for i = 1, n do envs[i] = {string = {}} end
      local c = os.clock() for i = 1, n do fn(envs[i]) end
      best = math.min(best, (os.clock() - c) / n)
      collectgarbage("restart")
    end
    out[#out + 1] = string.format("%-48s %7.1f us", name, best * 1e6)
  end
  timeit("installer from text (compile + run)", function(e) load(inst, '=i', 't', _G)(e, cb, eb) end)
  timeit("installer from bytecode (undump + run)", function(e) load(ib, '=i', 'b', _G)(e, cb, eb) end)
  timeit("installer run only", function(e) ifn(e, cb, eb) end)
  timeit("+ first type global: core from bytecode", function(e) ifn(e, cb, eb) local _ = e.Number end)
  timeit("+ first type use: engine from bytecode", function(e) ifn(e, cb, eb) local _ = e.Number:kind() end)
  timeit("+ first type use, core and engine from text", function(e) ifn(e, core, eng) local _ = e.Number:kind() end)
  return table.concat(out, "\\n") .. string.format(
    "\\nbytecode sizes: installer %d, core %d, engine %d bytes", #ib, #cb, #eb)
end""")
print(bench(prelude(), core_source(), engine_source(), 1000))
