-- Numerals of every form and the 5.3/5.4 operators.
local t = {
    0x10, 0xff, 0XA, 0x1p4, 0xA.8p-1, 0x.1p4, 1e3, 1E-2, 2.5e+1, .5, 3., 3.0, 7 // 2, 7.5 // 2,
    5 & 3, 5 | 3, 5 ~ 3, ~5, 1 << 4, 256 >> 4, 2 ^ 10, 7 % 3, -7 % 3, #"abc",
}
local cmp = (1 < 2) and (2 > 1) and (1 <= 1) and (1 >= 1) and (1 ~= 2) and (1 == 1)
local out = {}
for i, v in ipairs(t) do out[i] = tostring(v) end
return table.concat(out, " ") .. " " .. tostring(cmp) .. " " .. math.type(1) .. math.type(1.0)
