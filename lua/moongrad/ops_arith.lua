-- Elementwise arithmetic on top of the ALU primitives: division modes, modulo, powers, rounding,
-- exp/log/trig through exp2/log2/sin, comparisons' logical helpers, bitwise ops.
local T = require("moongrad.tensor")
local dtypes = T.dtypes
local Tensor, alu, operands, is_tensor = T.Tensor, T.alu, T.operands, T.is_tensor

local LN2, PI = math.log(2), math.pi

local float_of = T.float_of

-- True division for "/" and div(); {rounding_mode = "trunc" | "floor"} rounds the quotient.
function Tensor.div(a, b, opts)
  local mode = opts and opts.rounding_mode
  if mode == nil then
    local x, y = operands(a, b, "div", true)
    return alu("fdiv", x, y)
  end
  local x, y = operands(a, b, "div")
  if mode == "trunc" then
    if x.dtype.is_float then return alu("trunc", alu("fdiv", x, y)) end
    return alu("idiv", x, y)
  elseif mode == "floor" then
    if x.dtype.is_float then return Tensor.floor(alu("fdiv", x, y)) end
    -- C division truncates; step down when the remainder's sign differs from the divisor's
    local q, r = alu("idiv", x, y), alu("mod", x, y)
    local zero = Tensor.zeros_like(r)
    local adjust = alu("bit_and", alu("cmpne", r, zero), alu("cmpne", alu("cmplt", r, zero), alu("cmplt", y, zero)))
    return Tensor.where(adjust, alu("sub", q, Tensor.ones_like(q)), q)
  end
  error("div: rounding_mode must be nil, \"trunc\" or \"floor\", got " .. tostring(mode), 2)
end

-- Floored modulo, like Lua's % and Python's: the result has the divisor's sign.
function Tensor.mod(a, b)
  local x, y = operands(a, b, "mod")
  if x.dtype.is_bool then error("mod: not defined for bool", 2) end
  local r = alu("mod", x, y)
  local zero = Tensor.zeros_like(r)
  local fix = alu("bit_and", alu("cmpne", r, zero), alu("cmpne", alu("cmplt", r, zero), alu("cmplt", y, zero)))
  return Tensor.where(fix, alu("add", r, y), r)
end
Tensor.remainder = Tensor.mod
function Tensor.fmod(a, b) local x, y = operands(a, b, "fmod"); return alu("mod", x, y) end

function Tensor.pow(a, b)
  local x, y = operands(a, b, "pow")
  if x.dtype.is_bool then x, y = x:cast(dtypes.int32), y:cast(dtypes.int32) end
  return alu("pow", x, y)
end

function Tensor.minimum(a, b)
  local x, y = operands(a, b, "minimum")
  if x.dtype.is_float then return alu("neg", alu("max", alu("neg", x), alu("neg", y))) end  -- keeps NaN
  return Tensor.where(alu("cmplt", x, y), x, y)
end

function Tensor.clamp(t, lo, hi)
  if lo == nil and hi == nil then error("clamp: give a min, a max or both", 2) end
  if lo ~= nil then t = Tensor.maximum(t, lo) end
  if hi ~= nil then t = Tensor.minimum(t, hi) end
  return t
end
Tensor.clip = Tensor.clamp

function Tensor.reciprocal(t) return alu("reciprocal", float_of(t)) end
function Tensor.sqrt(t) return alu("sqrt", float_of(t)) end
function Tensor.rsqrt(t) return alu("reciprocal", alu("sqrt", float_of(t))) end
function Tensor.exp2(t) return alu("exp2", float_of(t)) end
function Tensor.log2(t) return alu("log2", float_of(t)) end
function Tensor.exp(t) return alu("exp2", Tensor.mul(float_of(t), 1 / LN2)) end
function Tensor.log(t) return Tensor.mul(alu("log2", float_of(t)), LN2) end
function Tensor.sin(t) return alu("sin", float_of(t)) end
function Tensor.cos(t) return alu("sin", Tensor.sub(PI / 2, float_of(t))) end
function Tensor.tan(t) return Tensor.div(Tensor.sin(t), Tensor.cos(t)) end
function Tensor.square(t) return alu("mul", t, t) end

function Tensor.trunc(t) if not t.dtype.is_float then return t end return alu("trunc", t) end
function Tensor.floor(t)
  if not t.dtype.is_float then return t end
  local r = alu("trunc", t)
  return Tensor.where(alu("cmplt", t, r), Tensor.sub(r, 1), r)
end
function Tensor.ceil(t)
  if not t.dtype.is_float then return t end
  local r = alu("trunc", t)
  return Tensor.where(alu("cmplt", r, t), Tensor.add(r, 1), r)
end
-- Half to even, like torch.round.
function Tensor.round(t)
  if not t.dtype.is_float then return t end
  local r = Tensor.floor(Tensor.add(t, 0.5))
  local tie = Tensor.eq(Tensor.sub(r, t), 0.5)
  local odd = Tensor.ne(Tensor.fmod(r, 2), 0)
  return Tensor.where(alu("bit_and", tie, odd), Tensor.sub(r, 1), r)
end

function Tensor.abs(t)
  if t.dtype.is_bool or t.dtype.is_unsigned then return t end
  return Tensor.where(Tensor.lt(t, 0), alu("neg", t), t)
end
function Tensor.sign(t)
  if t.dtype.is_bool then return t end
  -- t*0 keeps zeros (and NaN, as torch does) where t is neither positive nor negative
  local rest = t.dtype.is_float and Tensor.mul(t, 0) or Tensor.zeros_like(t)
  return Tensor.where(Tensor.gt(t, 0), 1, Tensor.where(Tensor.lt(t, 0), -1, rest))
end

function Tensor.lerp(t, finish, weight) return Tensor.add(t, Tensor.mul(Tensor.sub(finish, t), weight)) end

function Tensor.isnan(t)
  if not t.dtype.is_float then return Tensor.zeros_like(t, { dtype = "bool" }) end
  return Tensor.ne(t, t)
end
function Tensor.isinf(t)
  if not t.dtype.is_float then return Tensor.zeros_like(t, { dtype = "bool" }) end
  return alu("bit_or", Tensor.eq(t, math.huge), Tensor.eq(t, -math.huge))
end
function Tensor.isfinite(t) return Tensor.logical_not(alu("bit_or", Tensor.isnan(t), Tensor.isinf(t))) end

local function as_bool(t) if t.dtype == dtypes.bool then return t end return Tensor.ne(t, 0) end
function Tensor.logical_not(t) return Tensor.ne(as_bool(t), true) end
function Tensor.logical_and(a, b)
  local x, y = operands(is_tensor(a) and as_bool(a) or a, is_tensor(b) and as_bool(b) or b, "logical_and")
  return alu("bit_and", as_bool(x), as_bool(y))
end
function Tensor.logical_or(a, b)
  local x, y = operands(is_tensor(a) and as_bool(a) or a, is_tensor(b) and as_bool(b) or b, "logical_or")
  return alu("bit_or", as_bool(x), as_bool(y))
end
function Tensor.logical_xor(a, b) return Tensor.ne(as_bool(a), as_bool(b)) end

local function bitwise(op, name)
  return function(a, b)
    local x, y = operands(a, b, name)
    if x.dtype.is_float then error(name .. ": not defined for " .. x.dtype.name, 2) end
    return alu(op, x, y)
  end
end
Tensor.bitwise_and = bitwise("bit_and", "bitwise_and")
Tensor.bitwise_or = bitwise("bit_or", "bitwise_or")
Tensor.bitwise_xor = bitwise("bit_xor", "bitwise_xor")
function Tensor.bitwise_not(t)
  if t.dtype.is_float then error("bitwise_not: not defined for " .. t.dtype.name, 2) end
  if t.dtype.is_bool then return Tensor.logical_not(t) end
  return alu("bit_xor", t, T.full_raw(t.shape, -1, t.dtype, t.device))
end
local function shift(op, name)
  return function(a, b)
    local x, y = operands(a, b, name)
    if not x.dtype.is_int then error(name .. ": needs integer tensors, got " .. x.dtype.name, 2) end
    return alu(op, x, y)
  end
end
Tensor.lshift = shift("shl", "lshift")
Tensor.rshift = shift("shr", "rshift")

return Tensor
