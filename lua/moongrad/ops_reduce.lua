-- Reductions: sum, prod, max, min, mean over one dim (1-based), a list of dims, or all dims.
-- {keepdim = true} keeps the reduced dims as size 1.
local T = require("moongrad.tensor")
local dtypes = T.dtypes
local Tensor, axis, shape_of, reduce, movement = T.Tensor, T.axis, T.shape_of, T.reduce, T.movement
local V = require("moongrad.variable")

-- dim: nil (all), a number, or a list of numbers. Returns 0-based axes and the kept shape.
local function reduce_axes(t, dim, op)
  local s = shape_of(t)
  local axes = {}
  if dim == nil then
    for i = 1, #s do axes[i] = i - 1 end
  elseif type(dim) == "table" then
    for i = 1, #dim do axes[i] = axis(dim[i], #s, op) end
  else
    axes[1] = axis(dim, #s, op)
  end
  return axes, s
end
T.reduce_axes = reduce_axes

-- Drops the reduced dims unless keepdim.
local function finish(r, s, axes, keepdim)
  if keepdim then return r end
  local gone, keep = {}, {}
  for _, a in ipairs(axes) do gone[a + 1] = true end
  for i = 1, #s do if not gone[i] then keep[#keep + 1] = s[i] end end
  return movement("reshape", r, keep)
end
T.reduce_finish = finish

-- Small integer and bool sums accumulate in 32 bits, as tinygrad and torch do.
local function sum_dtype(dt)
  if dt == dtypes.bool or dt == dtypes.int8 or dt == dtypes.int16 then return dtypes.int32 end
  if dt == dtypes.uint8 or dt == dtypes.uint16 then return dtypes.uint32 end
  return dt
end

local function reducer(op, name, acc_dtype)
  return function(t, dim, opts)
    if type(dim) == "table" and opts == nil and dim.keepdim ~= nil then dim, opts = nil, dim end
    local axes, s = reduce_axes(t, dim, name)
    local x = t
    local acc = acc_dtype and acc_dtype(t.dtype)
    if acc and acc ~= t.dtype then x = x:cast(acc) end
    return finish(reduce(op, x, axes), s, axes, opts and opts.keepdim)
  end
end

Tensor.sum = reducer("sum", "sum", sum_dtype)
Tensor.prod = reducer("prod", "prod", sum_dtype)
local max_raw = reducer("max", "max")

function Tensor.max(t, dim, opts)
  if T.is_tensor(dim) then return Tensor.maximum(t, dim) end
  return max_raw(t, dim, opts)
end

-- min(x) = -max(-x) keeps NaN for floats; integers flip their bits instead (no overflow).
function Tensor.min(t, dim, opts)
  if T.is_tensor(dim) then return Tensor.minimum(t, dim) end
  local dt = t.dtype
  if dt.is_float then return Tensor.neg(max_raw(Tensor.neg(t), dim, opts)) end
  if dt.is_bool then return Tensor.logical_not(max_raw(Tensor.logical_not(t), dim, opts)) end
  return Tensor.bitwise_not(max_raw(Tensor.bitwise_not(t), dim, opts))
end

function Tensor.mean(t, dim, opts)
  if type(dim) == "table" and opts == nil and dim.keepdim ~= nil then dim, opts = nil, dim end
  local axes, s = reduce_axes(t, dim, "mean")
  local n, variable = 1, false
  for _, a in ipairs(axes) do
    if V.is_variable(s[a + 1]) then variable = true else n = n * s[a + 1] end
  end
  local x = t.dtype.is_float and t or t:cast(T.default_float)
  local total = finish(reduce("sum", x, axes), s, axes, opts and opts.keepdim)
  -- a variable count is a sum of integer ones on the device, which codegen folds to the variable
  if variable then n = finish(reduce("sum", Tensor.ones_like(x, { dtype = dtypes.int32 }), axes), s, axes, opts and opts.keepdim):cast(x.dtype) end
  return Tensor.div(total, n)  -- 0/0 is NaN for an empty reduction, as in torch
end

return Tensor
