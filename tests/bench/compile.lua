-- Benchmark (make bench): compile latency per kernel over the kernels of a small CNN step
-- (forward, log-softmax loss and an SGD-style update of the weights; the backward pass joins
-- when autograd lands). Median milliseconds per kernel in our codegen passes and in LLVM.
-- Targets: passes < 1 ms (tinygrad's Python passes take about 70 ms per kernel here), LLVM
-- < 10 ms. The disk cache is off (CACHELEVEL=0) so that LLVM really compiles.
local ffi = require("ffi")
ffi.cdef("int setenv(const char* name, const char* value, int overwrite);")
ffi.C.setenv("CACHELEVEL", "0", 1)
local mg = require("moongrad")
local Tensor = mg.Tensor

if mg.Tensor{1}.device ~= "CPU" then
  print("compile: the default device is " .. mg.Tensor{1}.device .. ", not CPU: skipped")
  return
end

mg.manual_seed(1)
local x = Tensor.rand(8, 1, 28, 28)
local labels = Tensor.rand(8, 10)
local w1, b1 = Tensor.rand(8, 1, 3, 3) - 0.5, Tensor.rand(8) - 0.5
local w2, b2 = Tensor.rand(16, 8, 3, 3) - 0.5, Tensor.rand(16) - 0.5
local w3, b3 = Tensor.rand(16 * 5 * 5, 10) - 0.5, Tensor.rand(10) - 0.5

local h = x:conv2d(w1, b1):relu():max_pool2d()
h = h:conv2d(w2, b2):relu():max_pool2d()
local logits = h:reshape(8, 16 * 5 * 5):matmul(w3):add(b3)
local loss = -(logits:log_softmax(2) * labels):sum(2):mean()
local lr = 0.01
local nw1, nw3 = w1 - w1 * lr, w3 - w3:sign() * lr  -- stand-ins for the gradient updates
mg.realize(loss, nw1, nw3)

local passes, backend = mg.compile_times()
local function median(v)
  local s = {}
  for i, x_ in ipairs(v) do s[i] = x_ end
  table.sort(s)
  return s[math.floor((#s + 1) / 2)] or 0
end
local mp, mb = median(passes), median(backend)
print(string.format("compile: %d kernels; median per kernel: passes %.3f ms (target < 1: %s, %.2fx of it), LLVM %.2f ms (target < 10: %s, %.2fx of it)",
  #passes, mp, mp < 1 and "PASS" or "BELOW target", mp / 1, mb, mb < 10 and "PASS" or "BELOW target", mb / 10))
