-- Identifiers named type, as, interface, typeof, fun, is, extends, readonly, keyof, asserts.
local type_of = type
local type = function(x) return "T:" .. type_of(x) end
local as = 1
as = as + 1
local interface = {}
interface.x = 3
local fun = function(a) return a end
local is, extends, readonly, keyof, asserts = 1, 2, 3, 4, 5
local typeof = function(v) return "typeof:" .. tostring(v) end
local r = {}
r[#r + 1] = type(1)
r[#r + 1] = tostring(as)
r[#r + 1] = tostring(interface.x)
r[#r + 1] = fun("f")
r[#r + 1] = tostring(is + extends + readonly + keyof + asserts)
r[#r + 1] = typeof(as)
local y = as
as = 10
r[#r + 1] = tostring(y + as)
local z = as
as = as * 2
r[#r + 1] = tostring(z)
return table.concat(r, ",")
