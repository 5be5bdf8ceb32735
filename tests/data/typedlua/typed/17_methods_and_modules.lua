-- expect: {"built": "POST /x", "valid": True, "exported": "record"}
-- Method definitions with annotations, records of function types, a type and a value with
-- the same name (types and values live apart in Wippy), types exported from a module table.
type Request = {method: string, path: string}

type Builder = {
    method: string,
    with_method: (self: Builder, method: string) -> Builder,
    build: (self: Builder) -> Request,
}

local Builder = {}
Builder.__index = Builder

function Builder:with_method(method: string): Builder
    self.method = method
    return self
end

function Builder:build(): Request
    return {method = self.method, path = "/x"}
end

local M = {}
M.Request = Request

function M.new(): Builder
    local b: Builder = setmetatable({method = "GET"}, Builder)
    return b
end

local req = M.new():with_method("POST"):build()
return {built = req.method .. " " .. req.path, valid = M.Request:is(req) ~= nil,
        exported = M.Request:kind()}
