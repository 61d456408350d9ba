-- Exit status 0 when a CUDA device is here; else prints why not and exits 1 (make test-gpu and
-- make bench-gpu skip then).
local mg = require("moongrad")
for _, d in ipairs(mg.devices()) do
  if d == "CUDA" then os.exit(0) end
end
local _, err = pcall(function() return mg.Tensor.zeros(2, { device = "CUDA" }) end)
print("no CUDA device: " .. tostring(err))
os.exit(1)
