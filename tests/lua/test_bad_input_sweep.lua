-- Every Tensor method called with arguments of every wrong kind: each call returns or raises a
-- Lua error with a message; none crashes the process or leaves the context unusable.
local mg = require("moongrad")
local Tensor = mg.Tensor

return {
  ["every method survives arguments of every wrong kind"] = function(t)
    local kinds = { nil, "abc", { 1, "x" }, -7, 1e12, 0 / 0, true, Tensor{1.5}, {}, 1.5, Tensor.zeros(4, 5) }
    local n = 11  -- #kinds, counting the leading nil
    local subjects = { Tensor{{1, 2, 3}, {4, 5, 6}}, Tensor{1, 2}, Tensor(3), Tensor.zeros(0, 2) }
    local methods = {}
    for k, v in pairs(Tensor) do
      if type(v) == "function" and not k:find("^_") then methods[#methods + 1] = k end
    end
    table.sort(methods)
    t.truthy(#methods > 150, "the API has its methods: " .. #methods)
    local calls, errors = 0, 0
    for _, m in ipairs(methods) do
      for _, x in ipairs(subjects) do
        for a = 1, n do
          for b = 1, n, 2 do
            calls = calls + 1
            local ok, e = pcall(Tensor[m], x, kinds[a], kinds[b])
            if not ok then
              errors = errors + 1
              t.eq(type(e), "string", m .. " raised a " .. type(e))
              t.truthy(#e > 0, m .. " raised an empty message")
            end
          end
        end
      end
    end
    t.truthy(errors > calls / 2, "most of these calls are bad input: " .. errors .. " of " .. calls)
    -- the context still works
    t.eq((Tensor{1, 2} + 1):totable(), {2, 3})
  end,
}
