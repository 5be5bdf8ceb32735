-- expect: {"a": "alice", "b": "alice", "c": 3, "t": "table", "sum": 5}
-- Unsafe casts `::` and `as` (no run-time check), inside expressions and tables.
type User = {name: string}

local data: any = {name = "alice"}
local user = data :: User
local user2 = data as User
local n = ("3" :: any) + 0
local t = {items = {} :: {[string]: string}, count = 1 as integer}
local sum = (2 :: number) + (3 as number)
return {a = user.name, b = user2.name, c = n, t = type(t.items), sum = sum}
