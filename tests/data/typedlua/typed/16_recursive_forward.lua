-- expect: {"ok": 3, "bad": "Tree: field 'children[1].children[1].value': expected number, got string \"x\"", "fwd": True}
-- Recursive and forward type references resolve at run time.
type Tree = {value: number, children: {Tree}}
type Wrapper = {inner: Later}
type Later = {n: integer}

local t = Tree({value = 1, children = {{value = 2, children = {{value = 3, children = {}}}}}})
local _, err = Tree:is({value = 1, children = {{value = 2, children = {{value = "x", children = {}}}}}})
return {ok = t.children[1].children[1].value, bad = err:message(),
        fwd = Wrapper:is({inner = {n = 1}}) ~= nil and Wrapper:is({inner = {n = "x"}}) == nil}
