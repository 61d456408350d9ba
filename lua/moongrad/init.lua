-- moongrad: lazy tensors for LuaJIT, compiled by a C++ engine.
-- local mg = require("moongrad"). Sets no globals.
local ffi = require("ffi")
local core = require("moongrad.core")

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

return mg
