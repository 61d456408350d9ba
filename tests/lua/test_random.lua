-- randn, randint, uniform, normal, kaiming_uniform, glorot_uniform: reproducibility, ranges,
-- moments of large samples, dtypes and devices. Bounds are written out by hand.
local mg = require("moongrad")
local Tensor = mg.Tensor

local function moments(list)
  local n, s, s2, lo, hi = #list, 0, 0, math.huge, -math.huge
  for i = 1, n do
    local v = list[i]
    s, s2 = s + v, s2 + v * v
    if v < lo then lo = v end
    if v > hi then hi = v end
  end
  local mean = s / n
  return mean, math.sqrt(math.max(s2 / n - mean * mean, 0)), lo, hi
end

return {
  ["randn: standard normal, reproducible with manual_seed"] = function(t)
    mg.manual_seed(7)
    local a = Tensor.randn(20000):tolist()
    mg.manual_seed(7)
    local b = Tensor.randn(20000):tolist()
    t.eq(a, b)
    local c = Tensor.randn(20000):tolist()
    t.truthy(c[1] ~= b[1] or c[2] ~= b[2], "the next call gives new values")
    local mean, std, lo, hi = moments(a)
    t.near(mean, 0, 0.03)
    t.near(std, 1, 0.03)
    t.truthy(lo > -6 and hi < 6 and lo < -2.5 and hi > 2.5)
    local within = 0
    for _, v in ipairs(a) do if math.abs(v) <= 1 then within = within + 1 end end
    t.near(within / #a, 0.6827, 0.02)
    local negative = 0
    for _, v in ipairs(a) do if v < 0 then negative = negative + 1 end end
    t.near(negative / #a, 0.5, 0.02)
  end,

  ["randn: shapes, dtypes and devices"] = function(t)
    t.eq(Tensor.randn(2, 3).shape, {2, 3})
    t.eq(Tensor.randn{4, 1, 2}.shape, {4, 1, 2})
    t.eq(Tensor.randn(2, 3).dtype, mg.float32)
    t.eq(Tensor.randn(3, {dtype = mg.float16}).dtype, mg.float16)
    t.eq(Tensor.randn({3}, {dtype = mg.float64}).dtype, mg.float64)
    t.eq(Tensor.randn(3, {device = "REF"}).device, "REF")
    t.eq(Tensor.randn(0, 3).shape, {0, 3})
    t.eq(Tensor.randn().shape, {})
    local h = Tensor.randn(1000, {dtype = mg.float64}):tolist()
    for _, v in ipairs(h) do t.truthy(v == v and math.abs(v) < 10) end
    t.raises(function() return Tensor.randn(2, -1) end, "randn: sizes must be integers >= 0")
  end,

  ["uniform: in [low, high) with the right moments"] = function(t)
    mg.manual_seed(3)
    local a = Tensor.uniform({20000}, -2, 5):tolist()
    mg.manual_seed(3)
    t.eq(Tensor.uniform({20000}, -2, 5):tolist(), a)
    local mean, std, lo, hi = moments(a)
    t.truthy(lo >= -2 and hi < 5)
    t.truthy(lo < -1.99 and hi > 4.99)
    t.near(mean, 1.5, 0.05)
    t.near(std, 2.0207, 0.03)  -- 7 / sqrt(12)
    local d = Tensor.uniform({1000}):tolist()
    local _, _, dlo, dhi = moments(d)
    t.truthy(dlo >= 0 and dhi < 1, "defaults to [0, 1)")
    t.eq(Tensor.uniform({2, 2}, 0, 1, {dtype = mg.float64}).dtype, mg.float64)
    t.eq(Tensor.uniform({2}, {dtype = mg.float16}).dtype, mg.float16)
    t.raises(function() return Tensor.uniform({2}, 1, 0) end, "uniform: high 0 is less than low 1")
    t.raises(function() return Tensor.uniform(2, 0, 1) end, "uniform: expected a shape")
  end,

  ["normal: mean and std"] = function(t)
    mg.manual_seed(11)
    local a = Tensor.normal({20000}, 3, 2):tolist()
    local mean, std = moments(a)
    t.near(mean, 3, 0.06)
    t.near(std, 2, 0.06)
    local z = Tensor.normal({20000}):tolist()
    local zm, zs = moments(z)
    t.near(zm, 0, 0.03)
    t.near(zs, 1, 0.03)
    local c = Tensor.normal({100}, -1, 0):tolist()
    for _, v in ipairs(c) do t.eq(v, -1) end
    t.eq(Tensor.normal({2}, 0, 1, {dtype = mg.float64}).dtype, mg.float64)
    t.raises(function() return Tensor.normal({2}, 0, -1) end, "normal: std must be >= 0")
  end,

  ["randint: integers in [low, high), int32 unless asked"] = function(t)
    mg.manual_seed(5)
    local x = Tensor.randint({20000}, -3, 4)
    t.eq(x.dtype, mg.int32)
    local a = x:tolist()
    mg.manual_seed(5)
    t.eq(Tensor.randint({20000}, -3, 4):tolist(), a)
    local count = {}
    for _, v in ipairs(a) do
      t.truthy(v == math.floor(v) and v >= -3 and v <= 3)
      count[v] = (count[v] or 0) + 1
    end
    for v = -3, 3 do t.near(count[v] / #a, 1 / 7, 0.015) end
    local mean, std = moments(a)
    t.near(mean, 0, 0.05)
    t.near(std, 2, 0.05)  -- sqrt((7^2 - 1) / 12)
    local b = Tensor.randint({1000}, 2):tolist()
    for _, v in ipairs(b) do t.truthy(v == 0 or v == 1) end
    t.eq(Tensor.randint({3}, 0, 1):tolist(), {0, 0, 0})
    t.eq(Tensor.randint({2, 2}, 0, 10, {dtype = mg.int64}).dtype, mg.int64)
    t.eq(Tensor.randint({2}, 10, {dtype = mg.uint8}).dtype, mg.uint8)
    t.raises(function() return Tensor.randint({2}, 5, 5) end, "randint: high 5 must be greater than low 5")
    t.raises(function() return Tensor.randint({2}, 0.5, 5) end, "randint: low and high must be integers")
  end,

  ["kaiming_uniform: torch's bound sqrt(3) * gain / sqrt(fan_in)"] = function(t)
    mg.manual_seed(1)
    -- default a = sqrt(5): bound = 1 / sqrt(fan_in); fan_in = 8 * 3 * 3 = 72
    local w = Tensor.kaiming_uniform(32, 8, 3, 3)
    t.eq(w.shape, {32, 8, 3, 3})
    local _, std, lo, hi = moments(w:reshape(-1):tolist())
    local bound = 0.11785113  -- 1 / sqrt(72)
    t.truthy(lo >= -bound - 1e-7 and hi <= bound + 1e-7)
    t.truthy(lo < -0.95 * bound and hi > 0.95 * bound)
    t.near(std, bound / math.sqrt(3), 0.004)
    -- a = 0: bound = sqrt(6 / fan_in), fan_in = 50
    local flat = Tensor.kaiming_uniform({100, 50}, {a = 0}):tolist()
    local _, _, llo, lhi = moments(flat)
    t.truthy(llo >= -0.34641017 and lhi <= 0.34641017)
    t.truthy(llo < -0.33 and lhi > 0.33)
    t.eq(Tensor.kaiming_uniform({4, 4}, {dtype = mg.float64}).dtype, mg.float64)
    mg.manual_seed(9)
    local p = Tensor.kaiming_uniform(4, 4):tolist()
    mg.manual_seed(9)
    t.eq(Tensor.kaiming_uniform(4, 4):tolist(), p)
    t.raises(function() return Tensor.kaiming_uniform({5}) end, "kaiming_uniform: needs a shape of at least 2 dims")
  end,

  ["glorot_uniform: torch's xavier bound sqrt(6 / (fan_in + fan_out))"] = function(t)
    mg.manual_seed(2)
    local w = Tensor.glorot_uniform({100, 50}):reshape(-1):tolist()
    local _, _, lo, hi = moments(w)
    t.truthy(lo >= -0.2 - 1e-7 and hi <= 0.2 + 1e-7)  -- sqrt(6 / 150)
    t.truthy(lo < -0.19 and hi > 0.19)
    -- conv weights: fan_in = 4 * 9 = 36, fan_out = 8 * 9 = 72: bound sqrt(6 / 108)
    local c = Tensor.glorot_uniform(8, 4, 3, 3):reshape(-1):tolist()
    local _, _, clo, chi = moments(c)
    t.truthy(clo >= -0.23570227 and chi <= 0.23570227)
    t.truthy(clo < -0.2 and chi > 0.2)
    t.eq(Tensor.glorot_uniform({3, 3}, {dtype = mg.float16}).dtype, mg.float16)
    t.raises(function() return Tensor.glorot_uniform({3}) end, "glorot_uniform: needs a shape of at least 2 dims")
  end,
}
