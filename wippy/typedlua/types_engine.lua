
-- wippy typed Lua, engine: validation, reflection, comparison of type values.
-- Loaded by the core on first use, with an empty environment: everything it uses comes from
-- B, the base functions the installer captured before any sandboxing.
local T, Type, known, new, copy, B = ...
local type, next, ipairs, rawget, rawset, rawequal = B.type, B.next, B.ipairs, B.rawget, B.rawset, B.rawequal
local setmetatable, getmetatable, tostring, tonumber = B.setmetatable, B.getmetatable, B.tostring, B.tonumber
local error, pcall = B.error, B.pcall
local mtype, tointeger = B.mtype, B.tointeger
local sfind, sformat, ssub = B.sfind, B.sformat, B.ssub
local ulen = B.ulen
local concat, unpack = B.concat, B.unpack
local getinfo = B.getinfo
local M = {}
-- named references: resolved on first use, through the closure (lexical scope) and then the
-- chunk's registry of named types (forward and recursive references)
local function resolve(t)
  local n = 0
  while rawget(t, "__kind") == "ref" do
    local target = rawget(t, "__target")
    if target == nil then
      local get = rawget(t, "__get")
      local ok, v = pcall(get)
      if not (ok and known[v]) then
        local scope = rawget(t, "__scope")
        v = scope and scope[rawget(t, "__rname")]
      end
      if not known[v] or rawequal(v, t) then return T.Any end
      rawset(t, "__target", v)
      target = v
    end
    t = target
    n = n + 1
    if n > 100 then error("type alias cycle at " .. tostring(rawget(t, "__rname")), 0) end
  end
  return t
end

-- rendering ---------------------------------------------------------------------------------
local render
local function render_list(ts, sep)
  local out = {}
  for i = 1, #ts do out[i] = render(ts[i]) end
  return concat(out, sep)
end

render = function(t, top)
  local name = rawget(t, "__name")
  if name and not top then return name end
  local k = rawget(t, "__kind")
  local s
  if k == "ref" then
    local args = rawget(t, "__args")
    if args then s = render(rawget(t, "__base")) .. "<" .. render_list(args, ", ") .. ">"
    else s = rawget(t, "__rname") or "?" end
  elseif k == "literal" then
    local v = rawget(t, "__value")
    s = type(v) == "string" and sformat("%q", v) or tostring(v)
  elseif k == "optional" then
    local inner = rawget(t, "__inner")
    local ik = rawget(inner, "__kind")
    s = render(inner)
    if (ik == "union" or ik == "intersection") and not rawget(inner, "__name") then s = "(" .. s .. ")" end
    s = s .. "?"
  elseif k == "union" then s = render_list(rawget(t, "__types"), " | ")
  elseif k == "intersection" then s = render_list(rawget(t, "__types"), " & ")
  elseif k == "record" or k == "interface" then
    local out = {}
    for i, f in ipairs(rawget(t, "__fields")) do
      out[i] = f[1] .. (f[3] and "?: " or ": ") .. render(f[2])
    end
    s = (k == "interface" and "interface " or "") .. "{" .. concat(out, ", ") .. "}"
  elseif k == "array" then s = "{" .. render(rawget(t, "__elem")) .. "}"
  elseif k == "map" then s = "{[" .. render(rawget(t, "__key")) .. "]: " .. render(rawget(t, "__val")) .. "}"
  elseif k == "function" and rawget(t, "__params") then
    local rets = rawget(t, "__rets")
    local r = #rets == 1 and render(rets[1]) or "(" .. render_list(rets, ", ") .. ")"
    s = "(" .. render_list(rawget(t, "__params"), ", ") .. ") -> " .. r
  else s = rawget(t, "__name") or k end
  local vals = rawget(t, "__vals")
  if vals and not name then
    for i = 1, #vals do
      local v = vals[i]
      s = s .. " @" .. v[1] .. "(" .. (v[1] == "pattern" and sformat("%q", v[3]) or tostring(v[2])) .. ")"
    end
  end
  return s
end

local function describe(v)
  local tv = type(v)
  if tv == "string" then
    if #v > 24 then v = ssub(v, 1, 21) .. "..." end
    return 'string "' .. v .. '"'
  elseif tv == "number" then return (mtype(v) == "integer" and "integer " or "number ") .. tostring(v)
  elseif tv == "boolean" then return tostring(v)
  end
  return tv
end

local function at(p) return p == "" and "" or ("field '" .. p .. "': ") end
local function fail(p, t, v)
  local want = render(t, true)
  if rawget(t, "__params") and want:sub(1, 1) == "(" then want = "function " .. want end
  return false, at(p) .. "expected " .. want .. ", got " .. describe(v)
end

-- validation --------------------------------------------------------------------------------
local function vlen(v)
  if type(v) == "string" then return (ulen and ulen(v)) or #v end
  if type(v) == "table" then return #v end
end

local VALIDATORS = {
  min = function(v, n) if type(v) == "number" and v < n then return "must be >= " .. tostring(n) .. " (minimum)" end end,
  max = function(v, n) if type(v) == "number" and v > n then return "must be <= " .. tostring(n) .. " (maximum)" end end,
  min_len = function(v, n) local l = vlen(v) if l and l < n then return "length must be >= " .. tostring(n) end end,
  max_len = function(v, n) local l = vlen(v) if l and l > n then return "length must be <= " .. tostring(n) end end,
  pattern = function(v, pats, orig)
    if type(v) ~= "string" then return nil end
    for i = 1, #pats do if sfind(v, pats[i]) then return nil end end
    return "must match pattern " .. sformat("%q", orig)
  end,
}

local function run_validators(vals, v, p)
  for i = 1, #vals do
    local spec = vals[i]
    local f = VALIDATORS[spec[1]]
    if f then
      local msg = f(v, spec[2], spec[3])
      if msg then return false, at(p) .. msg .. ", got " .. describe(v) end
    end
  end
  return true
end

local function callable(v)
  if type(v) == "function" then return true end
  local mt = getmetatable(v)
  return type(mt) == "table" and rawget(mt, "__call") ~= nil
end

local check
local CHECK = {}
local function ok_if(cond, t, v, p) if cond then return true end return fail(p, t, v) end
CHECK["any"] = function() return true end
CHECK.unknown = CHECK.any
CHECK.never = function(t, v, p) return fail(p, t, v) end
CHECK["nil"] = function(t, v, p) return ok_if(v == nil, t, v, p) end
CHECK.boolean = function(t, v, p) return ok_if(type(v) == "boolean", t, v, p) end
CHECK.number = function(t, v, p) return ok_if(type(v) == "number", t, v, p) end
CHECK.integer = function(t, v, p)
  return ok_if(mtype(v) == "integer" or (mtype(v) == "float" and tointeger(v) ~= nil), t, v, p)
end
CHECK.string = function(t, v, p) return ok_if(type(v) == "string", t, v, p) end
CHECK.table = function(t, v, p) return ok_if(type(v) == "table", t, v, p) end
CHECK.thread = function(t, v, p) return ok_if(type(v) == "thread", t, v, p) end
CHECK.userdata = function(t, v, p) return ok_if(type(v) == "userdata", t, v, p) end
CHECK.error = function(t, v, p) return ok_if(v ~= nil, t, v, p) end
CHECK["function"] = function(t, v, p) return ok_if(callable(v), t, v, p) end
CHECK.literal = function(t, v, p) return ok_if(v == rawget(t, "__value"), t, v, p) end
CHECK.optional = function(t, v, p)
  if v == nil then return true end
  return check(rawget(t, "__inner"), v, p)
end
CHECK.intersection = function(t, v, p)
  local ts = rawget(t, "__types")
  for i = 1, #ts do
    local ok, msg = check(ts[i], v, p)
    if not ok then return false, msg end
  end
  return true
end

local function discriminated(r, v)   -- does table v carry every literal field of record r?
  local fs = rawget(r, "__fields")
  if not fs then return false end
  local any = false
  for i = 1, #fs do
    local ft = resolve(fs[i][2])
    if rawget(ft, "__kind") == "literal" then
      if v[fs[i][1]] ~= rawget(ft, "__value") then return false end
      any = true
    end
  end
  return any
end

CHECK.union = function(t, v, p)
  local ts = rawget(t, "__types")
  for i = 1, #ts do
    if check(ts[i], v, p) then return true end
  end
  if type(v) == "table" then   -- tagged union: explain with the variant the tags select
    for i = 1, #ts do
      local r = resolve(ts[i])
      if rawget(r, "__kind") == "record" and discriminated(r, v) then return check(ts[i], v, p) end
    end
  end
  return fail(p, t, v)
end

local function join(p, name) return p == "" and name or (p .. "." .. name) end

CHECK.record = function(t, v, p)
  if type(v) ~= "table" then return fail(p, t, v) end
  local fs = rawget(t, "__fields")
  for i = 1, #fs do
    local f = fs[i]
    local fv = v[f[1]]
    local fp = join(p, f[1])
    if fv ~= nil then
      local ok, msg = check(f[2], fv, fp)
      if not ok then return false, msg end
    elseif not f[3] and not check(f[2], nil, fp) then
      return false, "missing field '" .. fp .. "'"
    end
  end
  return true
end

local function iface_methods(t)
  local all = rawget(t, "__all")
  if all then return all end
  all = {}
  local bases = rawget(t, "__bases")
  for i = 1, #bases do
    local b = resolve(bases[i])
    local fs = rawget(b, "__fields")
    if fs then for j = 1, #fs do all[#all + 1] = fs[j] end end
  end
  local own = rawget(t, "__fields")
  for i = 1, #own do all[#all + 1] = own[i] end
  rawset(t, "__all", all)
  return all
end

CHECK.interface = function(t, v, p)
  local tv = type(v)
  if tv ~= "table" and tv ~= "userdata" then return fail(p, t, v) end
  local ms = iface_methods(t)
  for i = 1, #ms do
    local name = ms[i][1]
    local ok, f = pcall(function() return v[name] end)
    if not ok or not callable(f) then return false, "missing method '" .. join(p, name) .. "'" end
  end
  return true
end

CHECK.array = function(t, v, p)
  if type(v) ~= "table" then return fail(p, t, v) end
  local n = #v
  local et = rawget(t, "__elem")
  for i = 1, n do
    local ok, msg = check(et, v[i], p .. "[" .. i .. "]")
    if not ok then return false, msg end
  end
  for k in next, v do
    if mtype(k) ~= "integer" or k < 1 or k > n then
      return false, at(p) .. "expected " .. render(t, true) .. ", got a table with key " .. describe(k)
    end
  end
  return true
end

CHECK.map = function(t, v, p)
  if type(v) ~= "table" then return fail(p, t, v) end
  local kt, vt = rawget(t, "__key"), rawget(t, "__val")
  for k, x in next, v do
    local kp = p .. "[" .. (type(k) == "string" and sformat("%q", k) or tostring(k)) .. "]"
    local ok, msg = check(kt, k, kp)
    if not ok then return false, "key " .. msg end
    ok, msg = check(vt, x, kp)
    if not ok then return false, msg end
  end
  return true
end

check = function(t, v, p)
  local own = rawget(t, "__vals")
  local r = resolve(t)
  local ok, msg = CHECK[rawget(r, "__kind")](r, v, p)
  if not ok then return false, msg end
  if own then
    ok, msg = run_validators(own, v, p)
    if not ok then return false, msg end
  end
  local inner = rawget(r, "__vals")
  if inner and inner ~= own then return run_validators(inner, v, p) end
  return true
end

-- subtyping ---------------------------------------------------------------------------------
local STRUCTURAL = {record = true, interface = true, array = true, map = true, ["function"] = true}
local LIT_PRIM = {string = T.String, boolean = T.Boolean}
local sub

local function fields_sub(a, b, seen)
  local fa = {}
  for _, f in ipairs(rawget(a, "__kind") == "interface" and iface_methods(a) or rawget(a, "__fields")) do fa[f[1]] = f end
  for _, f in ipairs(rawget(b, "__kind") == "interface" and iface_methods(b) or rawget(b, "__fields")) do
    local g = fa[f[1]]
    if g == nil then
      if not f[3] then return false end
    else
      if g[3] and not f[3] then return false end
      if not sub(g[2], f[2], seen) then return false end
    end
  end
  return true
end

sub = function(a, b, seen)
  a, b = resolve(a), resolve(b)
  if rawequal(a, b) then return true end
  local ka, kb = rawget(a, "__kind"), rawget(b, "__kind")
  if kb == "any" or kb == "unknown" or ka == "never" then return true end
  if ka == "any" or ka == "unknown" or kb == "never" then return false end
  local sa = seen[a]
  if sa and sa[b] then return true end
  if not sa then sa = {} seen[a] = sa end
  sa[b] = true
  if ka == "union" then
    for _, x in ipairs(rawget(a, "__types")) do if not sub(x, b, seen) then return false end end
    return true
  end
  if ka == "optional" then return sub(T.Nil, b, seen) and sub(rawget(a, "__inner"), b, seen) end
  if kb == "union" then
    for _, x in ipairs(rawget(b, "__types")) do if sub(a, x, seen) then return true end end
    return false
  end
  if kb == "optional" then return ka == "nil" or sub(a, rawget(b, "__inner"), seen) end
  if kb == "intersection" then
    for _, x in ipairs(rawget(b, "__types")) do if not sub(a, x, seen) then return false end end
    return true
  end
  if ka == "intersection" then
    for _, x in ipairs(rawget(a, "__types")) do if sub(x, b, seen) then return true end end
    if kb == "record" then   -- every field of b found in some member
      for _, f in ipairs(rawget(b, "__fields")) do
        local found = f[3]
        for _, x in ipairs(rawget(a, "__types")) do
          local m = rawget(resolve(x), "__fmap")
          local g = m and m[f[1]]
          if g and not g[3] and sub(g[2], f[2], seen) then found = true break end
        end
        if not found then return false end
      end
      return true
    end
    return false
  end
  if ka == "literal" then
    local v = rawget(a, "__value")
    if kb == "literal" then return v == rawget(b, "__value") and mtype(v) == mtype(rawget(b, "__value")) end
    local pt = LIT_PRIM[type(v)] or (mtype(v) == "integer" and T.Integer) or (mtype(v) == "float" and T.Number)
    return pt ~= nil and sub(pt, b, seen)
  end
  if kb == "literal" then return false end
  if ka == "integer" and kb == "number" then return true end
  if kb == "table" then return STRUCTURAL[ka] == true and ka ~= "function" or ka == "table" end
  if (ka == "record" or ka == "interface") and (kb == "record" or kb == "interface") then return fields_sub(a, b, seen) end
  if ka == "array" and kb == "map" then
    return sub(T.Integer, rawget(b, "__key"), seen) and sub(rawget(a, "__elem"), rawget(b, "__val"), seen)
  end
  if ka ~= kb then return false end
  if ka == "array" then return sub(rawget(a, "__elem"), rawget(b, "__elem"), seen) end
  if ka == "map" then
    return sub(rawget(a, "__key"), rawget(b, "__key"), seen) and sub(rawget(a, "__val"), rawget(b, "__val"), seen)
  end
  if ka == "function" then
    local pb, pa = rawget(b, "__params"), rawget(a, "__params")
    if not pb then return true end
    if not pa then return false end
    for i = 1, #pb do if not sub(pb[i], pa[i] or T.Nil, seen) then return false end end
    local ra, rb = rawget(a, "__rets"), rawget(b, "__rets")
    for i = 1, #rb do if not sub(ra[i] or T.Nil, rb[i], seen) then return false end end
    return true
  end
  return true   -- the same primitive kind
end

-- calling a type: convert (primitives), validate, return or raise ------------------------------
local COERCE = {
  string = function(v) if type(v) == "number" then return tostring(v) end end,
  number = function(v) if type(v) == "string" then return tonumber(v) end end,
  integer = function(v)
    if type(v) == "string" then v = tonumber(v) end
    if type(v) == "number" then return tointeger(v) end
  end,
}

local function where()
  if not getinfo then return "" end
  for level = 3, 20 do
    local info = getinfo(level, "Sl")
    if not info then break end
    if info.what ~= "C" and not sfind(info.source, "^=%[wippy types") and (info.currentline or 0) > 0 then
      return info.short_src .. ":" .. info.currentline .. ": "
    end
  end
  return ""
end

local function label(t)
  local r = resolve(t)
  local name = rawget(t, "__name") or rawget(r, "__name")
  if name and not rawget(r, "__builtin") then return name .. ": " end
  return ""
end

local function cast(t, v)
  local conv = COERCE[rawget(resolve(t), "__kind")]
  if conv then
    local nv = conv(v)
    if nv ~= nil then v = nv end
  end
  local ok, msg = check(t, v, "")
  if ok then return v end
  error(T.make_error(where() .. label(t) .. msg), 0)
end

-- the metatable ----------------------------------------------------------------------------
local function field_proxy(owner, name, ft)
  local c = copy(ft)
  c.__owner, c.__method = owner, name
  return c
end

Type.__index = function(t, k)
  if type(k) == "string" and ssub(k, 1, 2) == "__" then return nil end
  local m = M[k]
  local r = resolve(t)
  local fmap = rawget(r, "__fmap")
  local f = fmap and fmap[k]
  if f then
    if m then return field_proxy(t, k, f[2]) end   -- User.name: a type that is also User:name()
    return f[2]
  end
  return m
end
Type.__call = function(t, v, ...)
  local owner = rawget(t, "__owner")
  if owner ~= nil and rawequal(v, owner) then return M[rawget(t, "__method")](owner, ...) end
  return cast(t, v)
end
Type.__tostring = function(t) return render(t, true) end
Type.__eq = function(a, b)
  if not (known[a] and known[b]) then return false end
  local ra, rb = resolve(a), resolve(b)
  if rawget(ra, "__kind") ~= rawget(rb, "__kind") then return false end
  return sub(a, b, {}) and sub(b, a, {})
end
Type.__le = function(a, b) return sub(a, b, {}) end
Type.__lt = function(a, b) return sub(a, b, {}) and not sub(b, a, {}) end

-- methods ----------------------------------------------------------------------------------
local function iter(list)
  local i = 0
  return function()
    i = i + 1
    return list and list[i]
  end
end

function M.kind(t) return rawget(resolve(t), "__kind") end
function M.name(t) return rawget(t, "__name") or rawget(resolve(t), "__name") end
function M.is(t, v)
  local ok, msg = check(t, v, "")
  if ok then return v, nil end
  return nil, T.make_error(label(t) .. msg)
end
function M.fields(t)
  local r = resolve(t)
  local fs = rawget(r, "__kind") == "interface" and iface_methods(r) or rawget(r, "__fields") or {}
  local i = 0
  return function()
    i = i + 1
    local f = fs[i]
    if f then return f[1], f[2], f[3] == true end
  end
end
function M.field(t, name)
  local m = rawget(resolve(t), "__fmap")
  local f = m and m[name]
  return f and f[2]
end
function M.elem(t) return rawget(resolve(t), "__elem") end
function M.key(t) return rawget(resolve(t), "__key") end
function M.val(t) return rawget(resolve(t), "__val") end
function M.inner(t) return rawget(resolve(t), "__inner") end
function M.value(t) return rawget(resolve(t), "__value") end
function M.variants(t)
  local r = resolve(t)
  return iter(rawget(r, "__kind") == "union" and rawget(r, "__types") or {r})
end
function M.types(t) return iter(rawget(resolve(t), "__types")) end
function M.params(t) return iter(rawget(resolve(t), "__params")) end
function M.rets(t) return iter(rawget(resolve(t), "__rets")) end
function M.ret(t)
  local rets = rawget(resolve(t), "__rets")
  return rets and rets[1]
end

function T.is_type(v) return known[v] == true end
function T.check(t, v) return check(t, v, "") end
T.cast, T.resolve, T.render, T.sub = cast, resolve, render, sub

local Err = {}
Err.__index = Err
Err.__tostring = function(e) return e._message end
function Err.message(e) return e._message end
function Err.kind() return "INVALID" end
function Err.retryable() return false end
if rawget(T, "make_error") == nil then
  function T.make_error(message) return setmetatable({_message = message}, Err) end
end
return T
