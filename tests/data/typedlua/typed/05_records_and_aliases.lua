-- expect: {"name": "alice", "kind": "record", "tname": "User", "fields": ["name:string", "age:number"], "cfg_ok": True, "cfg_err": "Config: missing field 'port'"}
-- Record types, optional fields, `type` aliases, :fields(), :kind(), :name().
type User = {name: string, age: number}

type Config = {
    host: string,
    port: number,
    timeout?: number,
    debug?: boolean
}

local u: User = {name = "alice", age = 25}
local fields = {}
for name, typ in User:fields() do
    fields[#fields + 1] = name .. ":" .. typ:kind()
end
local cfg, err1 = Config:is({host = "localhost", port = 8080})
local _, err2 = Config:is({host = "localhost"})
return {name = u.name, kind = User:kind(), tname = User:name(), fields = fields,
        cfg_ok = cfg ~= nil and err1 == nil, cfg_err = err2:message()}
