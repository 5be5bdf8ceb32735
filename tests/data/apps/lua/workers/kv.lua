-- A key-value server addressed by name, and a client that uses it from another host.
local function main(name)
  process.registry.register(name or "kv")
  local store = {}
  local inbox = process.inbox()
  while true do
    local msg = inbox:receive()
    local p = msg:payload():data()
    local topic = msg:topic()
    if topic == "set" then
      store[p.key] = p.value
      process.send(msg:from(), "ok", p.key)
    elseif topic == "get" then
      process.send(msg:from(), "value", {key = p.key, value = store[p.key]})
    elseif topic == "stop" then
      return "kv stopped"
    end
  end
end

local function client(name)
  local inbox = process.inbox()
  process.send(name, "set", {key = "lang", value = "lua"})
  inbox:receive()
  process.send(name, "get", {key = "lang"})
  return inbox:receive():payload():data()
end

return {main = main, client = client}
