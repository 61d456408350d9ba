-- What the fuzzer knows about a node's values without computing them: enough to keep every
-- generated result defined, and to tell how far two correct devices may differ.
--
-- An info is { dt = dtype, m = bound on |finite values|, ... }; for floats also
--   exact   = true: every value is a multiple of 2^-d (d = info.d), was computed without any
--             rounding, and is representable in dt as a normal number (or 0). Such a value is
--             the same bit for bit on every correct device, whatever the order of a sum or
--             the fusion of a multiply-add, so comparisons, float -> int casts, floor, mod...
--             may be applied to it.
--   exact   = false: the value was rounded somewhere (a division, a transcendental, a sum
--             whose partial sums need more bits than the dtype has...). info.e bounds its
--             distance from the exact real result, so two devices differ by at most 2e. Only
--             continuous ops are applied to it (nothing that jumps: no comparison, no cast to
--             an integer, no floor) and its magnitude stays far from overflow.
--   special = it may hold inf or NaN (these are deterministic: they only come from exact
--             operands or from division/log of exact values).
--   zsign   = the sign of a zero in it may differ between devices (max(-0, +0), a sum that
--             starts from +0 or from its first element), so it is never divided by.
--   nonneg  = no value is negative (so it may be cast to an unsigned type).
--   nonzero = no value is 0 (so a rounded value may be divided by it: x / 0 jumps between
--             -inf, NaN and inf as x crosses 0).
-- A function that returns nil means "do not generate this".
local M = {}

local LN2 = math.log(2)

-- p: significand bits, minexp: exponent of the smallest normal number
local float_params = {
  float16 = { p = 11, minexp = -14, max = 65504 },
  bfloat16 = { p = 8, minexp = -126, max = 3.3895313892515355e38 },
  float32 = { p = 24, minexp = -126, max = 3.4028234663852886e38 },
  float64 = { p = 53, minexp = -1022, max = 1.7976931348623157e308 },
}
M.float_params = float_params

local function fp(dt) return float_params[dt.name] end
local function u(dt) return 2 ^ -fp(dt).p end
-- absolute slack for underflow (a device may flush results below the smallest normal to 0)
local function tiny(dt) return 2 ^ fp(dt).minexp end
M.unit = u
M.tiny = tiny

-- Largest |value| of an integer dtype (the magnitude of its lowest value for signed ones).
local int_max = {
  bool = 1, int8 = 128, uint8 = 255, int16 = 32768, uint16 = 65535, int32 = 2 ^ 31,
  uint32 = 2 ^ 32 - 1, int64 = 2 ^ 63, uint64 = 2 ^ 64 - 1,
}
M.int_max = int_max
local function int_bits(dt) return dt.itemsize * 8 end
M.int_bits = int_bits

local function representable(dt, d, m)
  local f = fp(dt)
  return d <= -f.minexp and m * 2 ^ d <= 2 ^ f.p and m <= f.max
end

local function exact(dt, d, m, special, zsign, nonneg)
  return { dt = dt, exact = true, d = d, m = m, e = 0, special = special or false,
           zsign = zsign or false, nonneg = nonneg or false }
end
-- a rounded float info, or nil when it could come near overflow or its bound is useless
local function rounded(dt, m, e, special, nonneg)
  if m ~= m or e ~= e or m > fp(dt).max / 4 or e == math.huge then return nil end
  return { dt = dt, exact = false, d = 0, m = m, e = e, special = special or false,
           zsign = true, nonneg = nonneg or false }
end
-- the result of exact operands: exact when it fits dt, else rounded once
local function exact_or_rounded(dt, d, m, special, zsign, nonneg, ulps)
  if representable(dt, d, m) then return exact(dt, d, m, special, zsign, nonneg) end
  return rounded(dt, m, (ulps or 1) * u(dt) * m + tiny(dt), special, nonneg)
end

local function int_info(dt, m, nonneg)
  return { dt = dt, int = true, exact = true, d = 0, m = math.min(m, int_max[dt.name]),
           e = 0, nonneg = nonneg or dt.is_unsigned or dt.is_bool }
end
M.int_info = int_info

-- Fraction bits of a Lua number: the least k with v * 2^k an integer.
local function frac_bits(v)
  if v ~= v or v == math.huge or v == -math.huge then return 0 end
  local k = 0
  while v * 2 ^ k ~= math.floor(v * 2 ^ k) do k = k + 1 end
  return k
end

-- Info of host data (a flat list of numbers or booleans) given to a tensor of dtype dt.
function M.of_data(dt, flat)
  local m, d, special, nonneg, nonzero = 0, 0, false, true, true
  for i = 1, #flat do
    local v = flat[i]
    if type(v) == "boolean" then v = v and 1 or 0 end
    if not dt.is_float and v == v and math.abs(v) ~= math.huge then
      -- an integer dtype keeps the low bits (-1 is 255 in uint8)
      if dt.is_bool then v = v ~= 0 and 1 or 0
      else
        local span = 2 ^ int_bits(dt)
        local lo = dt.is_unsigned and 0 or -span / 2
        if v < lo or v >= lo + span then  -- (64-bit values stay well inside 2^53 here)
          v = v % span
          if not dt.is_unsigned and v >= span / 2 then v = v - span end
        end
      end
    end
    if v == 0 then nonzero = false end
    if v ~= v or v == math.huge or v == -math.huge then
      special = true
      nonneg = false
    else
      m = math.max(m, math.abs(v))
      d = math.max(d, frac_bits(v))
      if v < 0 or (v == 0 and 1 / v < 0) then nonneg = false end
    end
  end
  local r
  if not dt.is_float then r = int_info(dt, m, nonneg) else r = exact(dt, d, m, special, false, nonneg) end
  r.nonzero = nonzero
  return r
end

-- The dtype two operands share (tensor.lua's `operands`): promotion for two tensors; a number
-- takes the tensor's dtype, except a fractional number beside a non-float tensor (default
-- float) and any number beside a bool tensor (int32 or the default float).
function M.common(mg, a_dt, b, b_is_tensor)
  if b_is_tensor then return mg.dtypes.promote(a_dt, b) end
  local frac = type(b) == "number" and (b ~= math.floor(b) or b ~= b)  -- inf counts as integral there
  if frac and not a_dt.is_float then return mg.default_float end
  if type(b) == "number" and a_dt.is_bool then return mg.int32 end
  return a_dt
end

-- ---- casts ----
-- info converted to dtype dt (a cast, or the implicit conversion of an operand)
function M.convert(x, dt)
  if x.dt == dt then return x end
  if dt.is_bool then
    if x.dt.is_float and not x.exact then return nil end  -- x != 0 jumps
    return int_info(dt, 1)
  end
  if not dt.is_float then
    local max = int_max[dt.name]
    if x.dt.is_float then
      -- truncation toward zero, kept inside the target's range (no saturation, no NaN)
      if not x.exact or x.special then return nil end
      if dt.is_unsigned then
        if not x.nonneg or x.m >= max then return nil end
      elseif x.m >= max then return nil end
      return int_info(dt, math.floor(x.m), x.nonneg)
    end
    -- integers keep their low bits: the bound holds when the values fit
    local fits
    if dt.is_unsigned then fits = x.nonneg and x.m <= max
    else fits = x.m < max end
    return int_info(dt, fits and x.m or max, fits and x.nonneg)
  end
  -- to a float
  if not x.dt.is_float then
    local r = exact_or_rounded(dt, 0, x.m, false, false, x.nonneg)
    if r then r.nonzero = x.nonzero end  -- a nonzero integer never rounds to 0
    return r
  end
  if x.exact then
    if representable(dt, x.d, x.m) then
      local r = exact(dt, x.d, x.m, x.special, x.zsign, x.nonneg)
      r.nonzero = x.nonzero
      return r
    end
    return rounded(dt, x.m, u(dt) * x.m + tiny(dt), x.special, x.nonneg)
  end
  return rounded(dt, x.m, x.e + u(dt) * x.m + tiny(dt), x.special, x.nonneg)
end

-- ---- elementwise ----
local function both_exact(a, b) return a.exact and b.exact end

-- a and b already converted to their common dtype dt; returns the result's info or nil
local binary = {}

function binary.add(dt, a, b)
  if not dt.is_float then
    if dt.is_bool then return int_info(dt, 1) end
    if dt.is_unsigned then return int_info(dt, a.m + b.m) end
    return int_info(dt, a.m + b.m)
  end
  local m = a.m + b.m
  local special = a.special or b.special
  if both_exact(a, b) then
    return exact_or_rounded(dt, math.max(a.d, b.d), m, special, a.zsign or b.zsign, a.nonneg and b.nonneg)
  end
  return rounded(dt, m, a.e + b.e + u(dt) * m + tiny(dt), special, a.nonneg and b.nonneg)
end

function binary.sub(dt, a, b)
  if not dt.is_float then
    if dt.is_unsigned or dt.is_bool then return int_info(dt, int_max[dt.name]) end
    return int_info(dt, a.m + b.m)
  end
  local r = binary.add(dt, a, b)
  if r then r.nonneg = false end
  return r
end

function binary.mul(dt, a, b)
  if not dt.is_float then return int_info(dt, a.m * b.m, a.nonneg and b.nonneg) end
  local m = a.m * b.m
  local nonneg = a.nonneg and b.nonneg
  if both_exact(a, b) then
    return exact_or_rounded(dt, a.d + b.d, m, a.special or b.special, a.zsign or b.zsign, nonneg)
  end
  -- a rounded value near 0 times inf is NaN on one device and inf on another
  if a.special or b.special then return nil end
  return rounded(dt, m, a.e * b.m + b.e * a.m + a.e * b.e + u(dt) * m + tiny(dt), false, nonneg)
end

function binary.maximum(dt, a, b)
  if not dt.is_float then return int_info(dt, math.max(a.m, b.m), a.nonneg or b.nonneg) end
  local m = math.max(a.m, b.m)
  if both_exact(a, b) then
    return exact(dt, math.max(a.d, b.d), m, a.special or b.special, true, a.nonneg or b.nonneg)
  end
  return rounded(dt, m, math.max(a.e, b.e), a.special or b.special, a.nonneg or b.nonneg)
end

function binary.minimum(dt, a, b)
  local r = binary.maximum(dt, a, b)
  if r then r.nonneg = a.nonneg and b.nonneg end
  return r
end

-- true division: the divisor must be exact (1/x jumps near 0) with a known sign of zero, and
-- a rounded dividend needs a divisor without zeros (x / 0 jumps as x crosses 0)
function binary.div(dt, a, b)
  if not b.exact or b.zsign then return nil end
  if not a.exact and not b.nonzero then return nil end
  local scale = 2 ^ b.d  -- 1 / (the smallest nonzero |b|)
  local m = a.m * scale
  return rounded(dt, m, a.e * scale + 2 * u(dt) * m + tiny(dt), true, false)
end

-- x ^ y: floats only for exact operands; integers only with exponents 0..3 (the generator
-- masks them), which wrap like repeated multiplication
function binary.pow(dt, a, b)
  if not dt.is_float then
    return int_info(dt, math.min(a.m ^ math.max(b.m, 0), int_max[dt.name]), a.nonneg)
  end
  if not both_exact(a, b) or a.zsign then return nil end
  local base = math.max(a.m, 2 ^ a.d, 1)
  local m = base ^ b.m
  local z = b.m * math.log(base) / LN2  -- bound on |y log2 x|
  return rounded(dt, m, m * (16 * u(dt) + 4 * u(dt) * z) + tiny(dt), true, false)
end

-- Lua's % (floored) and fmod on exact floats; integers use a divisor that cannot be 0
function binary.mod(dt, a, b)
  if not dt.is_float then return int_info(dt, b.m, b.nonneg and a.nonneg) end
  if not both_exact(a, b) then return nil end
  local d = math.max(a.d, b.d)
  -- |result| < |b| for a finite b; x % inf is x (or inf)
  local m = b.special and math.max(a.m, b.m) or b.m
  if not representable(dt, d, m) then return nil end
  return exact(dt, d, m, true, a.zsign, false)
end
binary.fmod = binary.mod

function binary.idiv(dt, a, b)  -- div(.., {rounding_mode = ...}) on integers
  if dt.is_float then return nil end
  return int_info(dt, a.m + 1)  -- floor division of INT_MIN by -1 rounds away by one at most
end

local function bitwise(dt, a, b)
  if dt.is_float then return nil end
  if dt.is_bool then return int_info(dt, 1) end
  return int_info(dt, int_max[dt.name])
end
binary.bitwise_and = bitwise
binary.bitwise_or = bitwise
binary.bitwise_xor = bitwise
function binary.lshift(dt) if dt.is_float or dt.is_bool then return nil end return int_info(dt, int_max[dt.name]) end
function binary.rshift(dt, a) if dt.is_float or dt.is_bool then return nil end return int_info(dt, a.m, a.nonneg) end

-- comparisons jump: exact operands only
local function compare(dt, a, b, mg)
  if dt.is_float and not both_exact(a, b) then return nil end
  return int_info(mg.bool, 1)
end
for _, name in ipairs({ "lt", "le", "gt", "ge", "eq", "ne" }) do binary[name] = compare end

M.binary = binary

-- Binary op `op` of infos a and b (tensors or numbers made infos) into result dtype out_dt.
function M.binop(mg, op, a, b, common_dt)
  local ca, cb = M.convert(a, common_dt), M.convert(b, common_dt)
  if not ca or not cb then return nil end
  local f = binary[op]
  if not f then error("model: no rule for binary op " .. op) end
  return f(common_dt, ca, cb, mg)
end

-- where(c, a, b): c must not jump (a bool, an int, or an exact float compared with 0)
function M.where(mg, c, a, b, dt)
  if c.dt.is_float and not c.exact then return nil end
  local ca, cb = M.convert(a, dt), M.convert(b, dt)
  if not ca or not cb then return nil end
  if not dt.is_float then return int_info(dt, math.max(ca.m, cb.m), ca.nonneg and cb.nonneg) end
  local m = math.max(ca.m, cb.m)
  local special, nonneg = ca.special or cb.special, ca.nonneg and cb.nonneg
  if both_exact(ca, cb) then
    local r = exact(dt, math.max(ca.d, cb.d), m, special, ca.zsign or cb.zsign, nonneg)
    r.nonzero = ca.nonzero and cb.nonzero
    return r
  end
  return rounded(dt, m, math.max(ca.e, cb.e), special, nonneg)
end

-- ---- unary ----
-- x is the operand's info; dt the result dtype (float ops take int operands as the default float)
local unary = {}

function unary.neg(dt, x)
  if not dt.is_float then
    if dt.is_bool then return int_info(dt, 1) end
    if dt.is_unsigned then return int_info(dt, int_max[dt.name]) end
    return int_info(dt, x.m)
  end
  local r = {}
  for k, v in pairs(x) do r[k] = v end
  r.nonneg = false
  return r
end
function unary.abs(dt, x)
  local r = {}
  for k, v in pairs(x) do r[k] = v end
  r.nonneg = not x.special and (dt.is_float or x.m < int_max[dt.name])
  return r
end
function unary.relu(dt, x)
  local r = {}
  for k, v in pairs(x) do r[k] = v end
  r.nonneg = not x.special
  return r
end
function unary.square(dt, x) return binary.mul(dt, x, x) end
function unary.logical_not(dt) return int_info(dt, 1) end
function unary.bitwise_not(dt, x) if dt.is_bool then return int_info(dt, 1) end return int_info(dt, int_max[dt.name]) end
function unary.isnan(dt) return int_info(dt, 1) end
unary.isinf = unary.isnan
unary.isfinite = unary.isnan

-- rounding to integers and sign jump: exact operands only; the result is integral
local function to_integral(dt, x)
  if not dt.is_float then return x end
  if not x.exact or not representable(dt, math.max(x.d, 1), x.m + 1) then return nil end
  return exact(dt, 0, x.m + 1, x.special, x.zsign, x.nonneg)
end
unary.floor, unary.ceil, unary.round, unary.trunc = to_integral, to_integral, to_integral, to_integral
function unary.sign(dt, x)
  if not dt.is_float then return int_info(dt, 1, x.nonneg) end
  if not x.exact then return nil end
  return exact(dt, 0, 1, x.special, x.zsign, x.nonneg)
end

-- square root and logarithms are not Lipschitz at 0, reciprocal jumps: exact operands only
function unary.sqrt(dt, x)
  if not x.exact then return nil end
  local m = math.sqrt(x.m)
  return rounded(dt, m, 4 * u(dt) * m + tiny(dt), true, not x.special)
end
function unary.reciprocal(dt, x)
  return binary.div(dt, exact(dt, 0, 1), x)
end
local function log_bound(x) return math.max(math.log(math.max(x.m, 1)) / LN2, x.d, 1) + 1 end
function unary.log2(dt, x)
  if not x.exact then return nil end
  local m = log_bound(x)
  return rounded(dt, m, 8 * u(dt) * m + tiny(dt), true, false)
end
function unary.log(dt, x)
  local r = unary.log2(dt, x)
  if r then r.m, r.e = r.m * LN2, r.e * LN2 + 2 * u(dt) * r.m end
  return r
end
-- exp2 and exp: continuous; the result must stay far below overflow
function unary.exp2(dt, x)
  local m = 2 ^ x.m
  return rounded(dt, m, m * (x.e * LN2 * 1.01 + 8 * u(dt)) + tiny(dt), x.special, not x.special)
end
function unary.exp(dt, x)
  local m = math.exp(x.m)
  return rounded(dt, m, m * (x.e * 1.01 + (8 + 2 * x.m) * u(dt)) + tiny(dt), x.special, not x.special)
end
-- sin, cos: argument reduction loses ~|x| ulps; kept to moderate arguments
function unary.sin(dt, x)
  if x.m > 64 then return nil end
  return rounded(dt, 1, x.e + u(dt) * (2 * x.m + 8) + tiny(dt), x.special, false)
end
function unary.cos(dt, x)
  local r = unary.sin(dt, x)
  if r then r.e = r.e + 4 * u(dt) end
  return r
end
-- composites of exp with Lipschitz constant <= 1 and results in [-1, 1]
function unary.sigmoid(dt, x) return rounded(dt, 1, x.e + 64 * u(dt) + tiny(dt), x.special, not x.special) end
function unary.tanh(dt, x)
  return rounded(dt, 1, x.e + 64 * u(dt) + tiny(dt), x.special, false)
end

M.unary = unary

-- ---- reductions over n elements ----
function M.reduce(op, x, n, dt)
  x = M.convert(x, dt)  -- sums of small integers widen first
  if not x then return nil end
  if not dt.is_float then
    if op == "sum" then return int_info(dt, x.m * n, x.nonneg) end
    if op == "prod" then return int_info(dt, x.m ^ n, x.nonneg) end
    if n == 0 then return int_info(dt, int_max[dt.name]) end  -- the dtype's lowest (max) or highest (min) value
    return int_info(dt, x.m, x.nonneg)  -- max, min
  end
  if op == "max" or op == "min" then
    local r = {}
    for k, v in pairs(x) do r[k] = v end
    r.zsign = true
    if n == 0 then r.special, r.nonneg = true, false end  -- -inf / +inf
    return r
  end
  if op == "sum" then
    local m = x.m * n
    if x.exact and representable(dt, x.d, m) then return exact(dt, x.d, m, x.special, true, x.nonneg) end
    if not x.exact and x.special then return rounded(dt, m, n * x.e + n * u(dt) * m + tiny(dt), true, x.nonneg) end
    return rounded(dt, m, n * x.e + n * u(dt) * m + n * tiny(dt), x.special, x.nonneg)
  end
  if op == "prod" then
    if not x.exact then return nil end
    local m = x.m ^ n
    return exact_or_rounded(dt, x.d * n, m, x.special, x.zsign, x.nonneg, n + 1)
  end
  if op == "mean" then
    local s = M.reduce("sum", x, n, dt)
    if not s then return nil end
    if n == 0 then return rounded(dt, 0, 0, true, false) end
    return rounded(dt, x.m, s.e / n + 2 * u(dt) * x.m + tiny(dt), x.special, x.nonneg)
  end
  error("model: no rule for reduction " .. op)
end

-- a @ b with inner size k, result dtype dt (products, then a sum over k)
function M.matmul(mg, a, b, k, dt)
  local common = mg.dtypes.promote(a.dt, b.dt)
  local p = M.binop(mg, "mul", a, b, common)
  if not p then return nil end
  return M.reduce("sum", p, k, dt)
end

-- softmax and log_softmax over a dim of n elements
function M.softmax(x, n, dt, log)
  x = M.convert(x, dt)
  if not x or x.m > 60 then return nil end
  if log then
    local m = 2 * x.m + math.log(math.max(n, 1)) + 2
    return rounded(dt, m, 2 * x.e + (m + n + 64) * 2 * u(dt) + tiny(dt), true, false)
  end
  return rounded(dt, 1, 2 * x.e + (n + 64) * u(dt) + tiny(dt), true, true)
end

-- the tolerance between two correct devices' values of a node with info x
function M.tolerance(x)
  if not x.dt.is_float then return 0 end
  if x.exact then return 0 end
  return 2 * x.e
end

return M
