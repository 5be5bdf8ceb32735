-- goto/labels, including labels right after an expression statement.
local out = {}
for i = 1, 5 do
    if i % 2 == 0 then goto continue end
    out[#out + 1] = i
    ::continue::
end
local n = 0
::top:: n = n + 1
if n < 3 then goto top end
local x = n
:: spaced ::
do
    goto done
end
::done::
return table.concat(out, ",") .. "|" .. x
