-- The core of a Lua state (S6): the sandbox, the calling conventions, lazy API tables and the
-- task bootstrap. Runs once per Lua state, on the main thread, with the full standard library;
-- everything privileged stays in locals of this chunk. Kept small on purpose: every function
-- prototype here costs ~400 bytes in every Lua process. The API lives in Python (api.py,
-- modules.py, timemod.py) and in lib/*.lua, loaded on first use.
--
-- `OP.<name>` and `REQ.<name>` are replaced by numbers before this file is compiled (driver.py):
--   py(OP.<name>, ...)        a non-blocking call into Python
--   co_yield(REQ.<name>, ...) a blocking request to the driver
-- Both answer `ok, ...`: ok=true: the values; ok=false: kind, message (-> nil, err);
-- ok=2: a class name and fields (-> a new object; ok=4: the same, then true, as
-- channel receives answer); ok=3: kind, message (-> raised);
-- ok=nil: the process ended itself.
-- A coroutine that yields nothing was preempted by the count hook (engine.py).
local py = ...

local traceback, registry, getmt = debug.traceback, debug.getregistry(), debug.getmetatable
local co_yield, co_running = coroutine.yield, coroutine.running
local xpcall_, error_, type_, tostring_ = xpcall, error, type, tostring
local rawget_, rawset_, load_, setmetatable_ = rawget, rawset, load, setmetatable
local sfind, collect = string.find, collectgarbage
-- handed to lib/*.lua (positionally: no names kept in the state)
local PROXY = {}              -- library name -> metatable of the per-process copies
local OBJ = {}                -- metatables of our objects (classes): `type` says "userdata"
local LIBARGS = {coroutine.create, coroutine.resume, coroutine.status, coroutine.close,
                 coroutine.isyieldable, pcall, xpcall, error, type, select, tostring,
                 table.concat, table.unpack, setmetatable, getmetatable, rawget, next,
                 coroutine.yield, coroutine.running, load, debug.getinfo, PROXY, ipairs,
                 tonumber, rawequal, rawset, OBJ, traceback}   -- [29]: errstr, below

-- Limits: the C hook kills a coroutine it cannot yield by switching it to Lua's debug hook
-- running `killer`, which raises KILL on every instruction; threads must be in HK for that.
local KILL = {}
local function killer() error_(KILL, 0) end
debug.sethook(killer, "", 0)       -- creates the hook table; mask 0 arms nothing
local HK = registry._HOOKKEY
HK[co_running()] = nil
local function fatal(e)
  if e == KILL then return "killed" end
  if type_(e) == "string" then
    if e == "not enough memory" then return "memory" end
    if sfind(e, "stack overflow", 1, true) then return "stack" end
  end
end

-- Objects are tables whose metatable is their class. Classes and API members are described
-- by Python on first use and cached per state as closures.
-- Error objects (errkinds.py): {kind, message, retryable, details, stack, context}.
local classes, cache = {}, {}
local new_obj, lib, ErrMT
local function getter(i) return function(t) return t[i] end end
local errmeta = false        -- lib/errmeta.lua: loaded with the state's first error object
local function mkerr(kind, message, retryable, details, stack, context)
  if not errmeta then errmeta = true; lib("errmeta") end
  return setmetatable_({kind, message, retryable, details, stack, context}, ErrMT)
end
local function errstr(e)                       -- tostring(err): "context: message"
  local c = e[6]
  if c then return c .. ": " .. e[2] end
  return e[2]
end
LIBARGS[29] = errstr
local function ret(ok, ...)
  if ok == true then return ... end
  if ok == 2 then return new_obj(...) end
  if ok == 4 then return new_obj(...), true end  -- a received object: value, ok
  if ok == nil then co_yield() end             -- the process ended itself: stop here
  if ok == 3 then error_(mkerr(...), 2) end    -- an error raised where the user called
  return nil, mkerr(...)
end
local function fn(n, blocking)                 -- module function f(...) / blocking call
  if blocking then return function(...) return ret(co_yield(n, ...)) end end
  return function(...) return ret(py(n, ...)) end
end
local function meth(n, blocking)               -- method: the object's fields go first
  return function(self, ...)
    if type_(self) ~= "table" then return ret(py(n, nil, nil, nil, self, ...)) end   -- a.f(x)
    if blocking then return ret(co_yield(n, self[1], self[2], self[3], ...)) end
    return ret(py(n, self[1], self[2], self[3], ...))
  end
end
local function module(name, parent, key)
  local c = cache[name]
  if c == nil then c = {}; cache[name] = c end
  local t = setmetatable_({}, {__metatable = false, __index = function(t, k)
    local v = c[k]
    if v == nil then
      -- members are named: an object's missing field (meth reads self[1..3]) is nil without
      -- asking Python, which answers nil for any key that is not a string
      if type_(k) ~= "string" then return nil end
      local kind, x, y, z = py(OP.describe, name, k)
      if kind == "f" then v = fn(x, false)
      elseif kind == "b" then v = fn(x, true)
      elseif kind == "m" then v = meth(x, false)
      elseif kind == "mb" then v = meth(x, true)
      elseif kind == "g" then v = getter(x)
      elseif kind == "c" then v = x
      elseif kind == "o" then              -- an object: one per process (objects are mutable)
        v = new_obj(x, y, z)
        rawset_(t, k, v)
        return v
      elseif kind == "t" then return module(x, t, k)
      else return nil end
      c[k] = v
    end
    rawset_(t, k, v)
    return v
  end})
  if parent then rawset_(parent, key, t) end
  return t
end
-- tostring(obj) is its `tostring` (or `string`, Go's String()) method when the class has one
local pformat = string.format
local function show(o)
  local idx = getmt(o).__index
  local f = idx.tostring or idx.string
  if f then return f(o) end
  return "userdata: " .. pformat("%p", o)
end
local ORDERED = {Time = true, Duration = true}   -- compare with == < <= (lib/order.lua)
local ITERATORS = {FsDirIter = true}   -- `for x in obj`: a call is obj:next() (fs readdir)
local function step(o) return o:next() end
local function class(name)
  local mt = classes[name]
  if mt == nil then
    mt = {__index = module("@" .. name), __metatable = false, __tostring = show}
    if ORDERED[name] then mt.__eq, mt.__lt, mt.__le = lib("order")() end
    if ITERATORS[name] then mt.__call = step end
    classes[name] = mt
    OBJ[mt] = true
  end
  return mt
end
local ChanMT = class("Channel")
local CHANNEL_FIELD = {Timer = 2, Ticker = 2, Future = 2, Subscription = 2}
function new_obj(cls, a, b, c, d, e)
  if cls == "Error" and not errmeta then errmeta = true; lib("errmeta") end
  local o = setmetatable_({a, b, c, d, e}, class(cls))
  local f = CHANNEL_FIELD[cls]
  if f then o[f] = setmetatable_({o[f], false}, ChanMT) end
  return o
end
ErrMT = class("Error")
ErrMT.__tostring = errstr

-- Channels: ch = {handle, topic or false}; receive and select are blocking calls answered by
-- Python with final values. A table or function sent over a channel stays in this process:
-- the driver parks it and only a number travels.
-- Payloads: {value, format}; format nil is "lua/any" (payloadmod.py transcodes the others).
local PayloadMT = class("Payload")
local C = cache["@Channel"]
function C.case_receive(ch) return {ch, false} end
function C.case_send(ch, v) return {ch, true, v} end
cache["@Message"] = {payload = function(m) return setmetatable_({m[3]}, PayloadMT) end}
local function payload_data(p)
  if p[2] == nil then return p[1] end
  return ret(py(OP.payload_data, p[1], p[2]))
end
cache["@Payload"].data, cache["@Payload"].unmarshal = payload_data, payload_data
cache.payload = {new = function(v)
  return setmetatable_({v, getmt(v) == ErrMT and "golang/error" or nil}, PayloadMT)
end}

local libs = {}                                -- lib/<name>.lua, loaded once per state
function lib(name)
  local l = libs[name]
  if l == nil then
    l = load_(py(OP.lua_lib, name), "=" .. name, "b")(py, ret, mkerr, fatal, KILL, killer, HK,
                                                      class, getmt, LIBARGS)
    libs[name] = l
  end
  return l
end

-- The sandbox -------------------------------------------------------------------------------
-- The pruned global table is the shared fallback; each process gets its own layer (penv) with
-- copy-on-write proxies of the libraries and its lazily made API tables; each chunk (the entry,
-- each library) gets its own environment on top, with its own `require`.
local string_mt = getmetatable("")
local LOADED = registry._LOADED
for _, k in next, {"io", "debug", "package", "python", "coroutine"} do LOADED[k] = nil end
for _, k in next, {"load", "loadfile", "dofile", "require", "collectgarbage", "rawlen", "io",
                   "debug", "package", "python", "module", "loadstring", "setfenv", "getfenv",
                   "newproxy", "gcinfo", "warn", "coroutine", "pcall", "xpcall", "print",
                   "setmetatable", "getmetatable", "type"} do _G[k] = nil end
string.dump = nil
for _, k in next, {"execute", "exit", "getenv", "remove", "rename", "tmpname", "setlocale"} do
  os[k] = nil
end
os.platform = "wippy"
for _, k in next, {"string", "table", "math", "os", "utf8"} do
  PROXY[k] = {__index = _G[k], __metatable = false}
  _G[k] = nil
end
string_mt.__metatable = false
_G.unpack = LIBARGS[13]
-- `string(x)` is typed Lua's cast, there before any type value was used (lib/types.lua
-- replaces this __call with its own when it loads); Wippy's table.create(narr, nrec)
PROXY.string.__call = fn(OP.string_cast)
PROXY.table.__index.create = fn(OP.table_create)

local penv, EnvMT, loaded_libs, loading, mods
-- globals made on first use, per process: an API table, or something from a lib/*.lua
local LAZY = {process = false, channel = false, payload = false, errors = "errors", coroutine = "coroutine",
              pcall = "base", xpcall = "base", print = "base", setmetatable = "base",
              getmetatable = "base", type = "base", __wippy_types = "types", typeof = "types",
              Number = "types", Integer = "types", String = "types", Boolean = "types",
              Nil = "types", Any = "types", Unknown = "types", Never = "types",
              number = "types", integer = "types", boolean = "types"}
setmetatable_(_G, {
  __index = function(_, k)
    local how = LAZY[k]
    if how == nil then return nil end
    local v
    if how == "coroutine" or how == "errors" then v = lib(how).new()
    elseif how == "types" then v = lib(how).get(k)
    elseif how then v = lib(how)[k]
    else v = module(k) end
    rawset_(penv, k, v)
    return v
  end,
  __metatable = false,
})

local function make_require(entry)
  return function(name)
    if type_(name) ~= "string" then error_("bad argument #1 to 'require' (string expected)", 2) end
    local what, a, b, c = py(OP.require, entry, name)
    if what == "module" then
      local m = mods[name] or module(name)
      mods[name] = m
      return m
    elseif what == "global" then
      return penv[name]
    elseif what == "library" then          -- a, b, c: library id, binary chunk, chunk name
      local v = loaded_libs[a]
      if v ~= nil then return v end
      if loading[a] then error_("require: import cycle through " .. a, 2) end
      loading[a] = true
      local env = setmetatable_({}, EnvMT)
      env._G, env.require = env, make_require(a)
      local ok, res = LIBARGS[6](load_(b, c, "b", env))
      loading[a] = nil
      if not ok then error_(res, 0) end
      if res == nil then res = true end
      loaded_libs[a] = res
      return res
    end
    error_(a, 2)                            -- what == false: a is the message
  end
end

-- Tasks -------------------------------------------------------------------------------------
local function handler(e)
  if fatal(e) then return e end
  if getmt(e) == ErrMT then
    if e[5] == nil then e[5] = traceback(e[2], 2) end
    return e
  end
  local msg = type_(e) == "string" and e or tostring_(e)
  return mkerr("Internal", msg, nil, nil, traceback(msg, 2))
end
local function run_main(chunk, env, method, ...)
  local mod = chunk()
  local f = type_(mod) == "table" and mod[method] or nil
  if f == nil then f = rawget_(env, method) end
  if type_(f) ~= "function" then
    error_(mkerr("Invalid", "the entry's code has no function '" .. method .. "'", false), 0)
  end
  return f(...)
end
-- Python reads: true, value -- or false, kind, message, stack, retryable, details
local function outcome(ok, v, e)
  if ok then
    if e == nil or type_(e) == "boolean" then return true, v end
    v = e                                   -- `return value, err`
  end
  if getmt(v) == ErrMT then return false, v[1], errstr(v), v[5], v[3], v[4] end
  local why = fatal(v)
  if why then return false, "LimitExceeded", why end
  return false, "Internal", tostring_(v)
end

local exports = {new_obj = new_obj, collect = function() collect("collect") end}
function exports.new_process()             -- a fresh layer for the next process of this state
  penv = {}
  for name, mt in next, PROXY do penv[name] = setmetatable_({}, mt) end
  string_mt.__index = penv.string
  setmetatable_(penv, {__index = _G, __metatable = false})
  EnvMT = {__index = penv, __metatable = false}
  loaded_libs, loading, mods = {}, {}, {}
end
function exports.main(code, entry, method, ...)
  HK[co_running()] = killer
  local env = setmetatable_({}, EnvMT)
  env._G, env.require = env, make_require(entry)
  return outcome(xpcall_(run_main, handler, load_(code, nil, "b", env), env, method, ...))
end
function exports.task(f, ...)              -- coroutine.spawn
  HK[co_running()] = killer
  local ok, e = xpcall_(f, handler, ...)
  if ok then return true end
  return outcome(false, e)
end
return exports, tostring_(co_running())
