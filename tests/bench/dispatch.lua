-- Benchmark (make bench): what building one lazy elementwise op costs from Lua, beside the
-- cost of a bare FFI call into the library measured in the same run.
local mg = require("moongrad")
local ffi = require("ffi")
local core = require("moongrad.core")
local Tensor = mg.Tensor

local function now() return os.clock() end

local function best_of(reps, n, fn)
  local best = math.huge
  for _ = 1, reps do
    collectgarbage()
    local t0 = now()
    fn(n)
    best = math.min(best, (now() - t0) / n)
  end
  return best
end

local a, b = Tensor.rand(64, 64), Tensor.rand(64, 64)
local h = a.h
local N = 200000

local ffi_call = best_of(5, N * 5, function(n)
  local C = core.C
  for _ = 1, n do C.mg_tensor_ndim(h) end
end)
local add = best_of(5, N, function(n) for _ = 1, n do local _ = a + b end end)
local mul_scalar = best_of(5, N, function(n) for _ = 1, n do local _ = a * 2 end end)
local exp = best_of(5, N, function(n) for _ = 1, n do local _ = a:exp2() end end)

local function row(name, s)
  print(string.format("dispatch/%s: %.2f us per op (target < 2.00), %.1fx a bare FFI call (%.3f us)", name, s * 1e6, s / ffi_call, ffi_call * 1e6))
end
row("a + b", add)
row("a * 2", mul_scalar)
row("a:exp2()", exp)
