-- CI check of the CUDA backend without a GPU (run by tests/run_all.sh with CUDA_CHECK set): one
-- training step of the flagship sample (samples/mnist_model.lua, cross-entropy, backward, Adam)
-- at the sample's batch size, on the CPU. CUDA_CHECK makes every kernel of it also compile for
-- CUDA through NVRTC; a kernel that fails raises, and this prints the failure.
-- Last line: "cuda_check: N passed, N failed[, N skipped]".
local mg = require("moongrad")
local Tensor = mg.Tensor
if not os.getenv("CUDA_CHECK") or os.getenv("CUDA_CHECK") == "0" then
  print("cuda_check: CUDA_CHECK is not set: nothing compiled for CUDA")
  print("cuda_check: 0 passed, 0 failed, 1 skipped")
  return
end
local dir = (arg and arg[0] or "tests/cuda/train_step_check.lua"):match("^(.*)/tests/cuda/[^/]*$") or "."
local build = assert(loadfile(dir .. "/samples/mnist_model.lua"))()
local BS = tonumber(os.getenv("BS") or 512)
local ok, err = pcall(function()
  mg.manual_seed(1)
  local model = build(mg)
  local opt = mg.optim.Adam(mg.nn.parameters(model), { lr = 1e-3 })
  local x = Tensor.rand(BS, 1, 28, 28)
  local y = Tensor.randint({ BS }, 1, 11)
  for _ = 1, 2 do  -- the second step reuses the first one's kernels; the first compiles them all
    opt:zero_grad()
    local loss = model(x):cross_entropy(y)
    loss:backward()
    opt:step(loss)
    loss:item()
  end
  -- the sample's evaluation (eval mode, a batch of 2000 as it scores them)
  local xt = Tensor.rand(2000, 1, 28, 28)
  local yt = Tensor.randint({ 2000 }, 1, 11)
  mg.train(function() return model(xt):argmax(2):eq(yt):cast(mg.int32):sum():item() end, false)
end)
if ok then
  print(string.format("cuda_check: training step at BS=%d: every kernel compiled for CUDA (%s)", BS, os.getenv("CUDA_CHECK")))
  print("cuda_check: 1 passed, 0 failed")
else
  print("FAIL cuda_check: training step at BS=" .. BS .. ": " .. tostring(err))
  print("cuda_check: 0 passed, 1 failed")
  os.exit(1)
end
