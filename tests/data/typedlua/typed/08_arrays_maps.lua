-- expect: {"elem": "number", "key": "string", "val": "number", "arr_ok": True, "arr_bad": "StringArray: field '[2]': expected string, got integer 2", "not_array": True, "map_bad": "StringMap: field '[\"b\"]': expected number, got string \"x\""}
-- Arrays {T} and maps {[K]: V}; typeof of annotated locals; :elem(), :key(), :val().
type StringArray = {string}
type StringMap = {[string]: number}

local arr: {number} = {1, 2, 3}
local map: {[string]: number} = {}
local _, e1 = StringArray:is({"a", 2})
local _, e2 = StringArray:is({a = "x"})
local _, e3 = StringMap:is({a = 1, b = "x"})
return {
    elem = typeof(arr):elem():kind(),
    key = typeof(map):key():kind(),
    val = typeof(map):val():kind(),
    arr_ok = StringArray:is({"a", "b"}) ~= nil,
    arr_bad = e1:message(),
    not_array = e2 ~= nil,
    map_bad = e3:message(),
}
