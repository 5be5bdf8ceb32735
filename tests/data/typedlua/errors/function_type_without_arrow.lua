-- expect-syntax: 2:27: '->' expected near '='
local f: (number, string) = nil
