-- Dtypes: one interned table per dtype, so `x.dtype == mg.float32` works.
local ffi = require("ffi")
local core = require("moongrad.core")
local C = core.C

local M = {}

-- name, C enum, FFI element type used to move host data (float16/bfloat16 go through float32;
-- bools travel as uint8_t 0/1: LuaJIT 2.1's loop optimizer mishandles bool[] arrays read in loops)
local defs = {
  { "bool", C.MG_BOOL, "uint8_t" }, { "int8", C.MG_INT8, "int8_t" }, { "uint8", C.MG_UINT8, "uint8_t" },
  { "int16", C.MG_INT16, "int16_t" }, { "uint16", C.MG_UINT16, "uint16_t" }, { "int32", C.MG_INT32, "int32_t" },
  { "uint32", C.MG_UINT32, "uint32_t" }, { "int64", C.MG_INT64, "int64_t" }, { "uint64", C.MG_UINT64, "uint64_t" },
  { "float16", C.MG_FLOAT16, "float" }, { "bfloat16", C.MG_BFLOAT16, "float" }, { "float32", C.MG_FLOAT32, "float" },
  { "float64", C.MG_FLOAT64, "double" },
}

local by_id = {}
M.all = {}
for _, d in ipairs(defs) do
  local name, id, ctype = d[1], tonumber(d[2]), d[3]
  local dt = setmetatable({
    name = name, id = id, ctype = ctype, itemsize = tonumber(C.mg_dtype_size(id)),
    is_float = name:find("float") ~= nil, is_bool = name == "bool",
    is_int = name:find("int") ~= nil, is_unsigned = name:sub(1, 4) == "uint",
    -- host transfers of float16/bfloat16 go through float32
    host = (name == "float16" or name == "bfloat16") and "float32" or name,
  }, { __tostring = function() return "mg." .. name end })
  M[name] = dt
  by_id[id] = dt
  M.all[#M.all + 1] = dt
end
M.half = M.float16
M.float = M.float32
M.double = M.float64
M.int = M.int32
M.long = M.int64

function M.from_id(id) return by_id[tonumber(id)] end

function M.promote(a, b)
  if a == b then return a end
  return by_id[tonumber(C.mg_dtype_promote(a.id, b.id))]
end

-- Accepts a dtype table or its name.
function M.get(d)
  if type(d) == "string" then return M[d] or error("unknown dtype '" .. d .. "'", 3) end
  if type(d) == "table" and by_id[d.id] == d then return d end
  error("expected a dtype (e.g. mg.float32), got " .. tostring(d), 3)
end

return M
