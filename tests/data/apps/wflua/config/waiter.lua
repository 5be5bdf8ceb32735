-- Waits for `n` signals on its inbox; returns their payloads in order. A durable time.after
-- (`input.after` seconds) can stand in for a signal that does not come.
local time = require("time")

local function main(input)
  local got = {}
  local inbox = process.inbox()
  while #got < input.n do
    if input.after then
      local r = channel.select{inbox:case_receive(), time.after(input.after * time.SECOND):case_receive()}
      if r.channel == inbox then got[#got + 1] = r.value:payload():data()
      else got[#got + 1] = "timeout" end
    else
      local msg = inbox:receive()
      got[#got + 1] = msg:payload():data()
    end
  end
  return got
end

return {main = main}
