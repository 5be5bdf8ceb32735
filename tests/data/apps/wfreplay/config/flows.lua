-- A Lua workflow whose recorded journal (tests/data/golden/history_*.json) is replayed by
-- tests/test_workflow_histories.py: it takes every kind of journal step.
local funcs = require("funcs")
local time = require("time")
local uuid = require("uuid")
local workflow = require("workflow")

local function every_step(input)
  local t0 = time.now():unix_nano()
  local u = uuid.v4()
  local a = funcs.call("app:double", input.x)
  local k = funcs.call("app:lkey")
  time.sleep("10ms")
  local fired = time.after("10ms"):receive()
  local v = workflow.version("change-1", 1, 2)
  local r = workflow.random()
  local wu = workflow.uuid()
  local _, err = funcs.call("app:fail", "boom")
  local child = workflow.start("app:py_child", {x = a})
  local msg = process.inbox():receive()
  return {t0 = t0, u = u, a = a, k = k, fired = fired:unix_nano(), v = v, r = r, wu = wu,
          err = err:kind(), child = child, signal = msg:payload():data()}
end

return {every_step = every_step}
