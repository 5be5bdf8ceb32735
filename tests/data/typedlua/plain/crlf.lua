-- CRLF line endings and a trailing comment without newline
local x = 1
local s = "a\
b"
return x .. #s -- done