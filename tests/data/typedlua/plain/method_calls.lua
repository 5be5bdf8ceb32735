-- Method calls a:b(), including methods named like typed keywords.
local obj = {}
function obj:type() return "t" end
function obj:as(x) return "as" .. x end
function obj:is(x) return x == 1 end
function obj:interface() return "i" end
function obj.new(v) return setmetatable({v = v}, {__index = obj}) end
function obj:get() return self.v end
local o = obj.new(5)
local s = ("abc"):upper():lower():rep(2)
local parts = {o:type(), o:as("!"), tostring(o:is(1)), o:interface(), o:get(), s, ("x"):len()}
local str = "a,b"
for piece in str:gmatch("[^,]+") do parts[#parts + 1] = piece end
return table.concat(parts, " ")
