local function spin()
  local n = 0
  while true do n = n + 1 end
end

local function ticker(count)
  local time = require("time")
  for i = 1, count do time.sleep("5ms") end
  return count
end

local function bomb()
  local t = {}
  for i = 1, 1e9 do t[i] = {i, tostring(i)} end
end

-- exponential backtracking inside string.find: one C call that no hook can interrupt
local function stuck_in_c()
  return string.find(string.rep("a", 40), string.rep("a?", 40) .. string.rep("a", 40) .. "b")
end

return {spin = spin, ticker = ticker, bomb = bomb, stuck_in_c = stuck_in_c}
