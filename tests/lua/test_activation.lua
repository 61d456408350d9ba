-- Elementwise math (asin acos atan sinh cosh tanh asinh acosh atanh erf expm1 log1p) and the
-- activations. Reference values come from the C library through Lua's math (sin, atan, tanh...),
-- from Python's math module (asinh, acosh, atanh, erf, expm1, log1p: pasted below), or by hand.
-- Inputs are exact in float32, so the only error measured is the implementation's.
local mg = require("moongrad")
local Tensor = mg.Tensor

local NAN, INF = 0 / 0, math.huge

-- Every element within rtol relative error (NaN matches NaN, infinities exactly).
local function rel_close(t, got, want, rtol, msg)
  t.eq(#got, #want, msg)
  for i = 1, #want do
    local g, w = got[i], want[i]
    local ok
    if w ~= w then ok = g ~= g
    elseif w == INF or w == -INF or w == 0 then ok = g == w
    else ok = math.abs(g - w) <= rtol * math.abs(w) end
    if not ok then
      error(string.format("%s: element %d: expected %.17g within %g relative, got %.17g", msg or "", i, w, rtol, g), 2)
    end
  end
end

local function apply(name, xs, ...) local x = Tensor(xs, { dtype = mg.float32 }); return x[name](x, ...):tolist() end

local function map(f, xs)
  local r = {}
  for i, x in ipairs(xs) do r[i] = f(x) end
  return r
end

local POINTS = { -10, -3.5, -1, -0.5, -0.125, -0.0009765625, 0, 0.0009765625, 0.125, 0.5, 0.75, 1, 1.5, 2, 3.5, 10 }

return {
  ["sinh cosh tanh match the C library to 1e-6 relative"] = function(t)
    rel_close(t, apply("sinh", POINTS), map(math.sinh, POINTS), 1e-6, "sinh")
    rel_close(t, apply("cosh", POINTS), map(math.cosh, POINTS), 1e-6, "cosh")
    rel_close(t, apply("tanh", POINTS), map(math.tanh, POINTS), 1e-6, "tanh")
    -- far out: no early overflow, saturation
    rel_close(t, apply("cosh", { 88, -89 }), { math.cosh(88), math.cosh(89) }, 1e-6, "cosh far")
    rel_close(t, apply("sinh", { 1e-30 }), { 1e-30 }, 1e-6, "sinh tiny")
    t.eq(apply("tanh", { 50, -50, 1e30 }), { 1, -1, 1 })
    -- float16: expm1(2|x|) overflows past 11; tanh must saturate, not turn NaN
    local h = Tensor({ -9, -5.5, -4, 4, 5.5, 9, 1000 }, { dtype = mg.float16 }):tanh():totable()
    t.eq({ h[1], h[2], h[5], h[6], h[7] }, { -1, -1, 1, 1, 1 })
    t.near(h[4], math.tanh(4), 1e-3)
    t.near(h[3], -math.tanh(4), 1e-3)
  end,

  ["atan asin acos match the C library to 1e-6 relative"] = function(t)
    local big = { -1e30, -100, -2.5, 2.4140625, 3, 1e6 }
    rel_close(t, apply("atan", POINTS), map(math.atan, POINTS), 1e-6, "atan")
    rel_close(t, apply("atan", big), map(math.atan, big), 1e-6, "atan large")
    local unit = { -1, -0.9990234375, -0.75, -0.5, -0.0009765625, 0, 0.125, 0.5, 0.9990234375, 1 }
    rel_close(t, apply("asin", unit), map(math.asin, unit), 1e-6, "asin")
    rel_close(t, apply("acos", unit), map(math.acos, unit), 1e-6, "acos")
    t.eq(apply("acos", { 1 }), { 0 })
    rel_close(t, apply("acos", { -1 }), { math.pi }, 1e-7, "acos(-1)")
  end,

  ["asinh acosh atanh match Python's math to 1e-6 relative"] = function(t)
    rel_close(t, apply("asinh", { -10, -0.5, 0.0009765625, 0.125, 1, 3.5, 100 }),
      { -2.99822295029797, -0.48121182505960347, 0.0009765623447796375, 0.12467674692144273,
        0.881373587019543, 1.9657204716496515, 5.298342365610589 }, 1e-6, "asinh")
    rel_close(t, apply("acosh", { 1, 1.0009765625, 1.5, 2, 10, 1000 }),
      { 0, 0.044190578083110096, 0.9624236501192069, 1.3169578969248166, 2.993222846126381,
        7.600902209541989 }, 1e-6, "acosh")
    rel_close(t, apply("atanh", { -0.75, -0.0009765625, 0.0009765625, 0.125, 0.5, 0.9375, 0.9990234375 }),
      { -0.9729550745276566, -0.000976562810441036, 0.000976562810441036, 0.12565721414045303,
        0.5493061443340548, 1.7169936022425731, 3.8120652928306447 }, 1e-6, "atanh")
  end,

  ["erf matches Python's math.erf to 1e-6 relative"] = function(t)
    rel_close(t, apply("erf", { -2, -0.5, 0.0009765625, 0.125, 0.5, 1, 1.5, 2, 3, 3.5, 6 }),
      { -0.9953222650189527, -0.5204998778130465, 0.0011019324300718147, 0.1403162048013338,
        0.5204998778130465, 0.8427007929497149, 0.9661051464753108, 0.9953222650189527,
        0.9999779095030014, 0.9999992569016276, 1 }, 1e-6, "erf")
  end,

  ["expm1 and log1p keep their accuracy near 0"] = function(t)
    local xs = { -2, -0.5, -0.0009765625, 2 ^ -20, 0.25, 0.75, 5 }
    rel_close(t, apply("expm1", xs),
      map(function(x) return x == 2 ^ -20 and 9.536747711537455e-07 or x == -0.0009765625 and -0.0009760858180243377 or math.exp(x) - 1 end, xs),
      1e-6, "expm1")
    rel_close(t, apply("log1p", { -0.5, -0.0009765625, 2 ^ -20, 0.25, 0.5, 3 }),
      { math.log(0.5), -0.0009770396478266127, 9.536738616591883e-07, math.log(1.25), math.log(1.5), math.log(4) },
      1e-6, "log1p")
  end,

  ["special values: domains, infinities and NaN"] = function(t)
    rel_close(t, apply("sinh", { INF, -INF, NAN }), { INF, -INF, NAN }, 0, "sinh")
    rel_close(t, apply("cosh", { INF, -INF, NAN }), { INF, INF, NAN }, 0, "cosh")
    rel_close(t, apply("tanh", { INF, -INF, NAN }), { 1, -1, NAN }, 0, "tanh")
    rel_close(t, apply("asinh", { INF, -INF, NAN }), { INF, -INF, NAN }, 0, "asinh")
    rel_close(t, apply("acosh", { 0.5, -2, INF, NAN }), { NAN, NAN, INF, NAN }, 0, "acosh")
    rel_close(t, apply("atanh", { 1, -1, 1.5, NAN }), { INF, -INF, NAN, NAN }, 0, "atanh")
    rel_close(t, apply("atan", { INF, -INF, NAN }), { math.pi / 2, -math.pi / 2, NAN }, 1e-7, "atan")
    rel_close(t, apply("asin", { 1.5, -2, NAN }), { NAN, NAN, NAN }, 0, "asin")
    rel_close(t, apply("acos", { 1.5, NAN }), { NAN, NAN }, 0, "acos")
    rel_close(t, apply("erf", { INF, -INF, NAN }), { 1, -1, NAN }, 0, "erf")
    rel_close(t, apply("log1p", { -1, -2, INF }), { -INF, NAN, INF }, 0, "log1p")
    rel_close(t, apply("expm1", { -INF, INF }), { -1, INF }, 0, "expm1")
  end,

  ["math on integer tensors gives floats"] = function(t)
    local r = Tensor{0, 1}:atan()
    t.eq(r.dtype, mg.float32)
    rel_close(t, r:tolist(), { 0, math.pi / 4 }, 1e-7, "atan int")
    t.eq(Tensor({0.5}, { dtype = mg.float64 }):erf().dtype, mg.float64)
  end,

  ["relu family, hardtanh, leaky_relu by hand"] = function(t)
    local x = Tensor{-7, -2, -0.5, 0, 0.5, 3, 7}
    t.eq(x:relu():tolist(), {0, 0, 0, 0, 0.5, 3, 7})
    t.eq(x:relu6():tolist(), {0, 0, 0, 0, 0.5, 3, 6})
    t.eq(x:hardtanh():tolist(), {-1, -1, -0.5, 0, 0.5, 1, 1})
    t.eq(x:hardtanh(-2, 4):tolist(), {-2, -2, -0.5, 0, 0.5, 3, 4})
    t.allclose(x:leaky_relu():tolist(), {-0.07, -0.02, -0.005, 0, 0.5, 3, 7}, 1e-7)
    t.allclose(x:leaky_relu(0.5):tolist(), {-3.5, -1, -0.25, 0, 0.5, 3, 7}, 1e-7)
    -- integers stay integers; NaN stays NaN
    local i = Tensor{-3, 4}:relu()
    t.eq(i.dtype, mg.int32)
    t.eq(i:tolist(), {0, 4})
    rel_close(t, Tensor{NAN}:relu():tolist(), {NAN}, 0, "relu NaN")
    t.raises(function() return x:hardtanh(2, 1) end, "hardtanh: min 2 is above max 1")
  end,

  ["sigmoid family by hand"] = function(t)
    rel_close(t, Tensor{0, 1, -1, 30, -30}:sigmoid():tolist(),
      {0.5, 0.7310585786300049, 0.2689414213699951, 1, 9.357622968839299e-14}, 1e-6, "sigmoid")
    rel_close(t, Tensor{-200, 200}:sigmoid():tolist(), {0, 1}, 0, "sigmoid saturates without NaN")
    rel_close(t, Tensor{-3, -1, 0, 1, 3, 5}:hardsigmoid():tolist(), {0, 2 / 6, 0.5, 4 / 6, 1, 1}, 1e-6, "hardsigmoid")
    rel_close(t, Tensor{0, -2, 3, -100}:logsigmoid():tolist(),
      {-0.6931471805599453, -2.1269280110429727, -0.04858735157374206, -100}, 1e-6, "logsigmoid")
    rel_close(t, Tensor{0, 1, -30, 100}:softplus():tolist(), {0.6931471805599453, 1.3132616875182228, 9.357622968839299e-14, 100}, 1e-6, "softplus")
    rel_close(t, Tensor{1}:softplus(2):tolist(), {1.0634640055214863}, 1e-6, "softplus beta 2")
    rel_close(t, Tensor{1, -2, 0}:silu():tolist(), {0.7310585786300049, -0.2384058440442351, 0}, 1e-6, "silu")
    t.eq(Tensor{1, -2}:swish():tolist(), Tensor{1, -2}:silu():tolist())
    rel_close(t, Tensor{3, -1}:softsign():tolist(), {0.75, -0.5}, 1e-7, "softsign")
  end,

  ["elu celu selu by hand"] = function(t)
    rel_close(t, Tensor{-1, 0, 2}:elu():tolist(), {-0.6321205588285577, 0, 2}, 1e-6, "elu")
    rel_close(t, Tensor{-1}:elu(2):tolist(), {2 * -0.6321205588285577}, 1e-6, "elu alpha 2")
    rel_close(t, Tensor{-1, 3}:celu(2):tolist(), {-0.7869386805747332, 3}, 1e-6, "celu")
    rel_close(t, Tensor{-1, 1, -1e-6}:selu():tolist(), {-1.1113307378125625, 1.0507009873554805, -1.7580984573592296e-06}, 1e-6, "selu")
    t.raises(function() return Tensor{1}:celu(0) end, "celu: alpha must not be 0")
  end,

  ["gelu (tanh approximation), quick_gelu, mish, hardswish by hand"] = function(t)
    -- 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), also written out here with Lua's math.tanh
    local function gelu(x) return 0.5 * x * (1 + math.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ^ 3))) end
    rel_close(t, Tensor{1, -1, 2}:gelu():tolist(), {0.8411919906082768, -0.15880800939172324, 1.954597694087775}, 1e-6, "gelu")
    rel_close(t, Tensor{0.25, -3, 4}:gelu():tolist(), {gelu(0.25), gelu(-3), gelu(4)}, 1e-5, "gelu formula")
    t.eq(Tensor{0}:gelu():tolist(), {0})
    rel_close(t, Tensor{1, 0}:quick_gelu():tolist(), {0.8457957659328212, 0}, 1e-6, "quick_gelu")
    rel_close(t, Tensor{1, -1}:mish():tolist(), {0.8650983882673103, -0.30340146137410895}, 1e-6, "mish")
    rel_close(t, Tensor{-4, -3, -1, 0, 1, 3, 4}:hardswish():tolist(), {0, 0, -1 / 3, 0, 2 / 3, 3, 4}, 1e-6, "hardswish")
  end,

  ["activations take a tensor"] = function(t)
    t.raises(function() return Tensor.sigmoid(3) end, "expected a tensor")
  end,
}
