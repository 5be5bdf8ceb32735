-- The evolving agent (service app.supervisors:evolve, actor agent:evolve): it writes faster
-- solvers for the default workload's 8-puzzle tasks, in Lua, at run time, and puts the best to
-- work with no restart. Its policies (config/security.yaml, group "evolve") confine it to its
-- own namespace (app.evolve) and to Lua: it may read and write entries there, call its
-- candidates, the workload's reference solver and task maker, and send messages; nothing else.
--
-- A run (a "run" request from `wippy run . -x app:evolve`, or the default workload starting
-- under plain `wippy run`):
--   1. screen sample: a few real puzzle tasks (app.workers:make_tasks); their answers and
--      time under the reference solver (app.workers:solve, Python) and the current one;
--   2. each round: ask the generator (app:evolve_settings.generator, a function entry) for
--      candidates; register each as a function.lua in app.evolve with sandbox limits; run it
--      on the sample: an error or a limit (LimitExceeded) or a wrong answer rejects it;
--      the fastest correct one is adopted when it beats the current solver by `margin`:
--      app.evolve:solvers (which the agents read before every task) now names it;
--   3. confirmation on fresh tasks against the solver it replaced, and again at the start of
--      every round (its code, or the machine, may have changed since): slower by more than
--      `tolerance` than what it replaced, or wrong, and it is rolled back;
--   4. it also tries to step outside its policy (its own policy, Python code, the workload's
--      settings) and reports each refusal;
--   5. a report goes to whoever asked (or, for the default workload, to the coordinator,
--      which prints it).

local registry = require("registry")
local funcs = require("funcs")
local time = require("time")
local logger = require("logger")

local SOLVERS = "app.evolve:solvers"
local SETTINGS = "app:evolve_settings"
local REFERENCE = "app.workers:solve"
local MAKE_TASKS = "app.workers:make_tasks"
local COORDINATOR = "app.supervisors:coordinator"

local DEFAULTS = {
  generator = "app.evolve:mutator", rounds = 2, per_round = 4,
  screen = {tasks = 3, difficulty = "easy", seed = 7},
  confirm = {tasks = 4, difficulty = "easy", seed = 11},
  margin = 0.05, tolerance = 0.10, limits = {max_cpu = "2s", max_memory = "64MB"},
  autorun = true,
}

local function settings()
  local e = registry.get(SETTINGS)
  local cfg = {}
  for k, v in pairs(DEFAULTS) do cfg[k] = v end
  if e then for k, v in pairs(e.data or {}) do cfg[k] = v end end
  return cfg
end

local function now_ms() return time.now():unix_nano() / 1e6 end

local function fmt_ms(ms) return string.format("%.1f ms", ms) end

-- an error object (or anything) as one line
local function why(err)
  local ok, kind = pcall(function() return err:kind() end)
  if ok and type(kind) == "string" and kind ~= "" then
    local message = err:message()
    -- a denial's message already names it ("PERMISSION_DENIED: actor ... may not ...")
    if message:sub(1, #kind + 1) == kind .. ":" or message:match("^[%u_]+: ") then
      return message
    end
    return kind .. ": " .. message
  end
  return tostring(err)
end

local function change(op, entry)
  local c = registry.snapshot():changes()
  if op == "create" then c:create(entry) else c:update(entry) end
  local v, err = c:apply()
  if err then return nil, err end
  return v:id()
end

local function sample(spec)
  local tasks, err = funcs.call(MAKE_TASKS, spec.tasks * 4, spec.difficulty, spec.seed)
  if err then error(err) end
  local out = {}
  for _, t in ipairs(tasks) do
    if t.kind == "puzzle" and #out < spec.tasks then out[#out + 1] = t end
  end
  return out
end

-- run function `fid` on every task: time in ms and the answers, or nil and the first error
local function run_on(fid, tasks)
  local answers = {}
  local t0 = now_ms()
  for i, task in ipairs(tasks) do
    local r, err = funcs.call(fid, task)
    if err then return nil, err end
    answers[i] = r.answer
  end
  return now_ms() - t0, answers
end

local function current_solver()
  local e = registry.get(SOLVERS)
  local data = e and e.data or {}
  return data.puzzle or REFERENCE, data
end

local function adopt(fid, previous, note)
  local _, data = current_solver()
  local new = {}
  for k, v in pairs(data) do new[k] = v end
  new.puzzle = fid
  new.previous = previous
  new.note = note
  return change("update", {id = SOLVERS, kind = "registry.entry", data = new,
                           meta = {comment = "which function solves each kind of task; the " ..
                                             "agents read it before every task"}})
end

-- What an agent confined to its namespace must not be able to do: each attempt is refused by
-- the node, and the refusal is part of the report.
local function step_outside()
  local out = {}
  local function try(what, entry, op)
    local _, err = change(op or "create", entry)
    out[#out + 1] = {what = what, refused = err and why(err) or "ACCEPTED (the policy is too wide)"}
  end
  try("widen its own policy", {id = "app.security:evolve", kind = "security.policy",
      data = {policy = {actions = "*", resources = "*", effect = "allow"}, groups = {"evolve"}}},
      "update")
  try("register Python code", {id = "app.evolve:shell", kind = "function.py",
      data = {source = "file://workers/problems.py", method = "solve"}})
  try("change the workload's settings", {id = "app:settings", kind = "registry.entry",
      data = {tasks = 1}}, "update")
  local _, err = registry.get("app:settings")
  out[#out + 1] = {what = "read the workload's settings",
                   refused = err and why(err) or "ACCEPTED (the policy is too wide)"}
  return out
end

-- CANCEL (the node stopping) ends a run between two measurements: a run takes seconds
local CANCELLED = {}
local function stop_if_cancelled()
  local r = channel.select{process.events():case_receive(), default = true}
  if not r.default and r.value and r.value.kind == process.event.CANCEL then error(CANCELLED) end
end

local function run(request, say)
  local cfg = settings()
  local rounds = request.rounds or cfg.rounds
  local screen = sample(cfg.screen)
  local ref_ms, expected = run_on(REFERENCE, screen)
  if not ref_ms then error(expected) end
  local history = {}
  local adoptions, rollbacks, rejected = {}, {}, 0
  local current = current_solver()
  say(string.format("[evolve] screen: %d puzzle tasks (%s); reference %s: %s",
                    #screen, cfg.screen.difficulty, REFERENCE, fmt_ms(ref_ms)))
  local tag = string.format("%x", time.now():unix_nano() // 1000000 % 0x100000)

  local function confirm(new, old, round)
    local tasks = sample({tasks = cfg.confirm.tasks, difficulty = cfg.confirm.difficulty,
                          seed = cfg.confirm.seed + round})
    local old_ms, old_answers = run_on(old, tasks)
    local new_ms, new_answers = run_on(new, tasks)
    if not new_ms then return false, "failed: " .. why(new_answers), old_ms, nil end
    if not old_ms then return true, "the previous solver fails now", nil, new_ms end
    for i = 1, #tasks do
      if new_answers[i] ~= old_answers[i] then
        return false, string.format("wrong answer on task #%d", tasks[i].id), old_ms, new_ms
      end
    end
    return new_ms <= old_ms * (1 + cfg.tolerance), nil, old_ms, new_ms
  end

  local function roll_back(round, from, to, reason)
    -- no `previous` after a rollback: the next check must not bring the bad one back
    local v, err = adopt(to, nil, "rolled back from " .. from .. " in round " .. round .. ": " ..
                         reason)
    if err then say("  roll back refused: " .. why(err)); return end
    rollbacks[#rollbacks + 1] = {round = round, from = from, to = to, version = v}
    for _, h in ipairs(history) do if h.id == from then h.status = "rolled_back" end end
    say(string.format("  rolled back %s -> %s (registry v%d): %s", from, to, v, reason))
    current = to
  end

  for round = 1, rounds do
    stop_if_cancelled()
    -- a later measurement of what runs now: still better than what it replaced?
    local prev = select(2, current_solver()).previous
    if prev and prev ~= current then
      local ok, reason, old_ms, new_ms = confirm(current, prev, round)
      if not ok then
        roll_back(round, current, prev, reason or string.format(
          "%s now takes %s against %s for %s", current, fmt_ms(new_ms), fmt_ms(old_ms), prev))
      end
    end
    local cands, err = funcs.call(cfg.generator, {target = "puzzle", round = round,
                                                  per_round = cfg.per_round, history = history})
    if err then error(err) end
    if #cands == 0 then say(string.format("[evolve] round %d: no new candidate", round)) break end
    say(string.format("[evolve] round %d: %d candidates from %s", round, #cands, cfg.generator))
    local cur_ms = run_on(current, screen)
    local best
    for i, c in ipairs(cands) do
      stop_if_cancelled()
      local id = string.format("app.evolve:puzzle_%s_r%d_c%d", tag, round, i)
      local h = {name = c.name, genome = c.genome, id = id, status = "ok", ms = 0}
      history[#history + 1] = h
      local _, aerr = change("create", {id = id, kind = "function.lua",
        meta = {genome = c.name, notes = c.notes, round = round},
        data = {source = c.source, method = "solve", limits = cfg.limits}})
      local line
      if aerr then
        h.status, line = "refused", "not registered: " .. why(aerr)
      else
        local ms, answers = run_on(id, screen)
        if not ms then
          h.status, line = "failed", why(answers)
        else
          h.ms = ms
          for k = 1, #screen do
            if answers[k] ~= expected[k] then
              h.status = "wrong"
              line = string.format("WRONG: task #%d: %s instead of %s", screen[k].id,
                                   tostring(answers[k]), tostring(expected[k]))
              break
            end
          end
          if h.status == "ok" then
            line = string.format("ok  %9s  %.1fx the reference", fmt_ms(ms), ref_ms / ms)
            if best == nil or ms < best.ms then best = h end
          end
        end
      end
      if h.status ~= "ok" then rejected = rejected + 1 end
      say(string.format("  %-30s %s", c.name, line))
    end
    if best and (cur_ms == nil or best.ms < cur_ms * (1 - cfg.margin)) then
      local before = current
      local v, aerr = adopt(best.id, before, string.format("round %d: %s, %.1fx the reference",
                                                           round, best.name, ref_ms / best.ms))
      if aerr then
        say("  adoption refused: " .. why(aerr))
      else
        current = best.id
        adoptions[#adoptions + 1] = {round = round, id = best.id, name = best.name,
                                     version = v, speedup = ref_ms / best.ms}
        say(string.format("  adopted %s (%s) in registry v%d: %s on the screen, against %s " ..
                          "for %s", best.id, best.name, v, fmt_ms(best.ms),
                          cur_ms and fmt_ms(cur_ms) or "a failure", before))
        local ok, reason, old_ms, new_ms = confirm(best.id, before, round)
        if ok then
          say(string.format("  confirmed on %d fresh tasks: %s against %s for %s",
                            cfg.confirm.tasks, fmt_ms(new_ms), fmt_ms(old_ms), before))
        else
          roll_back(round, best.id, before, reason or string.format(
            "%s on fresh tasks against %s for %s", fmt_ms(new_ms), fmt_ms(old_ms), before))
        end
      end
    elseif best then
      say(string.format("  kept %s: the best candidate (%s) is not %d%% faster",
                        current, fmt_ms(best.ms), math.floor(cfg.margin * 100)))
    end
  end

  local refusals = step_outside()
  say("[evolve] stepping outside its policy (each must be refused):")
  for _, r in ipairs(refusals) do say(string.format("  %-32s %s", r.what, r.refused)) end
  local final = current_solver()
  local final_ms = run_on(final, screen)
  say(string.format("[evolve] done: puzzle tasks are solved by %s: %s on the screen, %.1fx the " ..
                    "reference; %d candidates tried, %d rejected, %d adopted, %d rolled back",
                    final, fmt_ms(final_ms or 0), ref_ms / (final_ms or ref_ms), #history,
                    rejected, #adoptions, #rollbacks))
  return {solver = final, reference_ms = ref_ms, final_ms = final_ms, tried = #history,
          rejected = rejected, adoptions = adoptions, rollbacks = rollbacks,
          refusals = refusals, history = history}
end

local function main()
  local inbox = process.inbox()
  local events = process.events()
  while true do
    local r = channel.select{inbox:case_receive(), events:case_receive()}
    if r.channel == events then
      if r.value.kind == process.event.CANCEL then return "cancelled" end
    else
      local msg = r.value
      local request = msg:payload():data() or {}
      local reply_to = request.reply_to or msg:from()
      local cfg = settings()
      if msg:topic() == "run" or (msg:topic() == "workload" and cfg.autorun) then
        local function say(line)
          if msg:topic() == "run" then process.send(reply_to, "progress", line)
          else process.send(COORDINATOR, "note", line) end
        end
        local ok, result = pcall(run, request, say)
        if not ok and result == CANCELLED then return "cancelled" end
        if not ok then
          say("[evolve] failed: " .. why(result))
          result = {error = why(result)}
          logger:warn("evolve run failed", {error = result.error})
        end
        if msg:topic() == "run" then process.send(reply_to, "report", result) end
      end
    end
  end
end

return {main = main}
