-- expect: {"iface_ok": True, "iface_bad": "Shape: missing method 'area'", "fun": True, "keyword_fields": True}
-- `interface` declarations, `fun(...)` function types, contextual keywords as field names.
interface Shape
    function area(self): number
    function name(self): string
end

type Callback = fun(x: number): string
type Tagged = {type: string, as: number, is: boolean}

local square = {side = 2}
function square:area(): number return self.side * self.side end
function square:name(): string return "square" end

local _, err = Shape:is({name = function() return "x" end})
return {
    iface_ok = Shape:is(square) ~= nil,
    iface_bad = err:message(),
    fun = Callback:is(tostring) ~= nil,
    keyword_fields = Tagged:is({type = "t", as = 1, is = true}) ~= nil,
}
