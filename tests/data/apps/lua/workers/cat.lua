-- A terminal app: reads stdin line by line, prints each line numbered, returns a summary.
local io = require("io")
local function main(prefix)
  local n = 0
  while true do
    local line, err = io.readline()
    if err then break end
    n = n + 1
    io.print(string.format("%s%d: %s", prefix or "", n, line))
  end
  io.eprint("done")
  return "lines: " .. n
end
return {main = main}
