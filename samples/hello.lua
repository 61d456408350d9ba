-- The smallest moongrad program: which library and which devices are here.
local mg = require("moongrad")

print("moongrad " .. mg.version())
local devices = mg.devices()
if #devices == 0 then
  print("devices: none yet (backends are not built into this version)")
else
  print("devices: " .. table.concat(devices, ", "))
end
