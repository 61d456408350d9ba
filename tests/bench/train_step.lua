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
-- Steps with and without mg.jit, on the same model in turns (eager, jitted, eager, ...), so
-- both see the machine in the same state. The jitted step's first two calls run the Lua
-- (warm-up, capture); the steady figure is the median of the later calls. At batch 2 the
-- kernels are cheap, so the difference is what a replay saves: Lua, graphs, scheduling.
for _, bs in ipairs({ 2, 64, 512 }) do
  mg.manual_seed(1)
  local model = build(mg)
  local opt = mg.optim.Adam(mg.nn.parameters(model), { lr = 1e-3 })
  local x = Tensor.rand(bs, 1, 28, 28)
  local y = Tensor.randint({ bs }, 1, 11)
  local function step()
    opt:zero_grad()
    local loss = model(x):cross_entropy(y)
    loss:backward()
    opt:step(loss)
    return loss
  end
  local jitted = mg.jit(step)
  local times = { eager = {}, jit = {} }
  local kernels = 0
  for i = 1, STEPS + 2 do
    for _, mode in ipairs({ "eager", "jit" }) do
      local t0 = now()
      local k0 = mg.stats().kernels_run
      local loss = mode == "jit" and jitted() or step()
      loss:item()
      times[mode][i] = now() - t0
      if mode == "eager" then kernels = mg.stats().kernels_run - k0 end
    end
  end
  local function median_after(l, skip)
    local s = {}
    for i = skip + 1, #l do s[#s + 1] = l[i] end
    table.sort(s)
    return s[math.floor((#s + 1) / 2)]
  end
  local eager, jit = median_after(times.eager, 1), median_after(times.jit, 2)
  print(string.format("train_step BS=%d: first step %.2f s, steady %.3f s/step eager, %.3f s/step with mg.jit (%.2f x the steps per second; median of %d), %d kernels per step; 70 steps would take %.0f s (target for the sample: 120 s)",
    bs, times.eager[1], eager, jit, eager / jit, STEPS, kernels, times.eager[1] + 69 * jit))
end
