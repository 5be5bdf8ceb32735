-- expect-syntax: 5:1: 'end' expected (to close 'function' at line 2) near <eof>
local function f(x: number): number
    local y: number = x
    return y
