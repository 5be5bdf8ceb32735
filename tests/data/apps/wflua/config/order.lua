-- A Lua workflow: activities (funcs.call), durable timers (time.sleep), journaled time.now and
-- uuid; stamp and token are logged by activities, so a test can see replay return them.
local funcs = require("funcs")
local time = require("time")
local uuid = require("uuid")
local workflow = require("workflow")

local function main(input)
  local log, n = input.log, input.steps
  local started = time.now():unix_nano()
  local token = uuid.v4()
  funcs.call("app:note", log, "stamp", started, token)
  local total = 0
  for i = 0, n - 1 do
    local v, err = funcs.call("app:charge", log, i, i + 1)
    if err then return nil, err end
    total = total + v
    if input.sleep then time.sleep(input.sleep * time.SECOND) end
  end
  local key = funcs.call("app:key")            -- a function.lua activity
  local ver = workflow.version("v2-change", 1, 2)
  local r = workflow.random()
  return {total = total, started = started, token = token, key = key, version = ver,
          random_ok = r >= 0 and r < 1, wf_uuid_len = #workflow.uuid(),
          outside_activity_key = workflow.idempotency_key() == nil}
end

return {main = main}
