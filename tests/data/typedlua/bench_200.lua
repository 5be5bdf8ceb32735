-- A ~200-line typed module in the style of a Wippy process: types, validators, generics,
-- casts, records of functions. Used to measure translation cost (see docs/typed-lua.md).
local unpack = table.unpack


type Id = string @min_len(1) @max_len(64)
type Email = string @pattern("^[^@]+@[^@]+$")
type Role = "admin" | "editor" | "viewer"

type Address = {
    street: string,
    city: string @min_len(1),
    zip?: string @pattern("^\\d{5}$"),
}

type User = {
    id: Id,
    name: string @min_len(1) @max_len(100),
    email: Email,
    age?: integer @min(0) @max(150),
    roles: {Role},
    address?: Address,
    meta: {[string]: any},
}

type Page<T> = {items: {T}, total: integer @min(0), next?: string}
type Result<T, E> =
    {ok: true, value: T}
    | {ok: false, error: E}

type Handler = (msg: {[string]: any}) -> (boolean, string?)

type Store = {
    users: {[string]: User},
    put: (self: Store, user: User) -> (),
    get: (self: Store, id: Id) -> User?,
}

local MAX_PAGE: integer = 50

local function ok<T>(value: T): Result<T, string>
    return {ok = true, value = value}
end

local function err<T>(message: string): Result<T, string>
    return {ok = false, error = message}
end

local function new_store(): Store
    local store: Store = {
        users = {} :: {[string]: User},
        put = function(self: Store, user: User)
            self.users[user.id] = user
        end,
        get = function(self: Store, id: Id): User?
            return self.users[id]
        end,
    }
    return store
end

local function parse_user(data: any): Result<User, string>
    local user, verr = User:is(data)
    if not user then
        return err(tostring(verr))
    end
    return ok(user :: User)
end

local function page_of<T>(items: {T}, offset: integer, limit: integer): Page<T>
    local out: {T} = {}
    local last = math.min(#items, offset + limit)
    for i = offset + 1, last do
        out[#out + 1] = items[i]
    end
    local next_cursor: string? = nil
    if last < #items then
        next_cursor = tostring(last)
    end
    return {items = out, total = #items, next = next_cursor}
end

local function has_role(user: User, role: Role): boolean
    for _, r in ipairs(user.roles) do
        if r == role then
            return true
        end
    end
    return false
end

local function describe(user: User): string
    local parts: {string} = {user.name, "<" .. user.email .. ">"}
    if user.age then
        parts[#parts + 1] = string.format("(%d)", user.age!)
    end
    local addr = user.address
    if addr then
        parts[#parts + 1] = addr.city
    end
    return table.concat(parts, " ")
end

local function sum(...: number): number
    local total: number = 0
    for _, v in ipairs({...}) do
        total = total + v
    end
    return total
end

local function average_age(users: {User}): number?
    local ages: {number} = {}
    for _, u in ipairs(users) do
        if u.age ~= nil then
            ages[#ages + 1] = u.age as number
        end
    end
    if #ages == 0 then
        return nil
    end
    return sum(table.unpack(ages)) / #ages
end

local handlers: {[string]: Handler} = {}

handlers["user.create"] = function(msg: {[string]: any}): (boolean, string?)
    local result = parse_user(msg.user)
    if not result.ok then
        return false, result.error
    end
    return true, nil
end

handlers["user.describe"] = function(msg: {[string]: any}): (boolean, string?)
    local user = User(msg.user)
    return true, describe(user)
end

local function dispatch(topic: string, msg: {[string]: any}): (boolean, string?)
    local h: Handler? = handlers[topic]
    if h == nil then
        return false, "no handler for " .. topic
    end
    return h(msg)
end

local function retry<T>(attempts: integer @min(1), fn: () -> T?): T?
    for attempt = 1, attempts do
        local value = fn()
        if value ~= nil then
            return value
        end
        -- back off a little between attempts
        local _delay: number = attempt * 0.01
    end
    return nil
end

local function clamp(x: number, lo: number, hi: number): number
    if x < lo then return lo end
    if x > hi then return hi end
    return x
end

local function main(): integer
    local store = new_store()
    local raw: any = {
        id = "u1", name = "Ada", email = "ada@example.com", age = 36,
        roles = {"admin"}, meta = {},
    }
    local result = parse_user(raw)
    if not result.ok then
        return 1
    end
    store:put(result.value)
    local u = store:get("u1")!
    local ok_, text = dispatch("user.describe", {user = u})
    assert(ok_ and text == "Ada <ada@example.com> (36)")
    local page = page_of({1, 2, 3, 4, 5}, 0, 2)
    assert(#page.items == 2 and page.next == "2")
    assert(has_role(u, "admin"))
    assert(average_age({u}) == 36)
    assert(clamp(15, 0, 10) == 10)
    assert(retry(3, function(): string? return "x" end) == "x")
    local n: integer = MAX_PAGE // 2
    return n
end

return {main = main, User = User, Store = Store, Page = Page}
