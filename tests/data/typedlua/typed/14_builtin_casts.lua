-- expect: {"s": "42", "n": 1.5, "i": 7, "i2": 3, "b": True, "s_err": "14_builtin_casts.lua:4: expected string, got table", "i_err": "14_builtin_casts.lua:4: expected integer, got number 3.5", "b_err": "14_builtin_casts.lua:4: expected boolean, got string \"yes\"", "where": "14_builtin_casts.lua:12:"}
-- The builtin casts string(x), number(x), integer(x), boolean(x); call errors carry file:line.
local function err_of(f, v)
    local ok, e = pcall(f, v)
    assert(not ok)
    return e:message()
end

local s = string(42)
local n = number("1.5")
local ok, e = pcall(integer, "x")
local where = tostring(select(2, pcall(function() return integer("nope") end)))
assert(not ok and e:kind() == "INVALID" and e:retryable() == false)
return {
    s = s, n = n, i = integer("7"), i2 = integer(3.0), b = boolean(true),
    s_err = err_of(string, {}), i_err = err_of(integer, 3.5), b_err = err_of(boolean, "yes"),
    where = where:match("^[^ ]+"),
}
