-- mg.nn: layers against hand-computed values, initialization ranges and statistics, training
-- mode, parameters / state_dict / load_state_dict. Expected values are worked out by hand (in
-- the comments) or by plain Lua loops in float64 written here from the definitions.
local mg = require("moongrad")
local Tensor, nn = mg.Tensor, mg.nn

-- ---- helpers ----
local function set(p, v)  -- gives a parameter known values, keeping requires_grad
  p:assign(Tensor(v, { dtype = p.dtype }))
  return p
end

-- mean, variance (biased), min, max of a tensor's values
local function stats(t)
  local v = t:tolist()
  local s, lo, hi = 0, math.huge, -math.huge
  for _, x in ipairs(v) do s = s + x; lo = math.min(lo, x); hi = math.max(hi, x) end
  local mean = s / #v
  local q = 0
  for _, x in ipairs(v) do q = q + (x - mean) ^ 2 end
  return mean, q / #v, lo, hi
end

-- BatchNorm by its definition over an {N, C, ...} nested table given flat per channel:
-- values[c] lists every element of channel c.
local function channel_stats(values)
  local n, s = #values, 0
  for _, x in ipairs(values) do s = s + x end
  local mean = s / n
  local q = 0
  for _, x in ipairs(values) do q = q + (x - mean) ^ 2 end
  return mean, q / n, q / (n - 1)
end

-- the same seed for every init test, so they are reproducible
local function seeded() mg.manual_seed(1234) end

return {
  -- ---- Linear ----
  ["Linear: x w^T + b"] = function(t)
    local l = nn.Linear(2, 3)
    set(l.weight, { { 1, 2 }, { 3, 4 }, { 5, 6 } })
    set(l.bias, { 0.5, -1, 2 })
    -- row {1, -1}: {1-2, 3-4, 5-6} + b = {-0.5, -2, 1}; row {2, 0.5}: {3, 8, 13} + b
    t.allclose(l(Tensor{ { 1, -1 }, { 2, 0.5 } }):totable(), { { -0.5, -2, 1 }, { 3.5, 7, 15 } })
    t.eq(l.weight.shape, { 3, 2 })
    t.eq(l.in_features, 2)
    t.eq(l.out_features, 3)
  end,

  ["Linear: without bias"] = function(t)
    local l = nn.Linear(2, 2, { bias = false })
    t.eq(l.bias, nil)
    t.eq(nn.Linear(2, 2, false).bias, nil)
    set(l.weight, { { 1, 0 }, { 0, 2 } })
    t.allclose(l(Tensor{ 3, 4.5 }):totable(), { 3, 9 })
    t.eq(#nn.parameters(l), 1)
  end,

  ["Linear: init is U(-1/sqrt(in), 1/sqrt(in)) for weight and bias, requires_grad"] = function(t)
    seeded()
    local l = nn.Linear(64, 256)
    local bound = 1 / 8
    t.eq(l.weight.shape, { 256, 64 })
    t.eq(l.bias.shape, { 256 })
    t.truthy(l.weight.requires_grad)
    t.truthy(l.bias.requires_grad)
    local mean, var, lo, hi = stats(l.weight)
    t.truthy(lo >= -bound and hi <= bound, "weight within the bound")
    t.truthy(lo < -0.95 * bound and hi > 0.95 * bound, "weight fills the range")
    t.near(mean, 0, 0.005)
    t.near(var, bound * bound / 3, 0.1 * bound * bound / 3)  -- U(-a, a) has variance a^2/3
    local _, _, blo, bhi = stats(l.bias)
    t.truthy(blo >= -bound and bhi <= bound, "bias within the bound")
    t.truthy(blo < -0.8 * bound and bhi > 0.8 * bound, "bias fills the range")
    t.eq(l.weight.dtype, mg.float32)
  end,

  ["Linear: bad sizes and inputs name the layer"] = function(t)
    t.raises(function() nn.Linear(0, 3) end, "Linear: in_features must be an integer >= 1, got 0")
    t.raises(function() nn.Linear(2, 2.5) end, "Linear: out_features must be an integer >= 1")
    t.raises(function() nn.Linear(2, 2, { bais = false }) end, "Linear: unknown option 'bais'")
    t.raises(function() nn.Linear(2, 3)(Tensor.ones(4, 5)) end, "linear: weight {3, 2} expects 2 input features, got {4, 5}")
    t.raises(function() nn.Linear(2, 3)(5) end, "Linear: input must be a tensor, got number")
  end,

  ["Linear: dtype option"] = function(t)
    local l = nn.Linear(3, 2, { dtype = mg.float64 })
    t.eq(l.weight.dtype, mg.float64)
    t.eq(l.bias.dtype, mg.float64)
  end,

  -- ---- Conv2d ----
  ["Conv2d: output of a 2x2 kernel with bias"] = function(t)
    local c = nn.Conv2d(1, 1, 2)
    set(c.weight, { { { { 1, 0 }, { 0, -1 } } } })
    set(c.bias, { 0.5 })
    local x = Tensor{ { { { 1, 2, 3 }, { 4, 5, 6 }, { 7, 8, 9 } } } }
    -- x[i][j] - x[i+1][j+1] + 0.5 = -4 + 0.5 everywhere
    t.allclose(c(x):totable(), { { { { -3.5, -3.5 }, { -3.5, -3.5 } } } })
  end,

  ["Conv2d: stride and padding"] = function(t)
    local c = nn.Conv2d(1, 1, 2, { stride = 2, padding = 1 })
    set(c.weight, { { { { 1, 0 }, { 0, -1 } } } })
    set(c.bias, { 0.5 })
    local x = Tensor{ { { { 1, 2, 3 }, { 4, 5, 6 }, { 7, 8, 9 } } } }
    -- padded 5x5 p (p[a][b] = x[a-1][b-1], 0 outside), out (oy, ox) = p[2oy][2ox] - p[2oy+1][2ox+1] + 0.5:
    -- (0,0): 0 - 1, (0,1): 0 - 3, (1,0): 0 - 7, (1,1): 5 - 9
    t.allclose(c(x):totable(), { { { { -0.5, -2.5 }, { -6.5, -3.5 } } } })
    -- the same given positionally (tinygrad's order)
    local d = nn.Conv2d(1, 1, 2, 2, 1)
    t.eq(d.stride, 2)
    t.eq(d.padding, 1)
  end,

  ["Conv2d: init and shapes, groups"] = function(t)
    seeded()
    local c = nn.Conv2d(4, 8, 3)
    t.eq(c.weight.shape, { 8, 4, 3, 3 })
    t.eq(c.bias.shape, { 8 })
    local bound = 1 / 6  -- fan_in = 4 * 3 * 3 = 36
    local mean, var, lo, hi = stats(c.weight)
    t.truthy(lo >= -bound and hi <= bound and lo < -0.95 * bound and hi > 0.95 * bound, "weight range")
    t.near(mean, 0, 0.01)
    t.near(var, bound * bound / 3, 0.15 * bound * bound / 3)
    local _, _, blo, bhi = stats(c.bias)
    t.truthy(blo >= -bound and bhi <= bound, "bias range")
    local g = nn.Conv2d(4, 8, { 3, 1 }, { groups = 2, bias = false })
    t.eq(g.weight.shape, { 8, 2, 3, 1 })
    t.eq(g.bias, nil)
    local gb = 1 / math.sqrt(6)  -- fan_in = 2 * 3 * 1
    local _, _, glo, ghi = stats(g.weight)
    t.truthy(glo >= -gb and ghi <= gb, "grouped weight range")
    t.eq(g(Tensor.ones(1, 4, 5, 5)).shape, { 1, 8, 3, 5 })
    t.raises(function() nn.Conv2d(3, 8, 3, { groups = 2 }) end, "Conv2d: in_channels 3 and out_channels 8 must both be divisible by groups 2")
    t.raises(function() nn.Conv2d(3, 8, 0) end, "Conv2d: kernel_size must be an integer >= 1")
    t.raises(function() nn.Conv2d(3, 8, 3)(Tensor.ones(1, 4, 5, 5)) end, "conv2d")
  end,

  -- ---- ConvTranspose2d ----
  ["ConvTranspose2d: stride 2 scatters the kernel"] = function(t)
    local c = nn.ConvTranspose2d(1, 1, 2, { stride = 2 })
    set(c.weight, { { { { 1, 2 }, { 3, 4 } } } })
    set(c.bias, { 0 })
    -- each input element writes value * kernel into its own 2x2 block
    t.allclose(c(Tensor{ { { { 1, 2 } } } }):totable(), { { { { 1, 2, 2, 4 }, { 3, 4, 6, 8 } } } })
  end,

  ["ConvTranspose2d: init uses torch's fan_in (out/groups * kh * kw)"] = function(t)
    seeded()
    local c = nn.ConvTranspose2d(2, 6, 3)
    t.eq(c.weight.shape, { 2, 6, 3, 3 })
    t.eq(c.bias.shape, { 6 })
    local bound = 1 / math.sqrt(54)
    local _, _, lo, hi = stats(c.weight)
    t.truthy(lo >= -bound and hi <= bound and lo < -0.9 * bound and hi > 0.9 * bound, "weight range")
    local _, _, blo, bhi = stats(c.bias)
    t.truthy(blo >= -bound and bhi <= bound, "bias range")
    local g = nn.ConvTranspose2d(4, 6, 2, { groups = 2, stride = 2, output_padding = 1 })
    t.eq(g.weight.shape, { 4, 3, 2, 2 })
    t.eq(g(Tensor.ones(1, 4, 3, 3)).shape, { 1, 6, 7, 7 })
  end,

  -- ---- BatchNorm ----
  ["BatchNorm: training normalizes by batch stats and moves the running stats"] = function(t)
    local bn = nn.BatchNorm(2)
    local x = Tensor{ { 1, 10 }, { 2, 20 }, { 3, 30 }, { 4, 40 } }
    -- channel 1: mean 2.5, var 1.25 (biased), 5/3 (unbiased); channel 2: mean 25, var 125, 500/3
    local y = bn(x):totable()
    local m = { 2.5, 25 }
    local v = { 1.25, 125 }
    for i = 1, 4 do
      for c = 1, 2 do
        local xv = ({ { 1, 10 }, { 2, 20 }, { 3, 30 }, { 4, 40 } })[i][c]
        t.near(y[i][c], (xv - m[c]) / math.sqrt(v[c] + 1e-5), 1e-5)
      end
    end
    -- running = 0.9 * running + 0.1 * batch (unbiased variance)
    t.allclose(bn.running_mean:totable(), { 0.25, 2.5 }, 1e-6)
    t.allclose(bn.running_var:totable(), { 0.9 + 0.1 * 5 / 3, 0.9 + 0.1 * 500 / 3 }, 1e-6)
    t.eq(bn.num_batches_tracked:item(), 1)
    t.eq(bn.num_batches_tracked.dtype, mg.int64)
    t.eq(bn.num_batches_tracked.shape, {})
    -- a second step
    bn(Tensor{ { 0, 0 }, { 2, 4 } }):realize()
    -- batch 2: means {1, 2}, unbiased vars {2, 8}
    t.allclose(bn.running_mean:totable(), { 0.9 * 0.25 + 0.1, 0.9 * 2.5 + 0.2 }, 1e-6)
    t.allclose(bn.running_var:totable(), { 0.9 * (0.9 + 0.5 / 3) + 0.2, 0.9 * (0.9 + 50 / 3) + 0.8 }, 1e-5)
    t.eq(bn.num_batches_tracked:item(), 2)
  end,

  ["BatchNorm: eval uses the running stats, weight and bias"] = function(t)
    local bn = nn.BatchNorm(2, { eps = 0.01 })
    set(bn.running_mean, { 1, -2 })
    set(bn.running_var, { 4, 0.25 })
    set(bn.weight, { 2, 3 })
    set(bn.bias, { 0.5, -0.5 })
    local x = Tensor{ { 3, 0 }, { -1, -2 } }
    local y = mg.train(function() return bn(x):totable() end, false)
    -- (x - rm) / sqrt(rv + eps) * w + b
    local function f(xv, c)
      local rm, rv, w, b = ({ 1, -2 })[c], ({ 4, 0.25 })[c], ({ 2, 3 })[c], ({ 0.5, -0.5 })[c]
      return (xv - rm) / math.sqrt(rv + 0.01) * w + b
    end
    t.allclose(y, { { f(3, 1), f(0, 2) }, { f(-1, 1), f(-2, 2) } }, 1e-5)
    -- eval does not touch the running stats
    t.allclose(bn.running_mean:totable(), { 1, -2 })
    t.eq(bn.num_batches_tracked:item(), 0)
  end,

  ["BatchNorm: 4-D input against a loop, train then eval"] = function(t)
    local N, C, H, W = 2, 3, 2, 2
    local data, per = {}, {}
    for c = 1, C do per[c] = {} end
    for n = 1, N do
      data[n] = {}
      for c = 1, C do
        data[n][c] = {}
        for h = 1, H do
          data[n][c][h] = {}
          for w = 1, W do
            local v = ((n * 7 + c * 5 + h * 3 + w * 11) % 13) * 0.5 - 2
            data[n][c][h][w] = v
            per[c][#per[c] + 1] = v
          end
        end
      end
    end
    local bn = nn.BatchNorm(C, { momentum = 0.3 })
    set(bn.weight, { 1, 2, -1 })
    set(bn.bias, { 0, 1, 0.25 })
    local y = bn(Tensor(data)):totable()
    local rm, rv = {}, {}
    for c = 1, C do
      local mean, var, uvar = channel_stats(per[c])
      rm[c], rv[c] = 0.3 * mean, 0.7 + 0.3 * uvar
      local w, b = ({ 1, 2, -1 })[c], ({ 0, 1, 0.25 })[c]
      for n = 1, N do for h = 1, H do for wi = 1, W do
        t.near(y[n][c][h][wi], (data[n][c][h][wi] - mean) / math.sqrt(var + 1e-5) * w + b, 1e-5)
      end end end
    end
    t.allclose(bn.running_mean:totable(), rm, 1e-6)
    t.allclose(bn.running_var:totable(), rv, 1e-6)
    mg.training(false)
    local ok, err = pcall(function()
      local e = bn(Tensor(data)):totable()
      for c = 1, C do
        local w, b = ({ 1, 2, -1 })[c], ({ 0, 1, 0.25 })[c]
        t.near(e[1][c][1][1], (data[1][c][1][1] - rm[c]) / math.sqrt(rv[c] + 1e-5) * w + b, 1e-5)
      end
    end)
    mg.training(true)
    assert(ok, err)
  end,

  ["BatchNorm: momentum = false is a cumulative average"] = function(t)
    local bn = nn.BatchNorm(1, { momentum = false })
    bn(Tensor{ { 1 }, { 3 } }):realize()  -- mean 2, unbiased var 2
    bn(Tensor{ { 4 }, { 8 } }):realize()  -- mean 6, unbiased var 8
    t.allclose(bn.running_mean:totable(), { 4 }, 1e-6)
    -- running = running + (batch - running) / num_batches_tracked: the average of the batches
    t.allclose(bn.running_var:totable(), { (2 + 8) / 2 }, 1e-6)
    t.eq(bn.num_batches_tracked:item(), 2)
  end,

  ["BatchNorm: layer.training overrides the mode; affine and tracking off"] = function(t)
    local bn = nn.BatchNorm(1)
    bn.training = false
    local y = bn(Tensor{ { 3 }, { 5 } }):totable()  -- running stats 0 and 1
    t.allclose(y, { { 3 / math.sqrt(1 + 1e-5) }, { 5 / math.sqrt(1 + 1e-5) } }, 1e-6)
    t.eq(bn.num_batches_tracked:item(), 0)
    local plain = nn.BatchNorm(1, { affine = false, track_running_stats = false })
    t.eq(plain.weight, nil)
    t.eq(plain.running_mean, nil)
    -- without running stats, batch stats are used in eval too
    local e = mg.train(function() return plain(Tensor{ { 3 }, { 5 } }):totable() end, false)
    t.allclose(e, { { -1 / math.sqrt(1 + 1e-5) }, { 1 / math.sqrt(1 + 1e-5) } }, 1e-6)
    t.eq(#nn.parameters(plain), 0)
  end,

  ["BatchNorm: errors"] = function(t)
    t.raises(function() nn.BatchNorm(3)(Tensor.ones(2, 4, 5)) end, "BatchNorm: expected an input {N, 3, ...}, got {2, 4, 5}")
    t.raises(function() nn.BatchNorm(3)(Tensor.ones(1, 3)) end, "BatchNorm: expected more than 1 value per channel when training, got input {1, 3}")
    t.raises(function() nn.BatchNorm(3, { momentom = 0.1 }) end, "BatchNorm: unknown option 'momentom'")
    -- in eval a single value is fine
    t.eq(mg.train(function() return nn.BatchNorm(3)(Tensor.ones(1, 3)).shape end, false), { 1, 3 })
  end,

  ["BatchNorm: init and what parameters / state_dict see"] = function(t)
    local bn = nn.BatchNorm(3)
    t.allclose(bn.weight:totable(), { 1, 1, 1 })
    t.allclose(bn.bias:totable(), { 0, 0, 0 })
    t.allclose(bn.running_mean:totable(), { 0, 0, 0 })
    t.allclose(bn.running_var:totable(), { 1, 1, 1 })
    t.truthy(bn.weight.requires_grad and bn.bias.requires_grad)
    t.eq(bn.running_mean.requires_grad, false)
    local ps = nn.parameters(bn)
    t.eq(#ps, 2)
    local names = nn.state_names(bn)
    t.eq(names, { "bias", "num_batches_tracked", "running_mean", "running_var", "weight" })
  end,

  -- ---- LayerNorm, RMSNorm, GroupNorm ----
  ["LayerNorm: over the last dim, with weight and bias"] = function(t)
    local ln = nn.LayerNorm(3)
    t.allclose(ln.weight:totable(), { 1, 1, 1 })
    t.allclose(ln.bias:totable(), { 0, 0, 0 })
    set(ln.weight, { 1, 2, 3 })
    set(ln.bias, { 0, 0.5, -1 })
    local y = ln(Tensor{ { 1, 2, 3 }, { 2, 4, 6 } }):totable()
    -- row 1: mean 2, var 2/3; row 2: mean 4, var 8/3
    local s1, s2 = math.sqrt(2 / 3 + 1e-5), math.sqrt(8 / 3 + 1e-5)
    t.allclose(y, { { -1 / s1, 0.5, 3 / s1 - 1 }, { -2 / s2, 0.5, 6 / s2 - 1 } }, 1e-5)
  end,

  ["LayerNorm: over two dims, no affine"] = function(t)
    local ln = nn.LayerNorm({ 2, 2 }, { elementwise_affine = false, eps = 0 })
    t.eq(ln.weight, nil)
    t.eq(#nn.parameters(ln), 0)
    local y = ln(Tensor{ { { 1, 3 }, { 5, 7 } } }):totable()
    -- mean 4, var (9 + 1 + 1 + 9) / 4 = 5
    local s = math.sqrt(5)
    t.allclose(y, { { { -3 / s, -1 / s }, { 1 / s, 3 / s } } }, 1e-6)
    t.raises(function() ln(Tensor.ones(2, 3)) end, "layernorm")
  end,

  ["RMSNorm: x / sqrt(mean(x^2) + eps) * weight"] = function(t)
    local rn = nn.RMSNorm(3)
    t.allclose(rn.weight:totable(), { 1, 1, 1 })
    t.eq(rn.eps, 1e-6)
    set(rn.weight, { 1, -1, 0.5 })
    local y = rn(Tensor{ { 1, 2, 3 } }):totable()
    local r = math.sqrt(14 / 3 + 1e-6)
    t.allclose(y, { { 1 / r, -2 / r, 1.5 / r } }, 1e-6)
  end,

  ["GroupNorm: groups of channels per sample"] = function(t)
    local gn = nn.GroupNorm(2, 4)
    t.allclose(gn.weight:totable(), { 1, 1, 1, 1 })
    set(gn.weight, { 1, 2, 3, 4 })
    set(gn.bias, { 0, 0, 1, 1 })
    local x = { { { 1, 2 }, { 3, 4 }, { 0, 0 }, { 2, 6 } }, { { 1, 1 }, { 1, 5 }, { -1, 1 }, { -1, 1 } } }
    local y = gn(Tensor(x)):totable()
    for n = 1, 2 do
      for g = 0, 1 do
        local vals = {}
        for c = 2 * g + 1, 2 * g + 2 do for l = 1, 2 do vals[#vals + 1] = x[n][c][l] end end
        local mean, var = channel_stats(vals)
        for c = 2 * g + 1, 2 * g + 2 do for l = 1, 2 do
          local want = (x[n][c][l] - mean) / math.sqrt(var + 1e-5) * ({ 1, 2, 3, 4 })[c] + ({ 0, 0, 1, 1 })[c]
          t.near(y[n][c][l], want, 1e-5)
        end end
      end
    end
    t.raises(function() nn.GroupNorm(3, 4) end, "GroupNorm: num_channels 4 must be divisible by num_groups 3")
    t.raises(function() gn(Tensor.ones(2, 3, 2)) end, "GroupNorm: expected an input {N, 4, ...}, got {2, 3, 2}")
  end,

  -- ---- Embedding ----
  ["Embedding: 1-based ids pick rows"] = function(t)
    local e = nn.Embedding(3, 2)
    set(e.weight, { { 1, 2 }, { 3, 4 }, { 5, 6 } })
    t.allclose(e(Tensor{ { 1, 3 }, { 2, 2 } }):totable(), { { { 1, 2 }, { 5, 6 } }, { { 3, 4 }, { 3, 4 } } })
    t.allclose(e(Tensor(3)):totable(), { 5, 6 })
    t.allclose(e({ 2, 1 }):totable(), { { 3, 4 }, { 1, 2 } })
    -- outside 1..V: a row of zeros
    t.allclose(e(Tensor{ 0, 4 }):totable(), { { 0, 0 }, { 0, 0 } })
    t.raises(function() e(Tensor{ 1.5 }) end, "Embedding: ids must be integers %(1%-based%), got float32 {1}")
  end,

  ["Embedding: init is N(0, 1)"] = function(t)
    seeded()
    local e = nn.Embedding(100, 64)
    t.eq(e.weight.shape, { 100, 64 })
    t.truthy(e.weight.requires_grad)
    local mean, var = stats(e.weight)
    t.near(mean, 0, 0.05)
    t.near(var, 1, 0.06)
  end,

  -- ---- Sequential ----
  ["Sequential: calls in order, names its layers 1, 2, ..."] = function(t)
    local l1, l2 = nn.Linear(2, 2), nn.Linear(2, 1)
    set(l1.weight, { { 1, 0 }, { 0, -1 } }); set(l1.bias, { 0, 0 })
    set(l2.weight, { { 1, 1 } }); set(l2.bias, { 0.5 })
    local m = nn.Sequential(l1, function(x) return x:relu() end, l2)
    t.allclose(m(Tensor{ { 2, 3 }, { -1, -4 } }):totable(), { { 2.5 }, { 4.5 } })
    local names = nn.state_names(m)
    t.eq(names, { "1.bias", "1.weight", "3.bias", "3.weight" })
    local m2 = nn.Sequential{ l1, l2 }
    t.eq(#m2, 2)
    t.raises(function() nn.Sequential(l1, 5) end, "Sequential: layer 2 is a number, not callable")
  end,

  ["layers print their configuration"] = function(t)
    t.eq(tostring(nn.Linear(2, 3)), "Linear(in_features=2, out_features=3, bias=true)")
    t.truthy(tostring(nn.Conv2d(1, 2, 3)):find("^Conv2d%(1, 2, kernel_size={3, 3}"))
  end,

  -- ---- training mode ----
  ["mg.training and mg.train"] = function(t)
    t.eq(mg.training(), true, "on by default")
    t.eq(mg.training(false), true, "returns the previous mode")
    t.eq(mg.training(), false)
    t.eq(mg.train(function() return mg.training(), 7 end), true)
    t.eq(select(2, mg.train(function() return mg.training(), 7 end)), 7)
    t.eq(mg.training(), false, "restored")
    mg.training(true)
    t.eq(mg.train(function() return mg.training() end, false), false)
    t.raises(function() mg.train(function() error("boom") end, false) end, "boom")
    t.eq(mg.training(), true, "restored after an error")
    t.raises(function() mg.training("yes") end, "training: expected true or false")
    -- dropout reads the same flag
    local x = Tensor.ones(64)
    t.eq(mg.train(function() return x:dropout(0.5):sum():item() end, false), 64)
  end,

  -- ---- parameters and state dicts ----
  ["parameters: sorted keys, each tensor once, frozen and buffers left out"] = function(t)
    local model = { fc2 = nn.Linear(2, 2), fc1 = nn.Linear(2, 2), bn = nn.BatchNorm(2), blocks = {} }
    for i = 1, 10 do model.blocks[i] = nn.Linear(1, 1, false) end
    model.tied = model.fc1.weight  -- shared: listed once
    model.blocks[3].weight.requires_grad = false  -- frozen
    local ps = nn.parameters(model)
    local want = { model.blocks[1].weight, model.blocks[2].weight }
    for i = 4, 10 do want[#want + 1] = model.blocks[i].weight end
    for _, p in ipairs({ model.bn.bias, model.bn.weight, model.fc1.bias, model.fc1.weight, model.fc2.bias, model.fc2.weight }) do
      want[#want + 1] = p
    end
    t.eq(#ps, #want)
    for i = 1, #want do t.truthy(rawequal(ps[i], want[i]), "parameter " .. i) end
  end,

  ["state_dict: dotted names, buffers included, private fields skipped"] = function(t)
    local model = { enc = { nn.Conv2d(1, 2, 3), nn.BatchNorm(2) }, head = nn.Linear(4, 3), _cache = Tensor.ones(2), lr = 0.1 }
    local sd, names = nn.state_dict(model), nn.state_names(model)
    t.eq(names, { "enc.1.bias", "enc.1.weight", "enc.2.bias", "enc.2.num_batches_tracked", "enc.2.running_mean",
      "enc.2.running_var", "enc.2.weight", "head.bias", "head.weight" })
    t.truthy(rawequal(sd["head.weight"], model.head.weight), "the tensors themselves")
    t.eq(sd._cache, nil)
  end,

  ["load_state_dict: round trip gives the same outputs, and copies"] = function(t)
    local function make() return { conv = nn.Conv2d(1, 2, 2), bn = nn.BatchNorm(2), fc = nn.Linear(8, 3) } end
    local function run(m, x)
      local h = m.bn(m.conv(x)):relu():reshape(x.shape[1], 8)
      return m.fc(h)
    end
    mg.manual_seed(1)
    local a = make()
    local x = Tensor.randn(2, 1, 3, 3)
    run(a, x):realize()  -- a training step moves a's running stats
    mg.manual_seed(2)
    local b = make()
    local ya = mg.train(function() return run(a, x):totable() end, false)
    t.truthy(mg.train(function() return run(b, x):totable() end, false)[1][1] ~= ya[1][1], "different before loading")
    nn.load_state_dict(b, nn.state_dict(a))
    t.allclose(mg.train(function() return run(b, x):totable() end, false), ya, 1e-6)
    t.eq(b.bn.num_batches_tracked:item(), 1)
    for name, v in pairs(nn.state_dict(a)) do
      t.allclose(nn.state_dict(b)[name]:totable(), v:totable(), 0, name)
      t.truthy(not rawequal(nn.state_dict(b)[name], v), name .. " is b's own tensor")
    end
    -- b keeps its values when a changes afterwards
    local before = b.fc.weight:totable()
    a.fc.weight:assign(a.fc.weight * 0 + 5)
    a.fc.weight:realize()
    t.allclose(b.fc.weight:totable(), before, 0)
    t.allclose(a.fc.weight:totable()[1], { 5, 5, 5, 5, 5, 5, 5, 5 })
    t.truthy(b.fc.weight.requires_grad, "still a parameter")
  end,

  ["load_state_dict: casts dtypes"] = function(t)
    local l = nn.Linear(2, 1)
    nn.load_state_dict(l, { weight = Tensor({ { 1.5, 2.5 } }, { dtype = mg.float64 }), bias = Tensor{ 3.25 } })
    t.eq(l.weight.dtype, mg.float32)
    t.allclose(l.weight:totable(), { { 1.5, 2.5 } })
    t.allclose(l.bias:totable(), { 3.25 })
  end,

  ["load_state_dict: errors name the keys and shapes, and change nothing"] = function(t)
    local m = { fc = nn.Linear(2, 3), bn = nn.BatchNorm(3) }
    local before = m.fc.weight:totable()
    local sd = {}
    for k, v in pairs(nn.state_dict(m)) do sd[k] = v end
    sd["bn.running_var"] = nil
    sd["fc.extra"] = Tensor{ 1 }
    sd["fc.weight"] = Tensor.zeros(2, 3)
    t.raises(function() nn.load_state_dict(m, sd) end,
      "load_state_dict: missing keys: bn.running_var; unexpected keys: fc.extra; size mismatch for fc.weight: the model has {3, 2}, the state dict has {2, 3}")
    t.allclose(m.fc.weight:totable(), before, 0)
    t.raises(function() nn.load_state_dict(m, { ["fc.weight"] = 1 }, { strict = false }) end, "load_state_dict: fc.weight is a number, not a tensor")
    t.raises(function() nn.load_state_dict(m, { ["fc.weight"] = Tensor.zeros(3) }, { strict = false }) end,
      "size mismatch for fc.weight: the model has {3, 2}, the state dict has {3}")
    t.raises(function() nn.load_state_dict(m, Tensor.zeros(3)) end, "load_state_dict: expected a state dict")
    -- strict = false loads what matches
    nn.load_state_dict(m, { ["fc.bias"] = Tensor{ 1, 2, 3 }, other = Tensor{ 0 } }, { strict = false })
    t.allclose(m.fc.bias:totable(), { 1, 2, 3 })
  end,
}
