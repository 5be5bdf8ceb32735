-- expect: {"age_ok": 30, "age_low": "User: field 'age': must be >= 0 (minimum), got integer -1", "age_high": "User: field 'age': must be <= 150 (maximum), got integer 200", "name_long": "User: field 'name': length must be <= 10, got string \"abcdefghijk\"", "email_bad": "Email: must match pattern \"^.+@.+$\", got string \"nope\"", "email_ok": "a@b.c", "scores_bad": True, "id": [True, True, False, False], "zip": [True, False]}
-- Validators @min @max @min_len @max_len @pattern, on fields, arrays and union members.
type User = {
    age: number @min(0) @max(150),
    name: string @min_len(1) @max_len(10)
}
type Email = string @pattern("^.+@.+$")
type Scores = {number @min(0) @max(100)}
type Id = number @min(1) | string @min_len(1)
type Zip = string @pattern("^\\d{5}(-\\d{4})?$")

local x: number @min(0) = 1
local y: number @min(0) @max(100) = 50
local email: string @pattern("^.+@.+$") = "test@example.com"

local _, e1 = User:is({age = -1, name = "a"})
local _, e2 = User:is({age = 200, name = "a"})
local _, e3 = User:is({age = 1, name = "abcdefghijk"})
local _, e4 = Email:is("nope")
return {
    age_ok = User({age = 30, name = "ann"}).age,
    age_low = e1:message(),
    age_high = e2:message(),
    name_long = e3:message(),
    email_bad = e4:message(),
    email_ok = Email("a@b.c"),
    scores_bad = Scores:is({85, 101}) == nil,
    id = {Id:is(1) ~= nil, Id:is("x") ~= nil, Id:is(0) ~= nil, Id:is("") ~= nil},
    zip = {Zip:is("12345-6789") ~= nil, Zip:is("1234") ~= nil},
}
