-- A chain of stage processes passing data along, and a final "done" to the originator.
local function stage(index, next_pid, origin)
  local msg = process.inbox():receive()
  local data = msg:payload():data()
  data.path[#data.path + 1] = index
  data.sum = data.sum + index
  if next_pid then
    process.send(next_pid, "data", data)
  else
    process.send(origin, "done", data)
  end
  return index
end

local function chain(n, hosts)
  local me = process.pid()
  local next_pid = nil
  for i = n, 1, -1 do
    next_pid = process.spawn("lua:stage", hosts[(i % #hosts) + 1], i, next_pid, me)
  end
  process.send(next_pid, "data", {path = {}, sum = 0})
  local msg = process.inbox():receive()
  return {topic = msg:topic(), data = msg:payload():data()}
end

return {stage = stage, chain = chain}
