local function listener(count)
  local events = require("events")
  local sub = events.subscribe("orders.**")
  process.registry.register("listener")
  local got = {}
  for i = 1, count do
    local ev = sub:channel():receive()
    got[#got + 1] = {system = ev.system, kind = ev.kind, path = ev.path, id = ev.data.id}
  end
  sub:close()
  return got
end

local function announcer(count)
  local events = require("events")
  for i = 1, count do
    events.send(i % 2 == 0 and "orders.eu" or "orders.us.east", "order.created", "/orders/" .. i, {id = i})
  end
  events.send("users", "user.created", "/users/1", {id = 0})
  return count
end

return {listener = listener, announcer = announcer}
