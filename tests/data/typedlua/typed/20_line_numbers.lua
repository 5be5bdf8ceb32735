-- expect-error: 20_line_numbers.lua:16: boom at line 16
-- Errors after multi-line type declarations still name the source line.
type Config = {
    host: string,
    port: number,
    nested: {
        a: string,
        b: {number},
    },
}
local function f(
    a: number,
    b: string
): (number, string)
    local x: {[string]: number} = {}
    error("boom at line 16")
end
f(1, "x")
