-- Elementwise math beyond ops_arith (asin acos atan sinh cosh tanh asinh acosh atanh erf, and
-- expm1/log1p) and the activations, all on top of exp/log/sqrt and plain arithmetic.
--
-- Accuracy target: float32 to ~1e-6 relative (see docs/processing.md for the measured errors).
-- Where a textbook identity loses digits (exp(x) - 1 near 0, log(1 + x) near 0, ...), a short
-- series takes over on a small interval. Every branch is fed an input that is valid for it
-- (where(cond, x, safe)), so the branch that `where` drops has no inf or NaN in it, and its
-- gradient is an exact zero. NaN inputs give NaN.
local T = require("moongrad.tensor")
local Tensor = T.Tensor
local where = Tensor.where

local LN2, PI = math.log(2), math.pi
local NAN = 0 / 0

local function float_of(t)
  if not T.is_tensor(t) then error("expected a tensor, got " .. type(t), 3) end
  return T.float_of(t)
end

-- c[1] + c[2] x + c[3] x^2 + ... by Horner's rule (c: Lua numbers).
local function horner(x, c)
  local r = x * c[#c] + c[#c - 1]
  for k = #c - 2, 1, -1 do r = r * x + c[k] end
  return r
end

-- sign(x) * r, written so that -0 and NaN pass through r.
local function with_sign(x, r) return where(x:lt(0), -r, r) end

-- ---- exp with a reduced argument, expm1 and log1p ----
-- e^a * 2^shift, to ~2e-7 relative over the whole range: e^a = 2^n e^r with n = round(a / ln 2)
-- and r = a - n ln 2 in [-0.35, 0.35] (ln 2 split in two so that n ln2_hi is exact). Plain
-- exp(a) loses ~|a| * 6e-8 to the rounding of a / ln 2 (1.8e-6 at a = 30).
local LN2_HI, LN2_LO = 0.693145751953125, 1.4286068202862268e-6
local function exp_scaled(a, shift)
  a = where(a:gt(200), 200, where(a:lt(-200), -200, a))  -- +-inf end as inf / 0, not inf - inf
  local n = (a * (1 / LN2)):round()
  local r = a - n * LN2_HI - n * LN2_LO
  return (shift == 0 and n or n + shift):exp2() * r:exp()
end
local function half_exp(a) return exp_scaled(a, -1) end

-- expm1: x (1 + x/2! + x^2/3! + ... + x^9/10!) for |x| < 1/2 (truncation < 1e-10 relative),
-- e^x - 1 elsewhere (there at most a factor 2.5 is lost to cancellation).
local EXPM1 = {}
do
  local f = 1
  for k = 1, 10 do f = f * k; EXPM1[k] = 1 / f end  -- 1/1!, 1/2!, ..., 1/10!
end
function Tensor.expm1(t)
  local x = float_of(t)
  local small = x:abs():lt(0.5)
  local xs = where(small, x, 0)
  local xb = where(small, 1, x)
  return where(small, xs * horner(xs, EXPM1), exp_scaled(xb, 0) - 1)
end

-- log1p: with s = x / (2 + x), log(1 + x) = 2 atanh(s) = 2 (s + s^3/3 + s^5/5 + ...). For
-- 1 + x in [sqrt(1/2), sqrt(2)] |s| <= 0.1716 and seven terms leave < 1e-11 relative;
-- outside, log(1 + x) loses nothing that matters (|log(1 + x)| >= 0.34).
local LOG1P = {}
for k = 0, 6 do LOG1P[k + 1] = 2 / (2 * k + 1) end
local LOG1P_LO, LOG1P_HI = math.sqrt(0.5) - 1, math.sqrt(2) - 1
function Tensor.log1p(t)
  local x = float_of(t)
  local small = x:gt(LOG1P_LO):logical_and(x:lt(LOG1P_HI))
  local xs = where(small, x, 0)
  local xb = where(small, 1, x)
  local s = xs / (xs + 2)
  return where(small, s * horner(s * s, LOG1P), (xb + 1):log())
end

-- ---- hyperbolic functions ----

-- With E = expm1(|x|): sinh|x| = (E + E / (E + 1)) / 2, good to the last digits near 0;
-- for |x| >= 1, h - 1/(4h) with h = e^|x| / 2 (reaches the top of the range without
-- overflowing early).
function Tensor.sinh(t)
  local x = float_of(t)
  local ax = x:abs()
  local small = ax:lt(1)
  local e = Tensor.expm1(where(small, ax, 0))
  local h = half_exp(where(small, 1, ax))
  return with_sign(x, where(small, (e + e / (e + 1)) * 0.5, h - 0.25 / h))
end

function Tensor.cosh(t)
  local h = half_exp(float_of(t):abs())
  return h + 0.25 / h
end

-- tanh|x| = E / (E + 2) with E = expm1(2|x|); past |x| = 20 it is 1 to double precision.
function Tensor.tanh(t)
  local x = float_of(t)
  local ax = x:abs()
  -- past `big`, tanh is 1 at the dtype's precision; capping there keeps expm1 finite (float16
  -- overflows above 11)
  local big = x.dtype == T.dtypes.float16 and 5 or 20
  local e = Tensor.expm1(where(ax:gt(big), 2 * big, ax * 2))
  return with_sign(x, e / (e + 2))
end

-- asinh|x| = log1p(|x| + x^2 / (1 + sqrt(1 + x^2))); past 2^28, log|x| + ln 2.
local BIG = 2 ^ 28
function Tensor.asinh(t)
  local x = float_of(t)
  local ax = x:abs()
  local big = ax:gt(BIG)
  local a = where(big, 0, ax)
  local a2 = a * a
  local small = Tensor.log1p(a + a2 / ((a2 + 1):sqrt() + 1))
  return with_sign(x, where(big, where(big, ax, 1):log() + LN2, small))
end

-- acosh x = log1p(t + sqrt(t (x + 1))) with t = x - 1 (exact near 1); NaN below 1.
function Tensor.acosh(t)
  local x = float_of(t)
  local big = x:gt(BIG)
  local a = where(big, 1, x)
  local u = a - 1
  local r = where(big, where(big, x, 1):log() + LN2, Tensor.log1p(u + (u * (a + 1)):sqrt()))
  return where(x:lt(1), NAN, r)
end

-- atanh|x| = log1p(2|x| / (1 - |x|)) / 2: inf at 1, NaN beyond.
function Tensor.atanh(t)
  local x = float_of(t)
  local ax = x:abs()
  return with_sign(x, Tensor.log1p(ax * 2 / (1 - ax)) * 0.5)
end

-- ---- inverse trigonometric functions ----
-- atan on |y| <= tan(pi/8): y (1 - y^2/3 + y^4/5 - ... - y^18/19), truncation < 1e-9 relative.
-- Reduction: atan x = pi/4 + atan((x - 1)/(x + 1)) for tan(pi/8) < x <= tan(3pi/8), and
-- pi/2 - atan(1/x) above.
local ATAN = {}
for k = 0, 9 do ATAN[k + 1] = (k % 2 == 0 and 1 or -1) / (2 * k + 1) end
local TAN_PI_8, TAN_3PI_8 = math.sqrt(2) - 1, math.sqrt(2) + 1
local function atan_series(y) return y * horner(y * y, ATAN) end

function Tensor.atan(t)
  local x = float_of(t)
  local ax = x:abs()
  local low = ax:le(TAN_PI_8)
  local mid = ax:le(TAN_3PI_8)
  local r1 = atan_series(where(low, ax, 0))
  local m = where(low:logical_or(mid:logical_not()), 1, ax)
  local r2 = atan_series((m - 1) / (m + 1)) + PI / 4
  local r3 = -atan_series(1 / where(mid, 3, ax)) + PI / 2  -- 1/NaN keeps NaN, 1/inf gives pi/2
  return with_sign(x, where(low, r1, where(mid, r2, r3)))
end

-- asin x = atan(x / sqrt((1 - x)(1 + x))), acos x = 2 atan(sqrt((1 - x)/(1 + x))): both
-- keep their relative accuracy near 0 and near +-1 (1 - x and 1 + x are exact there).
function Tensor.asin(t)
  local x = float_of(t)
  return Tensor.atan(x / ((1 - x) * (x + 1)):sqrt())
end

function Tensor.acos(t)
  local x = float_of(t)
  return Tensor.atan(((1 - x) / (x + 1)):sqrt()) * 2
end

-- ---- erf ----
-- |x| < 1: the Maclaurin series 2/sqrt(pi) sum (-1)^n x^(2n+1) / (n! (2n+1)), n <= 11
-- (truncation < 1e-9 relative). 1 <= |x| < 4: erfc x = exp(-x^2) g(x), with g(x) =
-- erfc(x) exp(x^2) as a degree-12 Chebyshev series on [1, 4] (fitted by us to Python's
-- math.erfc at 64 Chebyshev nodes; relative error of g < 1e-8). |x| >= 4: 1 (erfc 4 < 2e-8).
local ERF = {}
do
  local nf = 1
  for n = 0, 11 do
    if n > 0 then nf = nf * n end
    ERF[n + 1] = (n % 2 == 0 and 1 or -1) * 2 / math.sqrt(PI) / (nf * (2 * n + 1))
  end
end
local ERFC_CHEB = {
  0.24442575284923568, -0.13589862891594603, 0.03563511414853493, -0.0088840986182224402,
  0.0021184239975531108, -0.00048539876408003509, 0.00010727375453769249, -2.2936634481858856e-05,
  4.756874691565563e-06, -9.5899448338508664e-07, 1.8829006876754095e-07, -3.6063206507869205e-08,
  6.7476020864515318e-09,
}
-- sum c[k+1] T_k(u) for u in [-1, 1] (Clenshaw's recurrence)
local function chebyshev(u, c)
  local b1 = u * 0 + c[#c]
  local b2 = u * 0
  local u2 = u * 2
  for k = #c - 1, 2, -1 do b1, b2 = u2 * b1 - b2 + c[k], b1 end
  return u * b1 - b2 + c[1]
end

function Tensor.erf(t)
  local x = float_of(t)
  local ax = x:abs()
  local small = ax:lt(1)
  local big = ax:ge(4)
  local xs = where(small, ax, 0)
  local r1 = xs * horner(xs * xs, ERF)
  local a = where(small:logical_or(big), 1, ax)
  local r2 = 1 - (-(a * a)):exp() * chebyshev((a * 2 - 5) / 3, ERFC_CHEB)
  return with_sign(x, where(small, r1, where(big, 1, r2)))
end

-- ---- activations ----
-- lo where x < lo, hi where x > hi, else x (NaN stays NaN).
function Tensor.hardtanh(t, lo, hi)
  lo, hi = lo or -1, hi or 1
  if lo > hi then error(string.format("hardtanh: min %s is above max %s", lo, hi), 2) end
  return where(t:lt(lo), lo, where(t:gt(hi), hi, t))
end

function Tensor.relu(t) return where(t:lt(0), 0, t) end
function Tensor.relu6(t) return Tensor.hardtanh(t, 0, 6) end
function Tensor.leaky_relu(t, slope)
  slope = slope or 0.01
  return where(t:lt(0), t * slope, t)
end

-- alpha (e^x - 1) for x <= 0
function Tensor.elu(t, alpha)
  local x = float_of(t)
  alpha = alpha or 1
  local neg = x:le(0)
  return where(neg, Tensor.expm1(where(neg, x, 0)) * alpha, x)
end

-- alpha (e^(x/alpha) - 1) for x <= 0
function Tensor.celu(t, alpha)
  local x = float_of(t)
  alpha = alpha or 1
  if alpha == 0 then error("celu: alpha must not be 0", 2) end
  local neg = x:le(0)
  return where(neg, Tensor.expm1(where(neg, x, 0) / alpha) * alpha, x)
end

local SELU_ALPHA, SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
function Tensor.selu(t) return Tensor.elu(t, SELU_ALPHA) * SELU_SCALE end

-- 1 / (1 + e^-x) for x >= 0 and e^x / (1 + e^x) below, both from z = e^-|x| in (0, 1]:
-- no overflow anywhere, and no inf/inf in the gradient.
function Tensor.sigmoid(t)
  local x = float_of(t)
  local z = exp_scaled(-x:abs(), 0)
  local d = z + 1
  return where(x:ge(0), 1 / d, z / d)
end

-- torch's: relu6(x + 3) / 6
function Tensor.hardsigmoid(t) return Tensor.hardtanh(float_of(t) + 3, 0, 6) / 6 end
function Tensor.hardswish(t)
  local x = float_of(t)
  return x * Tensor.hardtanh(x + 3, 0, 6) / 6
end

-- log(1 + e^(beta x)) / beta = (max(beta x, 0) + log1p(e^-|beta x|)) / beta: exact for large
-- |x| both ways (no threshold switch as in torch; the two agree to 2e-9 relative there).
function Tensor.softplus(t, beta)
  beta = beta or 1
  if beta == 0 then error("softplus: beta must not be 0", 2) end
  local x = float_of(t)
  local bx = beta == 1 and x or x * beta
  local r = Tensor.relu(bx) + Tensor.log1p(exp_scaled(-bx:abs(), 0))
  return beta == 1 and r or r / beta
end

function Tensor.logsigmoid(t) return -Tensor.softplus(-float_of(t)) end
function Tensor.softsign(t)
  local x = float_of(t)
  return x / (x:abs() + 1)
end
function Tensor.silu(t)
  local x = float_of(t)
  return x * Tensor.sigmoid(x)
end
Tensor.swish = Tensor.silu

-- The tanh approximation (tinygrad's and torch's approximate="tanh"):
-- 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), computed as x sigmoid(2u) (the same value,
-- without 1 + tanh cancelling for negative x).
local GELU_K = math.sqrt(2 / PI)
function Tensor.gelu(t)
  local x = float_of(t)
  local u = x * (x * x * 0.044715 + 1) * (2 * GELU_K)
  return x * Tensor.sigmoid(u)
end
function Tensor.quick_gelu(t)
  local x = float_of(t)
  return x * Tensor.sigmoid(x * 1.702)
end
function Tensor.mish(t)
  local x = float_of(t)
  return x * Tensor.tanh(Tensor.softplus(x))
end

return Tensor
