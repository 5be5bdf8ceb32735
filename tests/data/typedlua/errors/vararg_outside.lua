-- expect-syntax: 3:12: cannot use '...' outside a vararg function near '...'
local function f(a: number)
    return ...
end
