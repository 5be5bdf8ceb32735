

-- wippy typed Lua, core: builtin type values, the constructors translated code calls and
-- typeof. Validation, reflection and comparison live in the engine, loaded the first time a
-- type value is used (called, compared, printed, asked a method).
local engine_chunk, B, make_error = ...
local type, next, rawget, rawset, setmetatable, getmetatable = B.type, B.next, B.rawget, B.rawset, B.setmetatable, B.getmetatable
local load, mtype, unpack, error, tostring = B.load, B.mtype, B.unpack, B.error, B.tostring

local T = {}                                   -- __wippy_types
local Type = {__metatable = "type"}            -- metatable of every type value
local known = setmetatable({}, {__mode = "k"}) -- the set of type values

local function new(kind)
  local t = {__kind = kind}
  known[t] = true
  return setmetatable(t, Type)
end

local function copy(t)
  local c = {}
  for k, v in next, t do c[k] = v end
  c.__builtin, c.__owner, c.__method = nil, nil, nil
  known[c] = true
  return setmetatable(c, Type)
end

local function prim(kind)
  local t = new(kind)
  t.__name, t.__builtin = kind, true
  return t
end

T.Nil, T.Boolean, T.Number, T.Integer = prim("nil"), prim("boolean"), prim("number"), prim("integer")
T.String, T.Table, T.Function, T.Thread = prim("string"), prim("table"), prim("function"), prim("thread")
T.Userdata, T.Any, T.Unknown, T.Never = prim("userdata"), prim("any"), prim("unknown"), prim("never")
T.Error = prim("error")
local BY_LUA_TYPE = {["nil"] = T.Nil, boolean = T.Boolean, string = T.String, table = T.Table,
                     ["function"] = T.Function, thread = T.Thread, userdata = T.Userdata}

local loaded = false
local function engine()
  if loaded then return end
  loaded = true
  local chunk, fn, err = engine_chunk, nil, nil
  if type(chunk) == "function" then fn = chunk
  else fn, err = load(chunk, "=[wippy types engine]", chunk:byte(1) == 27 and "b" or "t", {}) end
  if not fn then error("wippy types engine: " .. tostring(err), 0) end
  fn(T, Type, known, new, copy, B)
end
T.load_engine = engine
setmetatable(T, {__index = function(_, k) engine() return rawget(T, k) end})
-- stubs: the engine replaces every one of them when it loads
Type.__index = function(t, k) engine() return Type.__index(t, k) end
Type.__call = function(...) engine() return Type.__call(...) end
Type.__tostring = function(t) engine() return Type.__tostring(t) end
Type.__eq = function(a, b) engine() return Type.__eq(a, b) end
Type.__le = function(a, b) engine() return Type.__le(a, b) end
Type.__lt = function(a, b) engine() return Type.__lt(a, b) end

function T.lit(v) local t = new("literal") t.__value = v return t end
function T.opt(inner) local t = new("optional") t.__inner = inner return t end
function T.union(ts) local t = new("union") t.__types = ts return t end
function T.inter(ts) local t = new("intersection") t.__types = ts return t end
function T.array(e) local t = new("array") t.__elem = e return t end
function T.map(k, v) local t = new("map") t.__key, t.__val = k, v return t end
function T.record(fields)
  local t, fmap = new("record"), {}
  for i = 1, #fields do fmap[fields[i][1]] = fields[i] end
  t.__fields, t.__fmap = fields, fmap
  return t
end
function T.iface(bases, methods)
  local t = T.record(methods)
  t.__kind, t.__bases = "interface", bases
  return t
end
function T.func(params, rets, names, vararg)
  local t = new("function")
  t.__params, t.__rets, t.__pnames, t.__vararg = params, rets, names, vararg
  return t
end
function T.ref(scope, name, get)
  local t = new("ref")
  t.__scope, t.__rname, t.__get = scope, name, get
  return t
end
function T.v(t, vals)
  local c = copy(t)
  if rawget(t, "__builtin") then c.__name = nil end   -- "integer @min(0)" is not "integer"
  local old = rawget(t, "__vals")
  if old then
    local all = {}
    for i = 1, #old do all[i] = old[i] end
    for i = 1, #vals do all[#all + 1] = vals[i] end
    vals = all
  end
  c.__vals = vals
  return c
end
function T.def(scope, name, t)
  local c = copy(t)
  c.__name = name
  if scope then scope[name] = c end
  return c
end
function T.gdef(scope, name, n, fn)
  local anys = {}
  for i = 1, n do anys[i] = T.Any end
  local c = T.def(scope, name, fn(unpack(anys, 1, n)))
  c.__gen, c.__nparams = fn, n
  return c
end
function T.inst(base, args)      -- Result<User, string>: instantiated when first resolved
  local t = new("ref")
  t.__base, t.__args = base, args
  t.__get = function()
    local r = T.resolve(base)
    if rawget(base, "__kind") == "ref" and rawget(base, "__target") == nil then return nil end
    local gen = rawget(r, "__gen")
    if not gen then return r end
    local n = rawget(r, "__nparams")
    local a = {}
    for i = 1, n do a[i] = args[i] or T.Any end
    local inst = copy(gen(unpack(a, 1, n)))
    inst.__name = T.render(t, true)
    return inst
  end
  return t
end
function T.scope() return {} end
T.make_error = make_error

local function typeof(v, declared)
  if declared ~= nil and known[declared] then return declared end
  if mtype(v) then return mtype(v) == "integer" and T.Integer or T.Number end
  return BY_LUA_TYPE[type(v)]
end
T.typeof = typeof

T.globals = {
  __wippy_types = T, typeof = typeof,
  Number = T.Number, Integer = T.Integer, String = T.String, Boolean = T.Boolean,
  Nil = T.Nil, Any = T.Any, Unknown = T.Unknown, Never = T.Never,
  number = T.Number, integer = T.Integer, boolean = T.Boolean,
}
return T
