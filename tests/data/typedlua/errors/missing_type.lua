-- expect-syntax: 2:10: type expected near '='
local x: = 5
