local function call_python(x)
  local funcs = require("funcs")
  local a, err = funcs.call("lua:py_double", x)
  if err then return nil, err end
  local b, err2 = funcs.call("lua:double", a)
  if err2 then return nil, err2 end
  return b
end

local function exec_python(host, payload)
  return process.exec("lua:py_echo", host, payload)
end

return {call_python = call_python, exec_python = exec_python}
