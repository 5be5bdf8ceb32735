-- A hand-written supervisor that respawns a crashing monitored worker.
local function flaky(attempt, fail_until)
  if attempt < fail_until then error("worker crashed on attempt " .. attempt) end
  return {attempt = attempt}
end

local function supervise(host, fail_until, max_restarts)
  local logger = require("logger")
  local events = process.events()
  local attempt, failures = 1, {}
  process.spawn_monitored("lua:flaky", host, attempt, fail_until)
  while true do
    local ev = events:receive()
    if ev.kind == process.event.EXIT then
      if ev.result.error == nil then
        return {restarts = attempt - 1, result = ev.result.value, failures = failures}
      end
      failures[#failures + 1] = ev.result.error:message()
      logger:info("worker failed, restarting", {attempt = attempt})
      if attempt > max_restarts then
        return nil, errors.new({kind = errors.INTERNAL, message = "too many restarts"})
      end
      attempt = attempt + 1
      process.spawn_monitored("lua:flaky", host, attempt, fail_until)
    end
  end
end

return {flaky = flaky, supervise = supervise}
