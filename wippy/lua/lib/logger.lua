-- require("logger"): structured logs (Python logging, with the process's pid and entry).
local L = ...
local py = L.py
local setmetatable_, type_ = setmetatable, type

local Logger = {}
local LogMT = {__index = Logger, __metatable = false}
local root
local function new(name, fields) return setmetatable_({name, fields}, LogMT) end
local function level(name)
  return function(self, message, fields)
    if type_(self) ~= "table" then       -- logger.info("msg", fields) rather than logger:info(...)
      self, message, fields = root, self, message
    end
    py(OP.log, name, self[1], message, fields, self[2])
  end
end
Logger.debug, Logger.info, Logger.warn, Logger.error =
  level("debug"), level("info"), level("warn"), level("error")
function Logger.with(self, fields)
  local merged = {}
  if self[2] then for k, v in next, self[2] do merged[k] = v end end
  if type_(fields) == "table" then for k, v in next, fields do merged[k] = v end end
  return new(self[1], merged)
end
function Logger.named(self, name)
  if type_(name) ~= "string" or name == "" then
    return nil, L.mkerr("INVALID", "logger:named: empty name")
  end
  return new(self[1] and (self[1] .. "." .. name) or name, self[2])
end
root = new(nil, nil)
return root
