-- The sandbox and the core of Wippy's Lua API (S6). Runs once per Lua state, on the main
-- thread, with the full standard library; everything privileged stays in locals of this chunk.
-- User code gets an environment whose fallback is the pruned global table.
--
-- `OP.name` and `REQ.name` are replaced by numbers before this file is compiled (driver.py):
--   py(OP.x, ...)        a non-blocking call into Python; returns ok, ... (ok=false: kind, message)
--   co_yield(REQ.x, ...) a blocking request to the driver; resumed with ok, ... the same way
-- A coroutine that yields nothing was preempted by the count hook (engine.py).
local py = ...

local debug_sethook, traceback = debug.sethook, debug.traceback
local registry = debug.getregistry()
local co_create, co_resume, co_yield, co_status, co_running, co_close, co_isyieldable =
  coroutine.create, coroutine.resume, coroutine.yield, coroutine.status, coroutine.running,
  coroutine.close, coroutine.isyieldable
local pcall_, xpcall_, error_, select_, type_, tostring_ = pcall, xpcall, error, select, type, tostring
local rawget_, rawset_, next_, load_ = rawget, rawset, next, load
local setmetatable_, getmetatable_ = setmetatable, getmetatable
local sfind, concat, unpack = string.find, table.concat, table.unpack

-- Limits -----------------------------------------------------------------------------------
-- The count hook (C) kills a coroutine it cannot yield by switching it to Lua's debug hook with
-- `killer`, which raises KILL on every instruction. Threads must be in the hook table for that.
local KILL = {}
local function killer() error_(KILL, 0) end
debug_sethook(killer, "", 0)         -- creates the hook table; mask 0 arms nothing
local HK = registry._HOOKKEY
HK[co_running()] = nil

local function fatal(e)
  if e == KILL then return "killed" end
  if type_(e) == "string" then
    if e == "not enough memory" then return "memory" end
    if sfind(e, "stack overflow", 1, true) then return "stack" end
  end
end

local function check(ok, ...)
  if not ok then
    local why = fatal((...))
    if why then py(OP.fatal, why) error_((...), 0) end
  end
  return ok, ...
end

local function pcall(f, ...) return check(pcall_(f, ...)) end
local function xpcall(f, h, ...)
  if type_(h) ~= "function" then error_("bad argument #2 to 'xpcall' (function expected)", 2) end
  -- a message handler runs without hooks when the error came from a hook: never call the
  -- user's handler for our own fatal errors
  return check(xpcall_(f, function(e) if fatal(e) then return e end return h(e) end, ...))
end

-- Errors -----------------------------------------------------------------------------------
local E = {}            -- methods of error objects: {kind, message, retryable, details, stack}
local ErrMT = {__index = E, __metatable = false}
function ErrMT.__tostring(e) return e[2] end
function E.kind(e) return e[1] end
function E.message(e) return e[2] end
function E.retryable(e) return e[3] end
function E.details(e) return e[4] end
function E.stack(e) return e[5] end
local function mkerr(kind, message, retryable, details)
  return setmetatable_({kind, message, retryable, details}, ErrMT)
end
local function is_error(e) return getmetatable_(e) == ErrMT end

local function ret(ok, ...)
  if ok then return ... end
  if ok == nil then co_yield() end          -- the process ended itself: stop here
  return nil, mkerr(...)
end
local function raise(ok, ...)                -- for calls that raise instead of returning err
  if ok then return ... end
  if ok == nil then co_yield() end
  error_(mkerr(...), 3)
end
local function api(op) return function(...) return ret(py(op, ...)) end end
local function blocking(req) return function(...) return ret(co_yield(req, ...)) end end

-- Coroutines -------------------------------------------------------------------------------
-- A user's yield is tagged, so that a request or a preemption coming out of a user coroutine
-- passes through the user's resume up to the driver, and the answer comes back down.
local USER = {}
local function yield(...) return co_yield(USER, ...) end
local function after(co, ok, ...)
  if not ok then
    local why = fatal((...))
    if why then py(OP.fatal, why) error_((...), 0) end
    return false, ...
  end
  if co_status(co) == "dead" then return true, ... end
  if (...) == USER then return true, select_(2, ...) end
  return after(co, co_resume(co, co_yield(...)))
end
local function resume(co, ...) return after(co, co_resume(co, ...)) end
local function create(f)
  local co = co_create(f)
  HK[co] = killer
  return co
end
local function unwrap(ok, ...)
  if ok then return ... end
  local e = ...
  if type_(e) == "string" then error_(e, 2) end
  error_(e, 0)
end
local function wrap(f)
  local co = create(f)
  return function(...) return unwrap(resume(co, ...)) end
end
local function close(co) return check(co_close(co)) end
local function spawn(fn, ...)
  if type_(fn) ~= "function" then error_("bad argument #1 to 'spawn' (function expected)", 2) end
  return raise(py(OP.spawn_task, fn, ...))
end
for k in next_, coroutine do coroutine[k] = nil end
coroutine.create, coroutine.resume, coroutine.yield, coroutine.wrap = create, resume, yield, wrap
coroutine.status, coroutine.running, coroutine.isyieldable = co_status, co_running, co_isyieldable
coroutine.close, coroutine.spawn = close, spawn

-- Values that stay inside the process ------------------------------------------------------
-- Channels carry Python values; a table, function or coroutine sent over a channel of this
-- process stays here, in `slots`, and only its number travels.
local slots, next_slot = {}, 0
local function put(v)
  local t = type_(v)
  if t == "table" or t == "function" or t == "thread" or t == "userdata" then
    next_slot = next_slot + 1
    slots[next_slot] = v
    return next_slot, true
  end
  return v, false
end
local function take(id) local v = slots[id]; slots[id] = nil; return v end

local LIB              -- what built-in modules get (set at the end)
local lazy = {}         -- name -> module table, for modules loaded on first use
local function internal(name)
  local m = lazy[name]
  if m == nil then
    local code = raise(py(OP.library_code, name))
    m = load_(code, "=" .. name, "b")(LIB)
    lazy[name] = m
  end
  return m
end

local M = {}            -- methods of messages: {topic, from, payload}
local MsgMT = {__index = M, __metatable = false}
local P = {}
local PayloadMT = {__index = P, __metatable = false}
function P.data(p) return p[1] end
function M.topic(m) return m[1] end
M["from"] = function(m) return m[2] end
function M.payload(m) return setmetatable_({m[3]}, PayloadMT) end

-- Python answers with a tag saying what follows (driver.py, `encode`).
local function decode(tag, a, b, c, d, e, f)
  if tag == 0 then return a end
  if tag == 1 then return take(a) end
  if tag == 2 then return setmetatable_({a, b, c}, MsgMT) end
  if tag == 3 then
    local ev = {kind = a, from = b, reason = f}
    if a ~= "CANCEL" then ev.result = {value = c, error = d and mkerr(d, e) or nil} end
    return ev
  end
  if tag == 4 then return internal("time").from_unix(a) end
  if tag == 5 then
    if b then return mkerr(b, c) end
    return setmetatable_({a}, PayloadMT)
  end
end

-- Channels ---------------------------------------------------------------------------------
local handle = setmetatable_({}, {__mode = "k"})    -- channel object -> Python channel
local C = {}
local ChanMT = {__index = C, __metatable = false}
local function chan(h, kind)
  local ch = setmetatable_({kind}, ChanMT)
  handle[ch] = h
  return ch
end
-- ch[1]: the topic, for process.listen(topic, {message = true}): payloads become messages
local function recv_result(ch, ok, tag, ...)
  if not ok then return nil, false end
  if ch[1] then return setmetatable_({ch[1], nil, decode(tag, ...)}, MsgMT), true end
  return decode(tag, ...), true
end
function C.receive(ch) return recv_result(ch, co_yield(REQ.recv, handle[ch])) end
function C.send(ch, v)
  local x, ref = put(v)
  local ok, kind, msg = co_yield(REQ.send, handle[ch], x, ref)
  if not ok then
    if ref then take(x) end
    if ok == nil then co_yield() end
    error_(mkerr(kind, msg), 2)
  end
  return true
end
function C.close(ch) return raise(py(OP.chan_close, handle[ch])) end
function C.case_receive(ch) return {ch, false} end
function C.case_send(ch, v) return {ch, true, v} end

local function select_result(cases, ok, idx, recv_ok, ...)
  if not ok then
    if ok == nil then co_yield() end
    error_(mkerr(idx, recv_ok), 3)
  end
  if idx == 0 then return {default = true, ok = true}, 0 end
  local c = cases[idx]
  if c[2] then return {channel = c[1], value = c[3], ok = true}, idx end
  local v = nil
  if recv_ok then
    v = decode(...)
    if c[1][1] then v = setmetatable_({c[1][1], nil, v}, MsgMT) end
  end
  return {channel = c[1], value = v, ok = recv_ok}, idx
end
local function select(cases)
  if type_(cases) ~= "table" then error_("bad argument #1 to 'select' (table of cases expected)", 2) end
  local args, n, refs = {}, #cases, nil
  for i = 1, n do
    local c = cases[i]
    local h = type_(c) == "table" and handle[c[1]]
    if not h then error_("channel.select: case " .. i .. " is not a channel case", 2) end
    local x, ref = nil, false
    if c[2] then
      x, ref = put(c[3])
      if ref then refs = refs or {}; refs[i] = x end
    end
    args[4 * i - 3], args[4 * i - 2], args[4 * i - 1], args[4 * i] = h, c[2], x, ref
  end
  local r, chosen = select_result(cases, co_yield(REQ.select, cases.default == true, n,
                                                   unpack(args, 1, 4 * n)))
  if refs then
    for i, id in next_, refs do
      if i ~= chosen then slots[id] = nil end
    end
  end
  return r
end

local channel = {
  new = function(size) return chan(raise(py(OP.chan_new, size))) end,
  select = select,
}

-- Environments, require, lazy globals ------------------------------------------------------
local loaded_libs = {}       -- library entry id -> its module value
local loading = {}
local new_env

local function make_require(entry)
  return function(name)
    if type_(name) ~= "string" then error_("bad argument #1 to 'require' (string expected)", 2) end
    local what, a, b, c = raise(py(OP.require, entry, name))
    if what == "global" then return _G[name] end
    if what == "module" then return internal(name) end
    -- a library.lua entry: a, b, c = library id, its binary chunk, chunk name
    local v = loaded_libs[a]
    if v ~= nil then return v end
    if loading[a] then error_("require: import cycle through " .. a, 2) end
    loading[a] = true
    local env = new_env(a)
    local f = load_(b, c, "b", env)
    local okr, res = pcall(f)
    loading[a] = nil
    if not okr then error_(res, 0) end
    if res == nil then res = env end
    loaded_libs[a] = res
    return res
  end
end

local EnvMT = {__index = _G, __metatable = false}
function new_env(entry)
  local env = setmetatable_({}, EnvMT)
  env._G, env.require = env, make_require(entry)
  return env
end

local function print(...)
  local n = select_("#", ...)
  local parts = {...}
  for i = 1, n do parts[i] = tostring_(parts[i]) end
  py(OP.print, concat(parts, "\t", 1, n))
end
local function safe_setmetatable(t, mt)
  if type_(mt) == "table" and rawget_(mt, "__gc") ~= nil then
    error_("setmetatable: __gc metamethods are not allowed", 2)
  end
  return setmetatable_(t, mt)
end
local function safe_getmetatable(v)
  if type_(v) == "userdata" then return nil end
  return getmetatable_(v)
end

-- Prune the global table in place: it becomes the read-only fallback of every environment.
local LOADED = registry._LOADED
for _, k in next_, {"io", "debug", "package", "python"} do LOADED[k] = nil end
for _, k in next_, {"load", "loadfile", "dofile", "require", "collectgarbage", "rawlen",
                     "io", "debug", "package", "python", "module", "loadstring", "setfenv",
                     "getfenv", "newproxy", "gcinfo", "warn"} do _G[k] = nil end
string.dump = nil
for _, k in next_, {"execute", "exit", "getenv", "remove", "rename", "tmpname", "setlocale"} do
  os[k] = nil
end
getmetatable_("").__metatable = false
_G.pcall, _G.xpcall, _G.print = pcall, xpcall, print
_G.setmetatable, _G.getmetatable = safe_setmetatable, safe_getmetatable
_G.unpack, _G.channel = unpack, channel
local LAZY_GLOBALS = {process = "process", errors = "errors"}
setmetatable_(_G, {
  __index = function(t, k)
    local m = LAZY_GLOBALS[k]
    if m then local v = internal(m); rawset_(t, k, v); return v end
  end,
  __metatable = false,
})

-- Tasks ------------------------------------------------------------------------------------
local function handler(e)
  if fatal(e) then return e end
  if is_error(e) then
    if e[5] == nil then e[5] = traceback(e[2], 2) end
    return e
  end
  local msg = type_(e) == "string" and e or tostring_(e)
  return setmetatable_({"INTERNAL", msg, nil, nil, traceback(msg, 2)}, ErrMT)
end
local function parts(e)
  if is_error(e) then return e[1], e[2], e[5] end
  if fatal(e) then return "LIMIT_EXCEEDED", tostring_(e) end
  return "INTERNAL", tostring_(e)
end
local function finish_main(ok, v, e)
  if not ok then return false, parts(v) end
  if e ~= nil then return false, parts(e) end
  return true, v
end
local function finish_task(ok, e)
  if not ok then return false, parts(e) end
  return true
end
local function run_main(chunk, env, method, ...)
  local mod = chunk()
  local fn = type_(mod) == "table" and mod[method] or nil
  if fn == nil then fn = rawget_(env, method) end
  if type_(fn) ~= "function" then
    error_(mkerr("INVALID", "the entry's code has no function '" .. method .. "'"), 0)
  end
  return fn(...)
end

local exports = {}
function exports.main(code, entry, method, ...)        -- a process's (or function call's) main
  HK[co_running()] = killer
  local env = new_env(entry)
  local chunk = load_(code, nil, "b", env)
  return finish_main(xpcall_(run_main, handler, chunk, env, method, ...))
end
function exports.task(fn, ...)                          -- coroutine.spawn
  HK[co_running()] = killer
  return finish_task(xpcall_(fn, handler, ...))
end

LIB = {
  py = py, ret = ret, raise = raise, api = api, blocking = blocking, mkerr = mkerr,
  is_error = is_error, E = E, chan = chan, handle = handle, decode = decode,
  internal = internal, put = put, take = take, yield = co_yield, PayloadMT = PayloadMT,
  MsgMT = MsgMT,
}
return exports, tostring_(co_running())
