-- A worker pool: coroutines of one process sharing job and result channels.
local time = require("time")

local function main(n_jobs, n_workers)
  local jobs, results = channel.new(n_jobs), channel.new(n_jobs)
  for w = 1, n_workers do
    coroutine.spawn(function()
      while true do
        local job, ok = jobs:receive()
        if not ok then return end
        time.sleep("1ms")
        results:send({worker = w, job = job, out = job * job})
      end
    end)
  end
  for j = 1, n_jobs do jobs:send(j) end
  jobs:close()
  local total, seen = 0, {}
  for _ = 1, n_jobs do
    local r = results:receive()
    total = total + r.out
    seen[r.worker] = true
  end
  local workers = 0
  for _ in pairs(seen) do workers = workers + 1 end
  return {total = total, workers = workers}
end

return {main = main}
