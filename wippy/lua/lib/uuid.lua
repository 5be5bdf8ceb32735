-- require("uuid")
local L = ...
local py, ret = L.py, L.ret
local function u(kind) return function(...) return ret(py(OP.uuid, kind, ...)) end end
return {
  v1 = u("v1"), v3 = u("v3"), v4 = u("v4"), v5 = u("v5"), v7 = u("v7"),
  validate = u("validate"), version = u("version"), variant = u("variant"),
  parse = u("parse"), format = u("format"),
}
