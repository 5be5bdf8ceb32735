local util = require("util")
local function main(v) return util.describe({value = v}) end
return {main = main}
