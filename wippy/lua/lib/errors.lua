-- The `errors` global of a Lua process (a new table per process, shared functions): Wippy's
-- error kinds and constructors. Error objects are the prelude's (errkinds.py lists the
-- fields); `errors.new` records where it was called (err:stack()).
local py, ret, mkerr, fatal, KILL, killer, HK, class, getmt, A = ...
local type_, tostring_, next_, traceback = A[9], A[11], A[17], A[28]
local ErrMT = class("Error")

local KINDS = {UNKNOWN = "", NOT_FOUND = "NotFound", ALREADY_EXISTS = "AlreadyExists",
               INVALID = "Invalid", PERMISSION_DENIED = "PermissionDenied",
               UNAVAILABLE = "Unavailable", INTERNAL = "Internal", CANCELED = "Canceled",
               CONFLICT = "Conflict", TIMEOUT = "Timeout", RATE_LIMITED = "RateLimited",
               LIMIT_EXCEEDED = "LimitExceeded"}

local function text(v)
  if type_(v) == "string" then return v end
  if v == nil then return "" end
  return tostring_(v)
end

local function new(x)
  if getmt(x) == ErrMT then return x end
  if type_(x) == "table" then
    local msg, kind, details, r = text(x.message), x.kind, x.details, x.retryable
    if kind == nil then kind = "" elseif type_(kind) ~= "string" then kind = tostring_(kind) end
    if type_(details) ~= "table" or next_(details) == nil then details = nil end
    if type_(r) ~= "boolean" then r = nil end
    return mkerr(kind, msg, r, details, traceback(msg, 2))
  end
  local msg = text(x)
  return mkerr("", msg, nil, nil, traceback(msg, 2))
end

local function wrap(err, message)
  if err == nil then return nil end
  if getmt(err) ~= ErrMT then
    local msg = text(err)
    err = mkerr("", msg, nil, nil, traceback(msg, 2))
  end
  if message == nil then return err end
  local c = text(message)
  if err[6] then c = c .. ": " .. err[6] end
  return mkerr(err[1], err[2], err[3], err[4], err[5], c)
end

local function is(err, kind)
  return getmt(err) == ErrMT and err[1] == kind
end

local function call_stack(err)
  if getmt(err) ~= ErrMT or type_(err[5]) ~= "string" then return nil end
  local frames, n = {}, 0
  for src, line, name in err[5]:gmatch("\n%s*([^\n]-):(%d+): in ([^\n]+)") do
    n = n + 1
    frames[n] = {source = src, line = A[24](line), name = name}
  end
  return {thread = "main", frames = frames}
end

return {new = function()
  local t = {new = new, wrap = wrap, is = is, call_stack = call_stack}
  for k, v in next_, KINDS do t[k] = v end
  return t
end}
