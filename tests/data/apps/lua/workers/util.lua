local json = require("json")
local M = {}
function M.describe(t) return json.encode(t) end
return M
