-- The `coroutine` library of a Lua process (a new table per process, shared functions).
-- A user's yield is tagged, so that a blocking request or a preemption coming out of a user
-- coroutine passes through the user's resume up to the driver, and the answer comes back down.
local py, ret, mkerr, fatal, KILL, killer, HK, class, getmt, A = ...
local co_create, co_resume, co_status, co_close, co_isyieldable = A[1], A[2], A[3], A[4], A[5]
local error_, type_, select_, co_yield, co_running = A[8], A[9], A[10], A[18], A[19]

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
  return after(co, co_resume(co, co_yield(...)))       -- a request or a preemption: pass it up
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
local function close(co)
  local ok, e = co_close(co)
  if not ok and fatal(e) then error_(e, 0) end
  return ok, e
end
local function spawn(f, ...)
  if type_(f) ~= "function" then error_("bad argument #1 to 'spawn' (function expected)", 2) end
  return ret(py(OP.spawn_task, f, ...))
end
return {new = function()
  return {create = create, resume = resume, yield = yield, wrap = wrap, status = co_status,
          running = co_running, isyieldable = co_isyieldable, close = close, spawn = spawn}
end}
