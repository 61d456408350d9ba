-- (being written)
local T = require("moongrad.tensor")
return T.Tensor
