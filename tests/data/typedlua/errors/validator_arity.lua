-- expect-syntax: 2:18: '@min' takes one argument
type N = number @min(1, 2)
