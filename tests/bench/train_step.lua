-- Benchmark (make bench): one training step of the flagship sample's network (forward,
-- cross-entropy, backward, Adam) on random data: time to the first completed step (which
-- includes compiling) and the steady seconds per step at batch sizes 64 and 512, with the
-- number of kernels per step. Reference, same machine: tinygrad 0.13 takes about 3 s per step
-- at 512 (issue 5's figure); the target is the sample's 70 steps in 120 s.
local ffi = require("ffi")
ffi.cdef("int clock_gettime(int, void*); typedef struct { long s, ns; } mg_bench_ts;")
local mg = require("moongrad")
local Tensor = mg.Tensor
local ts = ffi.new("mg_bench_ts")
local function now() ffi.C.clock_gettime(1, ts); return tonumber(ts.s) + tonumber(ts.ns) * 1e-9 end
local dir = (arg and arg[0] or "tests/bench/train_step.lua"):match("^(.*)/tests/bench/[^/]*$") or "."
local build = assert(loadfile(dir .. "/samples/mnist_model.lua"))()

local STEPS = tonumber(os.getenv("BENCH_STEPS") or 3)
for _, bs in ipairs({ 64, 512 }) do
  mg.manual_seed(1)
  local model = build(mg)
  local opt = mg.optim.Adam(mg.nn.parameters(model), { lr = 1e-3 })
  local x = Tensor.rand(bs, 1, 28, 28)
  local y = Tensor.randint({ bs }, 1, 11)
  local times, kernels = {}, 0
  for step = 1, STEPS do
    local t0 = now()
    local k0 = mg.stats().kernels_run
    opt:zero_grad()
    local loss = model(x):cross_entropy(y)
    loss:backward()
    opt:step(loss)
    loss:item()
    times[step] = now() - t0
    kernels = mg.stats().kernels_run - k0
  end
  local steady = {}
  for i = 2, #times do steady[#steady + 1] = times[i] end
  table.sort(steady)
  local med = steady[math.floor((#steady + 1) / 2)] or times[1]
  print(string.format("train_step BS=%d: first step %.2f s, steady %.3f s/step (median of %d), %d kernels per step; 70 steps would take %.0f s (target for the sample: 120 s)",
    bs, times[1], med, #steady, kernels, times[1] + 69 * med))
end
