-- The smallest moongrad program: which library and devices are here, and one lazy expression.
local mg = require("moongrad")
local Tensor = mg.Tensor

print("moongrad " .. mg.version() .. ", devices: " .. table.concat(mg.devices(), ", "))

mg.manual_seed(0)
local x = Tensor{{1, 2, 3}, {4, 5, 6.5}}   -- float32: one fractional number is enough
local w = Tensor.randn(3, 4)
local y = (x:matmul(w) + 1):relu():sum(2)  -- lazy: nothing has run yet
print(y)                                    -- realizes, then prints the values and a footer
