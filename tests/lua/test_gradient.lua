-- Gradients (src/tensor/gradient.cpp): every differentiable op checked against central finite
-- differences in float64 (on whichever device the runner gives: CPU and REF), plus closed forms.
local mg = require("moongrad")
local unpack = unpack or table.unpack
local Tensor = mg.Tensor
local F64 = { dtype = mg.float64 }

-- Deterministic values in [-1.5, 1.5], none near 0 or a tie unless asked.
local function values(n, seed)
  local v, x = {}, seed or 1
  for i = 1, n do
    x = (x * 1103515245 + 12345) % 2147483648
    v[i] = (x / 2147483648) * 3 - 1.5
    if math.abs(v[i]) < 0.1 then v[i] = v[i] + 0.3 end
  end
  return v
end

local function nest(flat, shape)
  local function build(off, d)
    if d > #shape then return flat[off + 1] end
    local stride = 1
    for k = d + 1, #shape do stride = stride * shape[k] end
    local r = {}
    for i = 1, shape[d] do r[i] = build(off + (i - 1) * stride, d + 1) end
    return r
  end
  return build(0, 1)
end

local function flatten(t, out)
  out = out or {}
  if type(t) ~= "table" then out[#out + 1] = t; return out end
  for _, v in ipairs(t) do flatten(v, out) end
  return out
end

-- Compares d f(x) / dx (analytic, through loss:gradient) with central differences, for each
-- argument shape given; f takes tensors and returns a tensor, summed into a scalar loss with
-- fixed weights so that every output element matters differently.
local function check(t, name, f, shapes, opts)
  opts = opts or {}
  local flats, args = {}, {}
  for i, s in ipairs(shapes) do
    local n = 1
    for _, d in ipairs(s) do n = n * d end
    flats[i] = opts.values and opts.values(i, n) or values(n, 7 * i + #name)
    args[i] = Tensor(nest(flats[i], s), F64)
  end
  local out = f(unpack(args))
  local weights = Tensor(nest(values(out:numel(), 99), out.shape), F64)
  local function loss_of(...) local o = f(...); return (o * weights):sum() end
  local grads = { loss_of(unpack(args)):gradient(unpack(args)) }
  local eps = opts.eps or 1e-6
  for i, s in ipairs(shapes) do
    local g = flatten(grads[i]:totable())
    for k = 1, #flats[i] do
      local plus, minus = {}, {}
      for j = 1, #args do plus[j], minus[j] = args[j], args[j] end
      local fp, fm = { unpack(flats[i]) }, { unpack(flats[i]) }
      fp[k], fm[k] = fp[k] + eps, fm[k] - eps
      plus[i], minus[i] = Tensor(nest(fp, s), F64), Tensor(nest(fm, s), F64)
      local num = (loss_of(unpack(plus)):item() - loss_of(unpack(minus)):item()) / (2 * eps)
      local tol = (opts.tol or 1e-5) * (1 + math.abs(num))
      if math.abs(g[k] - num) > tol then
        t.eq(string.format("%s: d/d arg %d [%d] = %.9g, finite differences give %.9g", name, i, k, g[k], num), "equal")
      end
    end
  end
end

local cases = {
  { "add", function(a, b) return a + b end, { { 2, 3 }, { 2, 3 } } },
  { "sub", function(a, b) return a - b end, { { 2, 3 }, { 2, 3 } } },
  { "mul", function(a, b) return a * b end, { { 2, 3 }, { 2, 3 } } },
  { "div", function(a, b) return a / b end, { { 2, 3 }, { 2, 3 } } },
  { "neg and reciprocal", function(a) return -a:reciprocal() end, { { 4 } } },
  { "exp log", function(a) return a:exp() + a:abs():log() end, { { 5 } } },
  { "sin cos", function(a) return a:sin() * a:cos() end, { { 5 } } },
  { "sqrt", function(a) return a:abs():sqrt() end, { { 5 } } },
  { "pow", function(a, b) return a:abs():pow(b) end, { { 4 }, { 4 } } },
  { "maximum and minimum", function(a, b) return a:maximum(b) + a:minimum(b * 0.5) end, { { 6 }, { 6 } } },
  { "where", function(a, b) return Tensor.where(a:gt(0), a * 2, b) end, { { 6 }, { 6 } } },
  { "relu sigmoid tanh", function(a) return a:relu() + a:sigmoid() + a:tanh() end, { { 6 } } },
  { "gelu silu", function(a) return a:gelu() + a:silu() end, { { 6 } } },
  { "cast through float32", function(a) return a:cast(mg.float32):cast(mg.float64) * a end, { { 3 } }, { eps = 1e-2, tol = 1e-3 } },
  { "sum and mean over dims", function(a) return a:sum(2) + a:mean(2) * 3 end, { { 3, 4 } } },
  { "max and min over a dim", function(a) return a:max(2) - a:min(1):sum() end, { { 3, 4 } } },
  { "prod", function(a) return a:prod(2) end, { { 2, 3 } } },
  { "var and std", function(a) return a:var(2) + a:std(1):sum() end, { { 3, 4 } } },
  { "reshape permute expand", function(a) return a:reshape(3, 2):permute(2, 1):reshape(2, 3, 1):expand(2, 3, 4) end, { { 6 } } },
  { "pad shrink flip", function(a) return a:pad({ { 1, 2 }, { 0, 1 } }):flip(1)[{ { 2, 4 }, { 1, 3 } }] end, { { 3, 2 } } },
  { "matmul", function(a, b) return a:matmul(b) end, { { 3, 4 }, { 4, 2 } } },
  { "softmax and log_softmax", function(a) return a:softmax(2) + a:log_softmax(1) end, { { 3, 4 } } },
  { "conv2d", function(x, w, b) return x:conv2d(w, b, { padding = 1 }) end, { { 1, 2, 4, 4 }, { 3, 2, 3, 3 }, { 3 } } },
  { "max_pool2d and avg_pool2d", function(x) return x:max_pool2d(2) + x:avg_pool2d(2) end, { { 1, 1, 4, 4 } } },
  -- overlapping windows go through WINDOW, whose gradient spreads each offset back by stride and dilation
  { "conv2d with stride and dilation", function(x, w) return x:conv2d(w, nil, { stride = { 2, 1 }, dilation = { 1, 2 }, padding = 1 }) end,
    { { 2, 2, 5, 6 }, { 2, 2, 3, 2 } } },
  { "overlapping avg_pool2d and max_pool2d", function(x) return x:avg_pool2d(3, 1) + x:max_pool2d(3, 1) end, { { 1, 2, 5, 5 } } },
  { "overlapping strided pooling", function(x) return x:avg_pool2d(3, 2) * x:max_pool2d(3, 2) end, { { 1, 2, 5, 5 } } },
  { "layernorm", function(x) return x:layernorm({ 4 }) end, { { 3, 4 } } },
  { "contiguous and a shared node", function(a) local c = (a * a):contiguous(); return c + c:flip(1) end, { { 4 } } },
}

local M = {}
for _, c in ipairs(cases) do
  M["gradient of " .. c[1] .. " matches finite differences"] = function(t) check(t, c[1], c[2], c[3], c[4]) end
end

M["softmax cross-entropy: the gradient is softmax(x) - onehot, over the batch"] = function(t)
  local x = Tensor({ { 1, 2, 3 }, { 0.5, -1, 2 } }, F64)
  local labels = Tensor({ 3, 1 }, { dtype = mg.int32 })
  local g = x:cross_entropy(labels):gradient(x):totable()
  local sm = x:softmax(2):totable()
  local onehot = { { 0, 0, 1 }, { 1, 0, 0 } }
  for i = 1, 2 do
    for j = 1, 3 do t.near(g[i][j], (sm[i][j] - onehot[i][j]) / 2, 1e-12) end
  end
end

M["matmul: dA = G B^T and dB = A^T G"] = function(t)
  local a = Tensor({ { 1, 2 }, { 3, 4 } }, F64)
  local b = Tensor({ { 0.5, -1 }, { 2, 0.25 } }, F64)
  local ga, gb = a:matmul(b):sum():gradient(a, b)
  t.eq(ga:totable(), { { -0.5, 2.25 }, { -0.5, 2.25 } })
  t.eq(gb:totable(), { { 4, 4 }, { 6, 6 } })
end

M["conv2d: dW sums the input under each tap, dx sums the taps that read each input"] = function(t)
  -- loss = sum(conv2d(x, w)) with x {1, 1, 4, 4} = 1..16 and w {1, 1, 2, 2}: the output is 3 x 3
  local xs = {}
  for i = 1, 4 do xs[i] = {} for j = 1, 4 do xs[i][j] = (i - 1) * 4 + j end end
  local x = Tensor({ { xs } }, F64)
  local w = Tensor({ { { { 1, -2 }, { 0.5, 3 } } } }, F64)
  local gx, gw = x:conv2d(w):sum():gradient(x, w)
  local W = { { 1, -2 }, { 0.5, 3 } }
  local want_w, want_x = {}, {}
  for a = 1, 2 do
    want_w[a] = {}
    for b = 1, 2 do
      local s = 0
      for i = 1, 3 do for j = 1, 3 do s = s + xs[i + a - 1][j + b - 1] end end
      want_w[a][b] = s
    end
  end
  for i = 1, 4 do
    want_x[i] = {}
    for j = 1, 4 do
      local s = 0
      for a = 1, 2 do for b = 1, 2 do
        local oi, oj = i - a + 1, j - b + 1
        if oi >= 1 and oi <= 3 and oj >= 1 and oj <= 3 then s = s + W[a][b] end
      end end
      want_x[i][j] = s
    end
  end
  t.eq(gw:totable(), { { want_w } })
  t.eq(gx:totable(), { { want_x } })
end

M["layernorm: dx = (g - mean(g) - xhat * mean(g * xhat)) / sigma"] = function(t)
  local xv, gv = { 1, 2, 4, 7 }, { 0.5, -1, 2, 0.25 }
  local x, g = Tensor({ xv }, F64), Tensor({ gv }, F64)
  local eps = 1e-5
  local dx = (x:layernorm({ 4 }, { eps = eps }) * g):sum():gradient(x):totable()[1]
  local mean, var = 0, 0
  for i = 1, 4 do mean = mean + xv[i] / 4 end
  for i = 1, 4 do var = var + (xv[i] - mean) ^ 2 / 4 end
  local sigma = math.sqrt(var + eps)
  local mg_, mgx = 0, 0
  for i = 1, 4 do mg_ = mg_ + gv[i] / 4; mgx = mgx + gv[i] * (xv[i] - mean) / sigma / 4 end
  for i = 1, 4 do t.near(dx[i], (gv[i] - mg_ - (xv[i] - mean) / sigma * mgx) / sigma, 1e-9) end
end

M["max_pool2d sends the gradient to the maximum; ties share it"] = function(t)
  local x = Tensor({ { { { 1, 5 }, { 5, 2 } } } }, F64)
  t.eq(x:max_pool2d(2):sum():gradient(x):totable(), { { { { 0, 0.5 }, { 0.5, 0 } } } })
end

M["backward fills .grad on requires_grad tensors, accumulating; detach stops it"] = function(t)
  local w = Tensor({ 1, 2, 3 }, F64)
  local other = Tensor({ 4, 5, 6 }, F64)
  local frozen = Tensor({ 1, 1, 1 }, F64)
  w.requires_grad = true
  frozen.requires_grad = true
  t.eq(w.grad, nil)
  local loss = (w * w):sum() + (frozen:detach() * w):sum()
  loss:backward()
  t.eq(w.grad:totable(), { 3, 5, 7 })
  t.eq(frozen.grad, nil, "detached: no gradient")
  t.eq(other.grad, nil, "not requires_grad")
  local again = (w * 10):sum()
  again:backward()
  t.eq(w.grad:totable(), { 13, 15, 17 }, "accumulated")
end

M["gradient: unrelated targets get zeros; integer tensors are not differentiated"] = function(t)
  local a, b = Tensor({ 1, 2 }, F64), Tensor({ 3, 4 }, F64)
  local ga, gb = (a * 2):sum():gradient(a, b)
  t.eq(ga:totable(), { 2, 2 })
  t.eq(gb:totable(), { 0, 0 })
  local i = Tensor({ 1, 2 })
  t.eq(((i:cast(mg.float64) * a):sum()):gradient(a):totable(), { 1, 2 })
end

M["bad input: a loss with more than one element, an integer loss, non-tensors"] = function(t)
  local a = Tensor({ 1, 2 }, F64)
  t.raises(function() return (a * 2):gradient(a) end, "one element, got shape {2}")
  t.raises(function() return Tensor({ 1, 2 }):sum():gradient(a) end, "must be a float, got int32")
  t.raises(function() return a:sum():gradient(5) end, "argument 1 is not a tensor")
  local b = Tensor({ 1, 2 }, F64)
  local loss = (b * 2):sum()
  b:free()
  t.raises(function() return loss:gradient(b) end, "gradient: tensor used after free")
end

M["forward and backward realize together: one schedule for the loss and its gradients"] = function(t)
  local x = Tensor(nest(values(12, 3), { 3, 4 }), F64)
  local w = Tensor(nest(values(8, 4), { 4, 2 }), F64)
  local loss = x:matmul(w):relu():sum()
  local gw = loss:gradient(w)
  local s0 = mg.stats()
  mg.realize(loss, gw)
  local s1 = mg.stats()
  if x.device ~= "REF" then t.truthy(s1.kernels_run - s0.kernels_run <= 4, "kernels: " .. (s1.kernels_run - s0.kernels_run)) end
  t.truthy(loss:item() >= 0)
end

return M
