-- Two services that find each other by name and ping-pong with timeouts.
local time = require("time")

local function pong()
  process.registry.register("pong")
  local inbox = process.inbox()
  while true do
    local msg = inbox:receive()
    if msg:topic() == "ping" then
      process.send(msg:from(), "pong", msg:payload():data() + 1)
    elseif msg:topic() == "stop" then
      return "pong done"
    end
  end
end

local function ping(rounds)
  local inbox = process.inbox()
  local n = 0
  -- the name reaches this host when the node announces it, which may be after this spawn
  for _ = 1, 400 do
    if process.registry.lookup("pong") then break end
    time.sleep("5ms")
  end
  for i = 1, rounds do
    local ok, err = process.send("pong", "ping", n)
    if err then return nil, err end
    local r = channel.select{inbox:case_receive(), time.after("2s"):case_receive()}
    if r.channel ~= inbox then return nil, errors.new({kind = errors.TIMEOUT, message = "no pong"}) end
    n = r.value:payload():data()
  end
  process.send("pong", "stop")
  return n
end

return {ping = ping, pong = pong}
