-- A child workflow: one activity, then a signal to its parent.
local funcs = require("funcs")

local function main(input)
  local words = funcs.call("app:note", input.log, "child-runs", process.pid())
  process.send(input.parent, "child-done", {pid = process.pid(), words = words})
  return {ok = true}
end

return {main = main}
