-- Globals made on first use: pcall, xpcall, print, setmetatable, getmetatable, type.
-- pcall/xpcall make memory and stack overflows (and the hook's KILL) fatal: they are rethrown,
-- so a limit cannot be caught and retried.
local py, ret, mkerr, fatal, KILL, killer, HK, class, getmt, A = ...
local pcall_, xpcall_, error_, type_, select_, tostring_, concat =
  A[6], A[7], A[8], A[9], A[10], A[11], A[12]
local setmetatable_, getmetatable_, rawget_, OBJ = A[14], A[15], A[16], A[27]

local function check(ok, ...)
  if not ok then
    local why = fatal((...))
    if why then py(OP.fatal, why) error_((...), 0) end
  end
  return ok, ...
end
local M = {}
function M.pcall(f, ...) return check(pcall_(f, ...)) end
function M.xpcall(f, h, ...)
  if type_(h) ~= "function" then error_("bad argument #2 to 'xpcall' (function expected)", 2) end
  -- a handler runs without hooks when the error came from a hook: never call the user's
  -- handler for our own fatal errors
  return check(xpcall_(f, function(e) if fatal(e) then return e end return h(e) end, ...))
end
function M.print(...)               -- Wippy: print goes to the log (info level)
  local n = select_("#", ...)
  local parts = {...}
  for i = 1, n do parts[i] = tostring_(parts[i]) end
  py(OP.print, concat(parts, "\t", 1, n))
end
function M.setmetatable(t, mt)      -- no finalizers: they would run at any time, unhooked
  if type_(mt) == "table" and rawget_(mt, "__gc") ~= nil then
    error_("setmetatable: __gc metamethods are not allowed", 2)
  end
  return setmetatable_(t, mt)
end
function M.getmetatable(v)          -- userdata are wippy's handles: their metatable is private
  if type_(v) == "userdata" then return nil end
  return getmetatable_(v)
end
function M.type(v)                  -- wippy's objects are userdata, as in Wippy
  local t = type_(v)
  if t == "table" and OBJ[getmt(v)] then return "userdata" end
  return t
end
return M
