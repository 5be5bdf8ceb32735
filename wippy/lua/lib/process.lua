-- The `process` global (S4): Wippy's process API over wippy's runtime.
local L = ...
local py, api, ret, raise, blocking, chan = L.py, L.api, L.ret, L.raise, L.blocking, L.chan
local type_, setmetatable_ = type, setmetatable

local function spawner(flags)
  return function(id, host, ...) return ret(py(OP.spawn, flags, id, host, ...)) end
end
local function watcher(op, on)
  return function(dest) return ret(py(op, dest, on)) end
end
local cache = {}
local function mailbox(op)
  return function()
    local ch = cache[op]
    if ch == nil then ch = chan(raise(py(op))); cache[op] = ch end
    return ch
  end
end
local listeners = {}

local function unsupported(name)
  return function() return nil, L.mkerr("UNAVAILABLE", "process." .. name .. " is not available in wippy") end
end

local process = {
  pid = function() return raise(py(OP.pid)) end,
  send = api(OP.send),
  spawn = spawner(0),
  spawn_monitored = spawner(1),
  spawn_linked = spawner(2),
  spawn_linked_monitored = spawner(3),
  exec = blocking(REQ.exec),
  terminate = api(OP.terminate),
  cancel = api(OP.cancel),
  monitor = watcher(OP.monitor, true),
  unmonitor = watcher(OP.monitor, false),
  link = watcher(OP.link, true),
  unlink = watcher(OP.link, false),
  inbox = mailbox(OP.inbox),
  events = mailbox(OP.events),
  set_options = api(OP.set_options),
  get_options = api(OP.get_options),
  event = {EXIT = "EXIT", LINK_DOWN = "LINK_DOWN", CANCEL = "CANCEL"},
  registry = {
    register = blocking(REQ.register),
    lookup = api(OP.lookup),
    unregister = blocking(REQ.unregister),
    LOCAL = 0, EVENTUAL = 1, CONSISTENT = 2, STRONG = 3,
  },
  upgrade = unsupported("upgrade"),
  with_context = unsupported("with_context"),
  with_options = unsupported("with_options"),
}
process.id = process.pid

function process.listen(topic, options)
  local as_message = type_(options) == "table" and options.message == true
  local key = as_message and ("\0" .. tostring(topic)) or topic
  local ch = listeners[key]
  if ch == nil then
    local h, err = ret(py(OP.listen, topic))
    if not h then return nil, err end
    ch = chan(h, as_message and topic or false)
    listeners[key] = ch
  end
  return ch
end

function process.unlisten(ch)
  for k, c in next, listeners do
    if c == ch then
      listeners[k] = nil
      local other = false
      for _, c2 in next, listeners do if L.handle[c2] == L.handle[ch] then other = true end end
      if not other then return ret(py(OP.unlisten, L.handle[ch])) end
      return true
    end
  end
  return true
end

return process
