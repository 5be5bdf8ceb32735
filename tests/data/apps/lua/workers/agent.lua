-- An agent that writes new Lua code into the registry and uses it at once.
local registry = require("registry")
local funcs = require("funcs")

local function main(tag, host)
  local changes = registry.snapshot():changes()
  changes:create({
    id = "gen:" .. tag .. "_fn", kind = "function.lua", meta = {author = "agent"},
    data = {source = "local function run(x) return {x = x, by = 'generated'} end return {run = run}",
            method = "run"},
  })
  changes:create({
    id = "gen:" .. tag .. "_proc", kind = "process.lua",
    data = {source = "local function main(a, b) return a .. '+' .. b end return {main = main}",
            method = "main"},
  })
  local version, err = changes:apply()
  if err then return nil, err end
  local called, cerr = funcs.call("gen:" .. tag .. "_fn", 21)
  if cerr then return nil, cerr end
  local spawned, serr = process.exec("gen:" .. tag .. "_proc", host, "left", "right")
  if serr then return nil, serr end
  local entry = registry.get("gen:" .. tag .. "_fn")
  return {version = version:id(), called = called, spawned = spawned,
          meta = entry.meta.author}
end

-- A service that reacts to registry changes.
local function watch(prefix, count)
  local events = require("events")
  local sub = events.subscribe("registry")
  process.registry.register("watcher")
  local seen = {}
  while #seen < count do
    local ev = sub:channel():receive()
    if ev.path:sub(1, #prefix) == prefix then
      seen[#seen + 1] = {kind = ev.kind, path = ev.path, entry_kind = ev.data and ev.data.kind}
    end
  end
  return seen
end

return {main = main, watch = watch}
