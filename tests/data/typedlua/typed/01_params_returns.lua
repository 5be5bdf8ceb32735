-- expect: {"add": 5, "divmod": [3, 1], "fetch_ok": ["data:x", "nil"], "fetch_err": ["nil", "empty url"], "len": 5}
-- Parameter and return annotations, tuple returns, optional returns.
local function add(a: number, b: number): number
    return a + b
end

local function div_mod(a: number, b: number): (number, number)
    return math.floor(a / b), a % b
end

local function fetch(url: string): (string?, string?)
    if url == "" then
        return nil, "empty url"
    end
    return "data:" .. url, nil
end

function process(input: string): number
    return #input
end

local q, r = div_mod(10, 3)
local d1, e1 = fetch("x")
local d2, e2 = fetch("")
return {add = add(2, 3), divmod = {q, r}, fetch_ok = {d1, tostring(e1)}, fetch_err = {tostring(d2), e2},
        len = process("hello")}
