-- The REPL prints values, survives errors and reads multi-line statements.
local repl = require("moongrad.repl")

local function session(lines)
  local i = 0
  local input = { read = function() i = i + 1; return lines[i] end }
  local out = {}
  local output = { write = function(_, ...) for _, s in ipairs({ ... }) do out[#out + 1] = tostring(s) end end, flush = function() end }
  repl.run(input, output)
  return table.concat(out)
end

return {
  ["the REPL prints tensors, survives bad input and goes on"] = function(t)
    local text = session({ "x = Tensor{1, 2}", "x * 3", "x:reshape(5)", "y = x + 1", "y:sum()" })
    t.truthy(text:find(" 3 6\n[moongrad.Tensor int32 of size 2 on", 1, true), text)
    t.truthy(text:find("error: reshape: cannot reshape {2} (2 elements) to {5} (5 elements)", 1, true), text)
    t.truthy(text:find("5\n[moongrad.Tensor int32 of size [] on", 1, true), "after the error the session continues: " .. text)
  end,

  ["the REPL reads statements over several lines"] = function(t)
    local text = session({ "s = 0", "for i = 1, 3 do", "s = s + i", "end", "s" })
    t.truthy(text:find(">> ", 1, true), "asks for more")
    t.truthy(text:find("> 6\n", 1, true), text)
  end,
}
