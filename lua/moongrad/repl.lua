-- The moongrad REPL (`moongrad` with no arguments): `mg` and `Tensor` are ready; an expression
-- prints its value (tensors print their values), a statement runs, an error prints and the
-- session goes on.
local M = {}

local function show(output, ...)
  local n = select("#", ...)
  for i = 1, n do output:write(tostring((select(i, ...))), i < n and "\t" or "\n") end
end

-- Compiles line as an expression first, then as a statement; more input is asked for while
-- the chunk is incomplete.
local function compile(src, env)
  local f = loadstring("return " .. src, "=stdin")
  if not f then
    local err
    f, err = loadstring(src, "=stdin")
    if not f then return nil, err end
  end
  setfenv(f, env)
  return f
end

function M.run(input, output)
  input, output = input or io.stdin, output or io.stdout
  local mg = require("moongrad")
  local env = setmetatable({ mg = mg, Tensor = mg.Tensor }, { __index = _G })
  output:write("moongrad " .. mg.version() .. " on " .. table.concat(mg.devices(), ", ") .. "; mg and Tensor are loaded\n")
  local buffer = ""
  while true do
    output:write(buffer == "" and "> " or ">> ")
    output:flush()
    local line = input:read("*l")
    if not line then output:write("\n"); return end
    buffer = buffer == "" and line or buffer .. "\n" .. line
    local f, err = compile(buffer, env)
    if not f and err:find("<eof>", 1, true) then
      -- incomplete: keep reading
    else
      buffer = ""
      if not f then
        output:write(err, "\n")
      else
        local res = { xpcall(f, function(e) return tostring(e) end) }
        if not res[1] then output:write("error: ", res[2], "\n")
        elseif table.maxn(res) > 1 then show(output, unpack(res, 2, table.maxn(res))) end
      end
    end
  end
end

return M
