-- expect-syntax: 2:14: invalid escape sequence '\q'
local s = "ab\q"
