-- expect-syntax: 2:26: '@pattern': repetition of a group is not supported (at offset 4 of '(ab)+'); run-time validation uses Lua patterns
type A = string @pattern("(ab)+")
