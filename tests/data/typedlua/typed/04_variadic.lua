-- expect: {"sum": 10, "count": 3, "first": "a"}
-- Variadic annotations.
local function sum(...: number): number
    local total: number = 0
    for _, v in ipairs({...}) do
        total = total + v
    end
    return total
end

local function count(first: string, ...: any): (integer, string)
    return select("#", ...), first
end

local n, f = count("a", 1, 2, 3)
return {sum = sum(1, 2, 3, 4), count = n, first = f}
