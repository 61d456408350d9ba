-- moongrad: lazy tensors for LuaJIT, compiled by a C++ engine.
-- local mg = require("moongrad"). Sets no globals.
local ffi = require("ffi")
local core = require("moongrad.core")
local T = require("moongrad.tensor_type")

local C, ctx = core.C, core.ctx

local mg = {}

-- Version of the loaded library, "MAJOR.MINOR.PATCH".
function mg.version()
  return ffi.string(C.mg_version())
end

-- Names of the devices available here, as a Lua sequence (may be empty).
function mg.devices()
  local names = {}
  for i = 0, C.mg_device_count(ctx) - 1 do
    names[#names + 1] = ffi.string(core.checkp(C.mg_device_name(ctx, i), "mg_device_name", C.MG_ERR_INDEX))
  end
  return names
end

mg.Tensor = T.Tensor
mg.newaxis = T.Tensor.newaxis
mg.einsum = T.Tensor.einsum
mg.realize = T.realize
mg.manual_seed = T.manual_seed
mg.memory_used = T.memory_used
mg.memory_peak = T.memory_peak
mg.live_tensors = T.live_tensors
mg.live_nodes = T.live_nodes
mg.stats = T.stats
mg.compile_times = T.compile_times
for _, dt in ipairs(T.dtypes.all) do mg[dt.name] = dt end
mg.dtypes = T.dtypes
mg.nn = require("moongrad.nn")
mg.optim = require("moongrad.optim")
mg.training = mg.nn.training
mg.train = mg.nn.train
mg.state = require("moongrad.state")
mg.datasets = require("moongrad.datasets")
local viz = require("moongrad.viz")
mg.viz = setmetatable({ save = viz.save, save_profile = viz.save_profile, check_file = viz.check_file },
  { __call = function() viz.viz() end })
mg.marker = viz.marker
mg.jit = require("moongrad.jit").jit
mg.variable = require("moongrad.variable").variable

-- mg.default_float reads and sets the dtype that float data and results default to.
return setmetatable(mg, {
  __index = function(_, k) if k == "default_float" then return T.default_float end end,
  __newindex = function(_, k, v)
    if k == "default_float" then
      local dt = T.dtypes.get(v)
      if not dt.is_float then error("default_float must be a float dtype, got " .. dt.name, 2) end
      T.default_float = dt
    else
      rawset(mg, k, v)
    end
  end,
})
