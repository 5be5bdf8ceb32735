-- expect-syntax: 2:11: unfinished long string
local s = [==[ abc ]=]
