-- `<` and `>` in expressions that could look like generic parameters.
local a, b, c, T = 1, 2, 3, 4
local r1 = a < b and c > a
local r2 = (a<b)
local function f(x) return x end
local r3 = f(a < b) ~= f(b > c)
local t = {x = a < b, y = b > c}
local r4 = T < 5 and T > 3
return tostring(r1) .. tostring(r2) .. tostring(r3) .. tostring(t.x) .. tostring(t.y)
    .. tostring(r4)
