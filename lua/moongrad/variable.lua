-- mg.variable: a bounded integer that a size may stand for (docs/variables.md). A shape then
-- holds the Variable itself; kernels take its value as a parameter, so one graph, one set of
-- kernels and one jit capture serve every value.
local ffi = require("ffi")
local core = require("moongrad.core")
local C, ctx = core.C, core.ctx

local M = {}
local Variable = {}
Variable.__index = Variable

local by_slot = {}  -- one Variable object per variable: shapes compare them by identity
local INT64_MIN = ffi.new("int64_t", -9223372036854775807LL - 1)
local dim_out = ffi.new("int64_t[1]")
local info = { name = ffi.new("const char*[1]"), lo = ffi.new("int64_t[1]"), hi = ffi.new("int64_t[1]"),
  value = ffi.new("int64_t[1]"), bound = ffi.new("int[1]") }

local function raise(level) core.raise(nil, level + 1) end

local function is_variable(v) return getmetatable(v) == Variable end
M.is_variable = is_variable

-- The Variable a dim read from C stands for (made here the first time), or nil for a plain size.
function M.from_dim(d)
  if d >= 0 then return nil end
  local slot = tonumber(d - INT64_MIN)
  local v = by_slot[slot]
  if not v then
    if C.mg_variable_info(ctx, d, info.name, info.lo, info.hi, nil, nil) ~= 0 then raise(2) end
    v = setmetatable({ name = ffi.string(info.name[0]), lo = tonumber(info.lo[0]), hi = tonumber(info.hi[0]), dim = d + 0LL }, Variable)
    by_slot[slot] = v
  end
  return v
end

local function check_int(v, what)
  if type(v) ~= "number" or v ~= math.floor(v) then error("variable: " .. what .. " must be an integer, got " .. tostring(v), 3) end
end

function M.variable(name, lo, hi)
  if type(name) ~= "string" then error("variable: name must be a string, got " .. type(name), 2) end
  check_int(lo, "lo")
  check_int(hi, "hi")
  if C.mg_variable(ctx, name, lo, hi, dim_out) ~= 0 then raise(2) end
  return M.from_dim(dim_out[0])
end

-- Gives v its value from now on and returns v: step(x, pos:bind(7)).
function Variable:bind(value)
  if not is_variable(self) then error("bind: call it as v:bind(n)", 2) end
  check_int(value, "value")
  if C.mg_variable_bind(ctx, self.dim, value) ~= 0 then raise(2) end
  return self
end

-- The bound value, or nil before the first bind.
function Variable:value()
  if C.mg_variable_info(ctx, self.dim, nil, nil, nil, info.value, info.bound) ~= 0 then raise(2) end
  if info.bound[0] == 0 then return nil end
  return tonumber(info.value[0])
end

function Variable.__tostring(v)
  local val = v:value()
  return val and (v.name .. "=" .. val) or v.name
end

-- Sizes that are variables have no arithmetic in Lua: what a kernel computes from them is
-- computed on the device (a mean divides by a sum of ones).
local function no_arithmetic(a, b)
  local v = is_variable(a) and a or b
  error(string.format("variable '%s': arithmetic on a variable size is not supported in Lua (use its value with v:value(), " ..
    "or reduce over it on the device)", v.name), 2)
end
for _, mm in ipairs({ "__add", "__sub", "__mul", "__div", "__mod", "__pow", "__unm", "__lt", "__le", "__concat" }) do
  Variable[mm] = no_arithmetic
end

return M
