-- Typed Lua's run-time type values (wippy/typedlua), installed in a state on first use of a
-- type global (__wippy_types, typeof, Number, ...). The installer keeps private references to
-- the globals it needs, so it runs with a table of the original ones, not the sandbox's.
local py, ret, mkerr, fatal, KILL, killer, HK, class, getmt, A = ...
local load_, PROXY, setmetatable_, getmetatable_ = A[20], A[22], A[14], A[15]

local installer, core, engine = py(OP.types_code)
local real = {
  type = A[9], next = A[17], ipairs = A[23], rawget = A[16], rawset = A[26], rawequal = A[25],
  setmetatable = setmetatable_, getmetatable = getmetatable_, tostring = A[11],
  tonumber = A[24], error = A[8], pcall = A[6], load = load_, debug = {getinfo = A[21]},
}
for name, mt in next, PROXY do real[name] = mt.__index end
local types_core = load_(installer, "=[wippy types installer]", "b", real)(
  false, core, engine, function(msg) return mkerr("Invalid", msg, false) end)
-- string(x) is a cast: the installer put a __call on the string library; the per-process
-- copies of `string` get it too
local smt = getmetatable_(real.string)
if smt and smt.__call then PROXY.string.__call = smt.__call end
return {get = function(name) return types_core().globals[name] end}
