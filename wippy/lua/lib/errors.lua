-- The `errors` global: Wippy's structured errors.
local L = ...
local mkerr, is_error = L.mkerr, L.is_error
local type_, tostring_ = type, tostring

local errors = {
  UNKNOWN = "UNKNOWN", INVALID = "INVALID", NOT_FOUND = "NOT_FOUND",
  ALREADY_EXISTS = "ALREADY_EXISTS", PERMISSION_DENIED = "PERMISSION_DENIED",
  TIMEOUT = "TIMEOUT", CANCELED = "CANCELED", UNAVAILABLE = "UNAVAILABLE",
  INTERNAL = "INTERNAL", CONFLICT = "CONFLICT", RATE_LIMITED = "RATE_LIMITED",
  LIMIT_EXCEEDED = "LIMIT_EXCEEDED",
}

function errors.new(x, y)
  if is_error(x) then return x end
  if type_(x) == "table" then
    return mkerr(x.kind or "UNKNOWN", tostring_(x.message or ""), x.retryable, x.details)
  end
  if y ~= nil and type_(x) == "string" and errors[x] == x then   -- errors.new(kind, message)
    return mkerr(x, tostring_(y))
  end
  return mkerr("UNKNOWN", tostring_(x))
end

function errors.wrap(err, message)
  if err == nil then return nil end
  if not is_error(err) then err = errors.new(err) end
  local e = mkerr(err[1], tostring_(message) .. ": " .. err[2], err[3], err[4])
  e[5] = err[5]
  return e
end

function errors.is(err, kind) return is_error(err) and err[1] == kind end

function errors.call_stack(err)
  if not is_error(err) or err[5] == nil then return nil end
  local frames = {}
  for src, line, name in err[5]:gmatch("\n%s*([^:\n]+):(%d+): in ([^\n]+)") do
    frames[#frames + 1] = {source = src, line = tonumber(line), name = name}
  end
  return {thread = "main", frames = frames}
end

return errors
