-- expect-syntax: 2:11: malformed number near '3..4'
local n = 3..4
