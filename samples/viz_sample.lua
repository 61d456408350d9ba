-- A small program to look at with VIZ: `VIZ=1 build/bin/moongrad samples/viz_sample.lua`.
-- (x @ w + b):relu():sum() twice (the second run hits the schedule and program caches),
-- with markers around each run on the timeline.
local mg = require("moongrad")
local Tensor = mg.Tensor

mg.manual_seed(1)
local x = Tensor.randn(16, 32)
local w = Tensor.randn(32, 8)
local b = Tensor.randn(8)
for step = 1, 2 do
  mg.marker("step " .. step)
  local y = (x:matmul(w) + b):relu():sum()
  print(string.format("step %d: %.4f", step, y:item()))
end
