-- expect: {"person": "Alice", "missing": "Person: missing field 'age'", "kind": "intersection"}
-- Intersection types.
type Named = {name: string}
type Aged = {age: number}
type Person = Named & Aged

local p: Person = {name = "Alice", age = 30}
local _, err = Person:is({name = "Bob"})
return {person = Person(p).name, missing = err:message(), kind = Person:kind()}
