-- expect-syntax: 2:22: '>' expected near '('
local function f<T, U(x: T): U
end
