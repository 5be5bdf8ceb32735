--[[ a long comment
local x: number = 1
type T = {a: string}
]]
--[==[ level 2 comment with ]] and ]=] inside
]==]
---[[ this is a line comment, so the next line runs
local ran = true
--]]
--[ not a long comment: [[
local s1 = [[
first newline is skipped
type User = {name: string}]]
local s2 = [==[with ]] and ]=] inside]==]
local s3 = [=[
]=]
local t = {[ [[key]] ] = 1}
return s1 .. "|" .. s2 .. "|" .. #s3 .. "|" .. tostring(ran) .. "|" .. t.key
