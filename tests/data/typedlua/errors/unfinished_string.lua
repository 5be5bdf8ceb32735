-- expect-syntax: 2:11: unfinished string
local s = "abc
print(s)
