-- expect: {"ok": "done", "bad": "Status: expected \"pending\" | \"active\" | \"done\", got string \"invalid\"", "variants": ["\"pending\"", "\"active\"", "\"done\""], "num_or_str": [True, True, False]}
-- Literal types and unions; :variants().
type Status = "pending" | "active" | "done"
type NumOrStr = number | string

local s: Status = "pending"
local variants = {}
for v in Status:variants() do
    variants[#variants + 1] = tostring(v)
end
local _, err = Status:is("invalid")
return {
    ok = Status("done"),
    bad = err:message(),
    variants = variants,
    num_or_str = {NumOrStr:is(1) ~= nil, NumOrStr:is("x") ~= nil, NumOrStr:is(true) ~= nil},
}
