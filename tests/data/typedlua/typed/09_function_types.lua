-- expect: {"double": 8, "params": ["number", "string"], "ret": "boolean", "kind": "function", "handler_ok": True, "handler_bad": True}
-- Function types `(A, B) -> R`, named parameters, first-class function values.
local double: (number) -> number = function(x: number): number
    return x * 2
end

local fn: (number, string) -> boolean
local fnType = typeof(fn)
local params = {}
for param in fnType:params() do
    params[#params + 1] = param:kind()
end

type Handler = (msg: {[string]: any}) -> (boolean, string?)
type Thunk = () -> ()

return {
    double = double(4),
    params = params,
    ret = fnType:ret():kind(),
    kind = fnType:kind(),
    handler_ok = Handler:is(function() end) ~= nil,
    handler_bad = Handler:is(42) == nil,
}
