-- expect: {"caught": True, "message": "boom", "nothing": 0}
-- `never` return type, empty tuple return `()`, return type lists without parentheses.
local function fail(msg: string): never
    error(msg, 0)
end

local function nothing(): ()
    return
end

local function pair(): number, string
    return 1, "a"
end

local ok, err = pcall(fail, "boom")
local n, s = pair()
assert(n == 1 and s == "a")
return {caught = not ok, message = err, nothing = select("#", nothing())}
