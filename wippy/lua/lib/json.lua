-- require("json"): encode / decode (Python's json underneath).
local L = ...
local api = L.api
local function no_schema()
  return nil, L.mkerr("UNAVAILABLE", "json schema validation is not available in wippy")
end
return {
  encode = api(OP.json_encode),
  decode = api(OP.json_decode),
  validate = no_schema,
  validate_string = no_schema,
}
