-- expect: {"n": 42, "s": "hello", "greet": "Hello, Alice", "first": "a", "ok_value": 7, "ok_bad": "NumResult: field 'value': expected number, got string \"x\"", "err_ok": True}
-- Generic functions <T> and <T: Bound>, generic aliases, instantiation Result<T, E>.
local function identity<T>(x: T): T
    return x
end

type HasName = {name: string}

local function greet<T: HasName>(obj: T): string
    return "Hello, " .. obj.name
end

local function first<T, U>(items: {T}, _extra: U?): T?
    return items[1]
end

type Result<T, E> =
    {ok: true, value: T}
    | {ok: false, error: E}

type NumResult = Result<number, string>

local n: number = identity(42)
local s: string = identity("hello")
local _, err = NumResult:is({ok = true, value = "x"})
return {
    n = n,
    s = s,
    greet = greet({name = "Alice"}),
    first = first({"a", "b"}),
    ok_value = NumResult({ok = true, value = 7}).value,
    ok_bad = err:message(),
    err_ok = NumResult:is({ok = false, error = "e"}) ~= nil,
}
