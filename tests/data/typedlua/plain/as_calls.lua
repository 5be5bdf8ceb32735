-- A function named `as` called on the line after an expression: a call, never a cast.
local calls = {}
local as = function(x) calls[#calls + 1] = type(x) return x end
local v = 1
as(v)
local w = v
as "s"
local u = w
as {1}
local z = u
as[[long]]
local q = as(2) + as(3)
return table.concat(calls, ",") .. "|" .. q .. "|" .. z
