-- mg.variable (docs/variables.md): one attention step over the first pos rows of a 1024 x 64
-- cache, for pos = 1, 2, ... Side by side in this process: the size as a plain number (a new
-- graph, schedule and kernels for every size), as a variable (kernels compiled once), and the
-- variable under mg.jit (a replay per call). Prints seconds per call and the ratios.
local ffi = require("ffi")
local mg = require("moongrad")
local T = mg.Tensor

ffi.cdef("int clock_gettime(int, void*); typedef struct { long s, ns; } mg_bench_var_ts;")
local ts = ffi.new("mg_bench_var_ts")
local function now() ffi.C.clock_gettime(1, ts); return tonumber(ts.s) + tonumber(ts.ns) * 1e-9 end

mg.manual_seed(1)
local D, MAX, CALLS = 64, 1024, 60
local K, V = T.rand(MAX, D):realize(), T.rand(MAX, D):realize()
local pos = mg.variable("pos", 1, MAX)
local function attend(q, n)
  local k, v = K:shrink({ { 1, n }, {} }), V:shrink({ { 1, n }, {} })
  return (k:matmul(q) / 8):softmax(1):matmul(v)
end
local step = mg.jit(function(q) return attend(q, pos) end)
local q = T.rand(D):realize()

-- seconds per call over sizes first, first + 1, ..., and the kernels compiled meanwhile
local function run(first, f)
  local c0, t0 = mg.stats().kernels_compiled, now()
  for p = first, first + CALLS - 1 do f(p) end
  return (now() - t0) / CALLS, mg.stats().kernels_compiled - c0
end
run(1, function(p) pos:bind(p); attend(q, pos):realize() end)  -- warm: compiles the variable's kernels
run(1, function(p) step(q, pos:bind(p)) end)                     -- warm: the jit's first call and capture
local numbers, kn = run(101, function(p) attend(q, p):realize() end)
local variable, kv = run(101, function(p) pos:bind(p); attend(q, pos):realize() end)
local jitted, kj = run(201, function(p) step(q, pos:bind(p)) end)
print(string.format("variable/attention  %d sizes: numbers %.0f us/call (%d kernels compiled), variable %.0f us/call (%d), jit %.0f us/call (%d)",
  CALLS, numbers * 1e6, kn, variable * 1e6, kv, jitted * 1e6, kj))
print(string.format("variable/attention  numbers / variable %.1f x, variable / jit %.1f x (no target)", numbers / variable, variable / jitted))
