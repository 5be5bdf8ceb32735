-- Starts a workflow from a Lua process: the PID, or the error's kind and message.
local workflow = require("workflow")

local function main(id, input, name)
  local pid, err = workflow.start(id, input, {name = name})
  if err then return {error = err:kind(), message = err:message()} end
  return {pid = pid}
end

return {main = main}
