-- A function.lua activity: its idempotency key, as the workflow that called it sees it.
local workflow = require("workflow")
local function key() return workflow.idempotency_key() end
return {key = key}
