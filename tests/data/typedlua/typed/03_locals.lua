-- expect: {"n": 3.14, "i": 42, "s": "hello", "b": True, "y": "nil", "z": 42, "count": 0, "c": 10}
-- Local annotations, several names, optional types, attributes with types.
local n: number = 3.14
local i: integer = 42
local s: string = "hello"
local b: boolean = true
local a: any = "anything"
local u: unknown = a
local y: number? = nil
local z: number? = 42
local count: number
count = 0
local c <const>: integer = 10
local p: integer, q: string = 1, "q"
local val: number | string = "v"
return {n = n, i = i, s = s, b = b, y = tostring(y), z = z, count = count, c = c}
