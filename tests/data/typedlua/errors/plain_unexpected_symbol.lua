-- expect-syntax: 3:5: unexpected symbol near '='
local a = 1
x = = 1
