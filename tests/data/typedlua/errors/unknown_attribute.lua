-- expect-syntax: 2:10: unknown attribute 'foo'
local x <foo> = 1
