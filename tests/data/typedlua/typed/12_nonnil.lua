-- expect: {"name": "bob", "upper": "BOB", "len": 3, "failed": True}
-- The non-nil assertion `!` (no run-time check: indexing nil still fails as usual).
type User = {name: string}

local function get_user(ok: boolean): User?
    if ok then return {name = "bob"} end
    return nil
end

local user: User? = get_user(true)
local name = (user!).name
local upper = user!.name:upper()
local missing: User? = get_user(false)
local failed = not pcall(function() return (missing!).name end)
return {name = name, upper = upper, len = #(user!.name), failed = failed}
