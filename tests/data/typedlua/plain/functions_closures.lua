-- Nested functions, closures, recursion, repeat-until scoping, calls across lines.
local M = {a = {b = {}}}
function M.a.b.f(x) return x + 1 end
function M.a.b:g(x) return self == M.a.b and x end
local function fact(n) if n <= 1 then return 1 end return n * fact(n - 1) end
local counter = (function()
    local n = 0
    return function() n = n + 1 return n end
end)()
counter()
local i = 0
repeat
    local done = i >= 3
    i = i + 1
until done
local v = M.a.b.f(
    1
)
local w = M.a.b:g(
    2)
local s = string.format
("%d-%d", fact(5), counter())
return s .. "|" .. i .. "|" .. v .. "|" .. tostring(w)
