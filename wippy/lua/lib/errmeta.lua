-- Loaded with a state's first error object: error objects concatenate (`"x: " .. err`), and the
-- string library takes them as the strings they stand for (Wippy: `string.find(err, "not
-- found")`). Kept out of the prelude: a process that never meets an error pays nothing.
local py, ret, mkerr, fatal, KILL, killer, HK, class, getmt, A = ...
local PROXY, errstr = A[22], A[29]
local ErrMT = class("Error")
local function cstr(v) if getmt(v) == ErrMT then return errstr(v) end return v end
ErrMT.__concat = function(a, b) return cstr(a) .. cstr(b) end
local S = PROXY.string.__index
for _, k in A[17], {"find", "match", "gmatch", "gsub", "sub", "len", "lower", "upper", "rep",
                    "reverse", "byte"} do
  local f = S[k]
  S[k] = function(s, ...) if getmt(s) == ErrMT then s = errstr(s) end return f(s, ...) end
end
return true
