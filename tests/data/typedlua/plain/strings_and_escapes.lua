-- Strings that look like typed code, every escape form, and line continuations.
local a = "local x: number = 1 -- not a comment"
local b = 'x :: T, y as U, z!, type T = {a: string}, function f<T>(x: T): T end'
local c = "quote \" and \\ and \' and \x41\65\u{48}\z
           continued"
local d = 'tab\tnew\nline\r\a\b\f\v'
local e = "line one\
line two"
local f = "--[[ not a comment ]]"
local g = '[[ not a long string ]]'
local h = "::label:: goto label"
local i = "héllo wörld ✓"
return table.concat({a, b, c, d, e, f, g, h, i}, "|")
