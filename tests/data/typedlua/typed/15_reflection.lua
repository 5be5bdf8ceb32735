-- expect: {"number": "number", "point": "record", "pname": "Point", "opt": "optional", "inner": "number", "eq": True, "le": True, "lt": True, "not_lt": False, "field_kind": "string", "handler": "number handler", "int": "integer", "str": "string"}
-- Type reflection: kind/name, optional inner, comparison, types as table keys, field types.
type Point = {x: number, y: number}
type User = {name: string, age: number}

local opt: number? = nil
local optType = typeof(opt)
local handlers = {}
handlers[Number] = function() return "number handler" end
handlers[String] = function() return "string handler" end
local value = 1.5
local h = handlers[typeof(value)]
return {
    number = Number:kind(),
    point = Point:kind(),
    pname = Point:name(),
    opt = optType:kind(),
    inner = optType:inner():kind(),
    eq = Number == Number,
    le = Integer <= Number,
    lt = Integer < Number,
    not_lt = Number < Integer,
    field_kind = User.name:kind(),
    handler = h and h(),
    int = typeof(3):kind(),
    str = typeof("x"):kind(),
}
