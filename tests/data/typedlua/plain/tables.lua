-- Table constructors: every field form, separators, nesting, keys that are keywords-ish.
local t = {
    1, 2; 3,
    x = 1, ["y"] = 2, [3 + 1] = 4,
    type = "t", as = "a", interface = "i",
    nested = {a = {b = {c = {}}}},
    fn = function(self) return self.x end,
    [ [[long key]] ] = true,
}
local n = 0
for _ in pairs(t) do n = n + 1 end
return n .. "|" .. t:fn() .. "|" .. t.type .. t.as .. t.interface .. "|" .. tostring(t["long key"])
