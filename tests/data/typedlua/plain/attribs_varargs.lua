-- Lua 5.4 attributes, varargs, multiple assignment, semicolons.
local limit <const> = 10;;
local closed = false
do
    local h <close> = setmetatable({}, {__close = function() closed = true end})
end
local function count(...)
    local n = select("#", ...)
    local first, second = ...
    return n, first, second
end
local a, b, c = count(1, nil, 3)
local x, y = 1, 2
x, y = y, x
return table.concat({limit, tostring(closed), a, b, tostring(c), x, y}, ",")
