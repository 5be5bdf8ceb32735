
-- wippy typed Lua, installer: makes the type globals (__wippy_types, typeof, Number, ...,
-- number, integer, boolean) appear in env on first access, and string(x) a cast. Nothing
-- else is created until then: most processes never touch a type value.
-- Arguments: env (a table, or false to leave every environment alone), the core and engine
-- chunks (text, binary chunk or function), an optional make_error(message) for the errors
-- validation raises. Returns core() (loads the core once, returns __wippy_types) and the set
-- of global names, for a sandbox that wires its own lazy globals.
local env, core_chunk, engine_chunk, make_error = ...
if env == nil then env = _ENV end
local genv, load, type, next, rawget, rawset = _ENV, load, type, next, rawget, rawset
local setmetatable, getmetatable, error, tostring = setmetatable, getmetatable, error, tostring
-- what the core and the engine may use, taken now: a sandbox may prune the globals later
local B = {
  type = type, next = next, ipairs = ipairs, rawget = rawget, rawset = rawset, rawequal = rawequal,
  setmetatable = setmetatable, getmetatable = getmetatable, tostring = tostring,
  tonumber = tonumber, error = error, pcall = pcall, load = load,
  mtype = math.type, tointeger = math.tointeger, sfind = string.find,
  sformat = string.format, ssub = string.sub, ulen = utf8 and utf8.len,
  concat = table.concat, unpack = table.unpack, getinfo = debug and debug.getinfo,
}
local NAMES = {__wippy_types = true, typeof = true, Number = true, Integer = true, String = true,
               Boolean = true, Nil = true, Any = true, Unknown = true, Never = true,
               number = true, integer = true, boolean = true}
local T
local function core()
  if T == nil then
    local fn, err = core_chunk, nil
    if type(fn) ~= "function" then
      fn, err = load(core_chunk, "=[wippy types]", core_chunk:byte(1) == 27 and "b" or "t", {})
      if not fn then error("wippy types: " .. tostring(err), 0) end
    end
    T = fn(engine_chunk, B, make_error)
    if env then
      for name, value in next, T.globals do
        if rawget(env, name) == nil then rawset(env, name, value) end
      end
    end
  end
  return T
end
if env then
  local mt = getmetatable(env)
  if mt == nil then
    mt = {}
    setmetatable(env, mt)
  end
  if type(mt) == "table" then
    local old = mt.__index
    mt.__index = function(t, k)
      if NAMES[k] then return core().globals[k] end
      if old == nil then return nil end
      if type(old) == "function" then return old(t, k) end
      return old[k]
    end
  else
    core()          -- a protected metatable: install now
  end
end
local slib = rawget(env or genv, "string")
if type(slib) == "table" then
  local smt = getmetatable(slib)
  if smt == nil then
    smt = {}
    setmetatable(slib, smt)
  end
  if type(smt) == "table" then
    smt.__call = function(_, v)
      local t = core()
      return t.cast(t.String, v)
    end
  end
end
return core, NAMES
