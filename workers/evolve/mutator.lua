-- The default code generator of the evolving agent (app.evolve:mutator, a function.lua).
--
-- The interface every generator implements (an LLM client can be another function entry with
-- the same one; app:evolve_settings names which to use):
--
--   generate(request) -> list of candidates
--     request   = {target = "puzzle", round = n, per_round = k,
--                  history = {{name, genome, status, ms}, ...}}   -- everything tried so far
--     candidate = {name = "astar-conflict-buckets-lifo", genome = {...}, source = "<Lua>",
--                  notes = "..."}
--   source: a complete function.lua module whose `solve(task)` takes a puzzle task
--   ({id, kind, boards = {{9 cells}, ...}}) and returns {id, kind, answer, cpu_ms}, where answer
--   is the sum of the shortest solution lengths of its boards.
--
-- This one is a template mutator: a genome picks a search (A* with a binary heap or with
-- buckets by f, LIFO or FIFO within a bucket; or IDA*) and a heuristic (misplaced tiles,
-- Manhattan distance, Manhattan + linear conflicts; and Manhattan x2, which is not admissible
-- and gives wrong answers: testing must catch it). Round 1 explores a fixed set, including a
-- runaway mutant (the sandbox's CPU limit must stop it); later rounds mutate the best survivor
-- one gene at a time, skipping what was tried, failed or rolled back.

local PRELUDE = [[
local DIST, MOVES, POW = {}, {}, {}
for t = 1, 8 do
  DIST[t] = {}
  local gr, gc = (t - 1) // 3, (t - 1) % 3
  for i = 0, 8 do DIST[t][i] = math.abs(gr - i // 3) + math.abs(gc - i % 3) end
end
for i = 0, 8 do
  local m = {}
  if i >= 3 then m[#m + 1] = i - 3 end
  if i <= 5 then m[#m + 1] = i + 3 end
  if i % 3 > 0 then m[#m + 1] = i - 1 end
  if i % 3 < 2 then m[#m + 1] = i + 1 end
  MOVES[i] = m
  POW[i] = math.tointeger(16 ^ (8 - i))
end
]]

local HEURISTICS = {}

-- h(cells): the estimate; hmove(cells, h, tile, from, to): the estimate after `tile` moves
-- from cell `from` to the blank at `to` (cells as before the move)
HEURISTICS.manhattan = [[
local WEIGHT = @WEIGHT@
local function h(cells)
  local s = 0
  for i = 0, 8 do local t = cells[i]; if t ~= 0 then s = s + DIST[t][i] end end
  return s * WEIGHT
end
local function hmove(cells, hh, tile, from, to)
  return hh + (DIST[tile][to] - DIST[tile][from]) * WEIGHT
end
]]

HEURISTICS.misplaced = [[
local function h(cells)
  local s = 0
  for i = 0, 8 do local t = cells[i]; if t ~= 0 and t ~= i + 1 then s = s + 1 end end
  return s
end
local function hmove(cells, hh, tile, from, to)
  local before = (from ~= tile - 1) and 1 or 0
  local after = (to ~= tile - 1) and 1 or 0
  return hh - before + after
end
]]

HEURISTICS.conflict = [[
-- Manhattan plus linear conflicts: tiles in their goal row (column) but in the wrong order
-- there; each tile that must leave the line to let the others pass costs two moves. The
-- fewest tiles to remove is the line's length minus its longest increasing run.
local function lis(a, n)
  if n < 2 then return n end
  if n == 2 then return a[1] < a[2] and 2 or 1 end
  if a[1] < a[2] and a[2] < a[3] then return 3 end
  if a[1] < a[2] or a[1] < a[3] or a[2] < a[3] then return 2 end
  return 1
end
local line = {}
local function h(cells)
  local s = 0
  for i = 0, 8 do local t = cells[i]; if t ~= 0 then s = s + DIST[t][i] end end
  for r = 0, 2 do
    local n = 0
    for c = 0, 2 do
      local t = cells[r * 3 + c]
      if t ~= 0 and (t - 1) // 3 == r then n = n + 1; line[n] = (t - 1) % 3 end
    end
    s = s + 2 * (n - lis(line, n))
    n = 0
    for k = 0, 2 do
      local t = cells[k * 3 + r]
      if t ~= 0 and (t - 1) % 3 == r then n = n + 1; line[n] = (t - 1) // 3 end
    end
    s = s + 2 * (n - lis(line, n))
  end
  return s
end
local function hmove(cells, hh, tile, from, to)
  cells[to], cells[from] = tile, 0
  local v = h(cells)
  cells[from], cells[to] = tile, 0
  return v
end
]]

local SEARCHES = {}

SEARCHES.astar = [[
local function shortest(board)
  local cells, key, blank = {}, 0, 0
  for i = 0, 8 do
    local t = board[i + 1]
    cells[i] = t
    key = key + t * POW[i]
    if t == 0 then blank = i end
  end
  local h0 = h(cells)
  if h0 == 0 then return 0 end
  local best = {[key] = 0}
@QUEUE@
  push(h0, {h0, 0, key, blank})
  while true do
    local node = pop()
    if node == nil then return -1 end
    local hh, g, k, b = node[1], node[2], node[3], node[4]
    if hh == 0 then return g end
    if g <= best[k] then
      local kk = k
      for i = 8, 0, -1 do cells[i] = kk % 16; kk = kk // 16 end
      local moves = MOVES[b]
      for m = 1, #moves do
        local nxt = moves[m]
        local tile = cells[nxt]
        local nh = hmove(cells, hh, tile, nxt, b)
        local nk = k + tile * (POW[b] - POW[nxt])
        local ng = g + 1
        local old = best[nk]
        if old == nil or ng < old then
          best[nk] = ng
          push(ng + nh, {nh, ng, nk, nxt})
        end
      end
    end
  end
end
]]

local QUEUES = {}
QUEUES.heap = [[
  local heap, n, fs = {}, 0, {}
  local function less(a, b)            -- by f, then by h (closer to the goal first)
    local fa, fb = fs[a], fs[b]
    return fa < fb or (fa == fb and a[1] < b[1])
  end
  local function push(f, node)
    fs[node] = f
    n = n + 1
    heap[n] = node
    local i = n
    while i > 1 do
      local p = i // 2
      if not less(heap[i], heap[p]) then break end
      heap[p], heap[i] = heap[i], heap[p]
      i = p
    end
  end
  local function pop()
    if n == 0 then return nil end
    local top = heap[1]
    heap[1] = heap[n]
    heap[n] = nil
    n = n - 1
    local i = 1
    while true do
      local l, r, s = 2 * i, 2 * i + 1, i
      if l <= n and less(heap[l], heap[s]) then s = l end
      if r <= n and less(heap[r], heap[s]) then s = r end
      if s == i then break end
      heap[s], heap[i] = heap[i], heap[s]
      i = s
    end
    fs[top] = nil
    return top
  end
]]
QUEUES.buckets_lifo = [[
  local buckets, fmin, left = {}, math.huge, 0
  local function push(f, node)
    local b = buckets[f]
    if b == nil then b = {}; buckets[f] = b end
    b[#b + 1] = node
    if f < fmin then fmin = f end
    left = left + 1
  end
  local function pop()
    if left == 0 then return nil end
    while true do
      local b = buckets[fmin]
      if b ~= nil and #b > 0 then
        local node = b[#b]
        b[#b] = nil
        left = left - 1
        return node
      end
      fmin = fmin + 1
    end
  end
]]
QUEUES.buckets_fifo = [[
  local buckets, heads, fmin, left = {}, {}, math.huge, 0
  local function push(f, node)
    local b = buckets[f]
    if b == nil then b = {}; buckets[f] = b; heads[f] = 1 end
    b[#b + 1] = node
    if f < fmin then fmin = f end
    left = left + 1
  end
  local function pop()
    if left == 0 then return nil end
    while true do
      local b = buckets[fmin]
      if b ~= nil and heads[fmin] <= #b then
        local i = heads[fmin]
        heads[fmin] = i + 1
        left = left - 1
        return b[i]
      end
      fmin = fmin + 1
    end
  end
]]

SEARCHES.ida = [[
local function shortest(board)
  local cells, blank = {}, 0
  for i = 0, 8 do cells[i] = board[i + 1]; if cells[i] == 0 then blank = i end end
  local h0 = h(cells)
  local bound, nextb = h0, 0
  local function search(g, hh, b, prev)
    local f = g + hh
    if f > bound then
      if f < nextb then nextb = f end
      return false
    end
    if hh == 0 then return true end
    local moves = MOVES[b]
    for m = 1, #moves do
      local nxt = moves[m]
      if nxt ~= prev then
        local tile = cells[nxt]
        local nh = hmove(cells, hh, tile, nxt, b)
        cells[b], cells[nxt] = tile, 0
        local found = search(g + 1, nh, nxt, b)
        cells[nxt], cells[b] = tile, 0
        if found then return true end
      end
    end
    return false
  end
  while true do
    nextb = math.huge
    if search(0, h0, blank, -1) then return bound end
    bound = nextb
  end
end
]]

local MAIN = [[
return {solve = function(task)
  local t0 = os.clock()
  local total = 0
  for _, board in ipairs(task.boards) do total = total + shortest(board) end
  return {id = task.id, kind = task.kind, answer = total,
          cpu_ms = math.floor((os.clock() - t0) * 10000 + 0.5) / 10}
end}
]]

local FAULTS = {
  -- never returns: the sandbox's max_cpu must end it
  runaway = "return {solve = function(task) local n = 0 while true do n = n + 1 end end}",
}

local function name_of(g)
  if g.fault then return g.fault end
  local parts = {g.search, g.h}
  if g.search == "astar" then
    parts[#parts + 1] = g.queue
    if g.queue == "buckets" then parts[#parts + 1] = g.order end
  end
  return table.concat(parts, "-")
end

local function source_of(g)
  if g.fault then return FAULTS[g.fault] end
  local hname, weight = g.h, "1"
  if hname == "manhattan2" then hname, weight = "manhattan", "2" end
  local search = SEARCHES[g.search]
  if g.search == "astar" then
    local q = g.queue == "heap" and QUEUES.heap or QUEUES["buckets_" .. (g.order or "lifo")]
    search = search:gsub("@QUEUE@", function() return q end)
  end
  local heur = HEURISTICS[hname]:gsub("@WEIGHT@", weight)
  return PRELUDE .. heur .. search .. MAIN
end

local EXPLORE = {
  {search = "astar", h = "manhattan", queue = "heap"},
  {search = "astar", h = "manhattan", queue = "buckets", order = "lifo"},
  {search = "astar", h = "misplaced", queue = "buckets", order = "lifo"},
  {search = "ida", h = "manhattan"},
  {search = "astar", h = "manhattan2", queue = "buckets", order = "lifo"},
  {fault = "runaway"},
}
local GENES = {
  search = {"astar", "ida"}, h = {"manhattan", "conflict", "misplaced"},
  queue = {"heap", "buckets"}, order = {"lifo", "fifo"},
}

local function copy(g) local c = {}; for k, v in pairs(g) do c[k] = v end; return c end

local function normalize(g)
  if g.search == "ida" then g.queue, g.order = nil, nil
  elseif g.queue == "heap" then g.order = nil
  elseif g.queue == "buckets" and g.order == nil then g.order = "lifo"
  elseif g.queue == nil then g.queue, g.order = "buckets", "lifo" end
  return g
end

local function generate(request)
  local tried, survivors = {}, {}
  for _, h in ipairs(request.history or {}) do
    tried[h.name] = true
    if h.status == "ok" and h.genome and not h.genome.fault then survivors[#survivors + 1] = h end
  end
  table.sort(survivors, function(a, b) return a.ms < b.ms end)
  local round = request.round or 1
  local limit = request.per_round or 4
  local chosen, parents = {}, {}
  if round == 1 or #survivors == 0 then
    for _, g in ipairs(EXPLORE) do
      if not tried[g.fault or name_of(g)] then chosen[#chosen + 1] = g end
    end
    if round == 1 then limit = #chosen end
  end
  -- the fastest survivors' neighbours: one gene changed, never what was tried before
  for _, parent in ipairs(survivors) do
    for _, gene in ipairs({"h", "search", "queue", "order"}) do
      for _, value in ipairs(GENES[gene]) do
        local g = normalize(copy(parent.genome))
        g[gene] = value
        g = normalize(g)
        local n = name_of(g)
        if not tried[n] and #chosen < limit then
          tried[n] = true
          chosen[#chosen + 1] = g
          parents[g] = parent.name
        end
      end
    end
  end
  local out = {}
  for i = 1, math.min(limit, #chosen) do
    local g = chosen[i]
    out[#out + 1] = {name = name_of(g), genome = g, source = source_of(g),
                     notes = g.fault and "a mutant that never returns"
                             or (parents[g] and ("one gene away from " .. parents[g]))
                             or "exploration"}
  end
  return out
end

return {generate = generate}
