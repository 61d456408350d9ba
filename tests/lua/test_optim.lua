-- mg.optim: each optimizer's steps against a float64 reference written here in plain Lua from
-- the update rules (torch's for SGD, Adam and AdamW; tinygrad's for LAMB; Keller Jordan's for
-- Muon). The problem: parameters p with .grad set by hand to 2p - target (the gradient of
-- |p - target/2|^2, what backward would give), three or four steps each, compared after every
-- step. The reference shares no code with optim.lua.
local mg = require("moongrad")
local Tensor, nn, optim = mg.Tensor, mg.nn, mg.optim

-- ---- float64 reference ----
local function copy(l) local r = {} for i = 1, #l do r[i] = l[i] end return r end

local function zeros(n) local r = {} for i = 1, n do r[i] = 0 end return r end

local function norm(l)
  local s = 0
  for i = 1, #l do s = s + l[i] * l[i] end
  return math.sqrt(s)
end

-- matrices as { r = rows, c = cols, row-major list }
local function mat(r, c, l) return { r = r, c = c, v = l } end
local function at(m, i, j) return m.v[(i - 1) * m.c + j] end
local function transpose(m)
  local v = {}
  for j = 1, m.c do for i = 1, m.r do v[#v + 1] = at(m, i, j) end end
  return mat(m.c, m.r, v)
end
local function mmul(a, b)
  local v = {}
  for i = 1, a.r do for j = 1, b.c do
    local s = 0
    for k = 1, a.c do s = s + at(a, i, k) * at(b, k, j) end
    v[#v + 1] = s
  end end
  return mat(a.r, b.c, v)
end
local function lin(x, a, y, b)  -- a x + b y
  local v = {}
  for i = 1, #x.v do v[i] = a * x.v[i] + b * y.v[i] end
  return mat(x.r, x.c, v)
end

local function ns5(g, r, c, steps, co, eps)
  local x = mat(r, c, copy(g))
  if r > c then x = transpose(x) end
  local n = norm(x.v)
  for i = 1, #x.v do x.v[i] = x.v[i] / (n + eps) end
  for _ = 1, steps do
    local A = mmul(x, transpose(x))
    local B = lin(A, co[2], mmul(A, A), co[3])
    x = lin(x, co[1], mmul(B, x), 1)
  end
  if r > c then x = transpose(x) end
  return x.v
end

-- Update rules: f(p, g, st, k, shape) changes p and the state table st in place; k is the
-- parameter's own step count.
local function sgd_rule(o)
  return function(p, g, st, k)
    st.buf = st.buf or zeros(#p)
    for i = 1, #p do
      local gi = g[i] + (o.weight_decay or 0) * p[i]
      local mu = o.momentum or 0
      if mu ~= 0 then
        if k == 1 then st.buf[i] = gi else st.buf[i] = mu * st.buf[i] + (1 - (o.dampening or 0)) * gi end
        if o.nesterov then gi = gi + mu * st.buf[i] else gi = st.buf[i] end
      end
      p[i] = p[i] - o.lr * gi
    end
  end
end

-- Adam's moments and the direction m_hat / (sqrt(v_hat) + eps) per element.
local function adam_dir(p, g, st, k, b1, b2, eps)
  st.m, st.v = st.m or zeros(#p), st.v or zeros(#p)
  local d = {}
  for i = 1, #p do
    st.m[i] = b1 * st.m[i] + (1 - b1) * g[i]
    st.v[i] = b2 * st.v[i] + (1 - b2) * g[i] * g[i]
    local mh, vh = st.m[i] / (1 - b1 ^ k), st.v[i] / (1 - b2 ^ k)
    d[i] = mh / (math.sqrt(vh) + eps)
  end
  return d
end

local function adam_rule(o)  -- torch.optim.Adam (L2 weight decay)
  return function(p, g, st, k)
    local wd = o.weight_decay or 0
    local gg = {}
    for i = 1, #p do gg[i] = g[i] + wd * p[i] end
    local d = adam_dir(p, gg, st, k, o.b1 or 0.9, o.b2 or 0.999, o.eps or 1e-8)
    for i = 1, #p do p[i] = p[i] - o.lr * d[i] end
  end
end

local function adamw_rule(o)  -- torch.optim.AdamW (decoupled weight decay)
  return function(p, g, st, k)
    local d = adam_dir(p, g, st, k, o.b1 or 0.9, o.b2 or 0.999, o.eps or 1e-8)
    local wd = o.weight_decay or 0.01
    for i = 1, #p do p[i] = p[i] * (1 - o.lr * wd) - o.lr * d[i] end
  end
end

local function lamb_rule(o)  -- tinygrad's LAMB
  return function(p, g, st, k)
    local u = adam_dir(p, g, st, k, o.b1 or 0.9, o.b2 or 0.999, o.eps or 1e-6)
    for i = 1, #p do u[i] = u[i] + (o.weight_decay or 0) * p[i] end
    local r1, r2 = norm(p), norm(u)
    local r = (r1 > 0 and r2 > 0) and r1 / r2 or 1
    for i = 1, #p do p[i] = p[i] - o.lr * r * u[i] end
  end
end

local function muon_rule(o)  -- Keller Jordan's Muon for 2-D, AdamW for the rest
  return function(p, g, st, k, shape)
    if #shape ~= 2 then
      local d = adam_dir(p, g, st, k, 0.9, 0.95, 1e-10)
      local lr = o.adamw_lr or 3e-4
      for i = 1, #p do p[i] = p[i] * (1 - lr * (o.adamw_weight_decay or 0)) - lr * d[i] end
      return
    end
    local mu = o.momentum or 0.95
    st.buf = st.buf or zeros(#p)
    local u = {}
    for i = 1, #p do
      st.buf[i] = mu * st.buf[i] + (1 - mu) * g[i]
      u[i] = (o.nesterov == false) and st.buf[i] or (1 - mu) * g[i] + mu * st.buf[i]
    end
    local x = ns5(u, shape[1], shape[2], 5, { 3.4445, -4.7750, 2.0315 }, 1e-7)
    local scale = math.sqrt(math.max(1, shape[1] / shape[2]))
    local lr, wd = o.lr or 0.02, o.weight_decay or 0
    for i = 1, #p do p[i] = p[i] * (1 - lr * wd) - lr * scale * x[i] end
  end
end

-- ---- the problem ----
local function specs()
  return {
    { shape = { 2, 3 }, init = { 0.5, -1, 2, 1.5, 0, -0.5 }, target = { 1, 1, 1, -1, -1, -1 } },
    { shape = { 3 }, init = { 0.25, -0.75, 1 }, target = { 0, 1, -1 } },
    { shape = { 3, 2 }, init = { 1, 2, -1, 0.5, 0, 3 }, target = { 0.5, 0.5, 0, 0, -2, 1 } },
  }
end

local function nested(shape, l)
  if #shape == 1 then return copy(l) end
  local r = {}
  for i = 1, shape[1] do
    r[i] = {}
    for j = 1, shape[2] do r[i][j] = l[(i - 1) * shape[2] + j] end
  end
  return r
end

-- Runs `steps` steps of the optimizer make(params) and of the reference rule, comparing every
-- parameter after each step. skip[step] lists parameters left without a grad at that step;
-- lr[step] changes opt.lr (and the reference's o.lr) before that step.
local function check(t, make, rule, o, steps, extra)
  extra = extra or {}
  local ps, ref, st, ks, targets = {}, {}, {}, {}, {}
  for i, s in ipairs(specs()) do
    ps[i] = Tensor(nested(s.shape, s.init))
    ps[i].requires_grad = true
    ref[i], st[i], ks[i] = copy(s.init), {}, 0
    targets[i] = Tensor(nested(s.shape, s.target))
  end
  local opt = make(ps)
  local sp = specs()
  for step = 1, steps do
    if extra.lr and extra.lr[step] then opt.lr = extra.lr[step]; o.lr = extra.lr[step] end
    local skip = {}
    for _, i in ipairs(extra.skip and extra.skip[step] or {}) do skip[i] = true end
    opt:zero_grad()
    for i, p in ipairs(ps) do
      if not skip[i] then p.grad = p * 2 - targets[i] end
    end
    opt:step()
    for i = 1, #ps do
      if not skip[i] then
        local g = {}
        for j = 1, #ref[i] do g[j] = 2 * ref[i][j] - sp[i].target[j] end
        ks[i] = ks[i] + 1
        rule(ref[i], g, st[i], ks[i], sp[i].shape)
      end
      t.allclose(ps[i]:tolist(), ref[i], extra.tol or 2e-6, string.format("parameter %d after step %d", i, step))
    end
  end
  return opt, ps, st
end

local function stats_sum(s) return s.schedules_made + s.schedule_cache_hits end

return {
  ["SGD: plain"] = function(t)
    local o = { lr = 0.1 }
    check(t, function(ps) return optim.SGD{ ps, lr = 0.1 } end, sgd_rule(o), o, 3)
  end,

  ["SGD: momentum, dampening, weight decay"] = function(t)
    local o = { lr = 0.05, momentum = 0.9, dampening = 0.25, weight_decay = 0.1 }
    local opt, _, st = check(t, function(ps) return optim.SGD{ ps, lr = 0.05, momentum = 0.9, dampening = 0.25, weight_decay = 0.1 } end,
      sgd_rule(o), o, 4)
    t.allclose(opt.state[2].momentum_buffer:tolist(), st[2].buf, 2e-6, "momentum buffer")
  end,

  ["SGD: nesterov, a changing lr and a skipped parameter"] = function(t)
    local o = { lr = 0.1, momentum = 0.8, nesterov = true }
    check(t, function(ps) return optim.SGD(ps, { lr = 0.1, momentum = 0.8, nesterov = true }) end, sgd_rule(o), o, 4,
      { lr = { [3] = 0.05, [4] = 0.2 }, skip = { [2] = { 2 } } })
  end,

  ["Adam: defaults"] = function(t)
    local o = { lr = 0.001 }
    local opt = check(t, function(ps) return optim.Adam{ ps } end, adam_rule(o), o, 3)
    t.eq(opt.betas, { 0.9, 0.999 })
    t.eq(opt.eps, 1e-8)
    t.eq(opt.lr, 0.001)
  end,

  ["Adam: betas, eps, L2 weight decay, a skipped parameter"] = function(t)
    local o = { lr = 0.05, b1 = 0.8, b2 = 0.9, eps = 1e-3, weight_decay = 0.2 }
    check(t, function(ps) return optim.Adam{ ps, lr = 0.05, betas = { 0.8, 0.9 }, eps = 1e-3, weight_decay = 0.2 } end,
      adam_rule(o), o, 4, { skip = { [2] = { 1, 3 } } })
  end,

  ["AdamW: decoupled weight decay, default and given"] = function(t)
    local o = { lr = 0.01 }
    local opt = check(t, function(ps) return optim.AdamW{ ps, lr = 0.01 } end, adamw_rule(o), o, 3)
    t.eq(opt.weight_decay, 0.01)
    local o2 = { lr = 0.1, weight_decay = 0.5, b1 = 0.5, b2 = 0.75 }
    check(t, function(ps) return optim.AdamW{ ps, lr = 0.1, weight_decay = 0.5, b1 = 0.5, b2 = 0.75 } end, adamw_rule(o2), o2, 3)
  end,

  ["LAMB: trust ratio, with and without weight decay"] = function(t)
    local o = { lr = 0.1 }
    check(t, function(ps) return optim.LAMB{ ps, lr = 0.1 } end, lamb_rule(o), o, 3)
    local o2 = { lr = 0.05, weight_decay = 0.1, eps = 1e-4 }
    check(t, function(ps) return optim.LAMB{ ps, lr = 0.05, weight_decay = 0.1, eps = 1e-4 } end, lamb_rule(o2), o2, 3)
  end,

  ["LAMB: a zero parameter takes a trust ratio of 1"] = function(t)
    local p = Tensor({ 0, 0 }, { dtype = mg.float32 })
    local opt = optim.LAMB{ { p }, lr = 0.5 }
    p.grad = Tensor{ 1, -2 }
    opt:step()
    -- first step: m_hat = g, v_hat = g^2, u = g / (|g| + 1e-6) ~ sign(g)
    t.allclose(p:totable(), { -0.5 / (1 + 1e-6), 0.5 * 2 / (2 + 1e-6) }, 1e-6)
  end,

  ["Muon: 2-D parameters orthogonalized (wide and tall), others AdamW"] = function(t)
    local o = { lr = 0.02 }
    check(t, function(ps) return optim.Muon{ ps } end, muon_rule(o), o, 3, { tol = 1e-5 })
    local o2 = { lr = 0.05, momentum = 0.9, nesterov = false, weight_decay = 0.1, adamw_lr = 0.01, adamw_weight_decay = 0.5 }
    check(t, function(ps)
      return optim.Muon{ ps, lr = 0.05, momentum = 0.9, nesterov = false, weight_decay = 0.1, adamw_lr = 0.01, adamw_weight_decay = 0.5 }
    end, muon_rule(o2), o2, 3, { tol = 1e-5 })
  end,

  ["Muon: Newton-Schulz makes the singular values near 1"] = function(t)
    mg.manual_seed(3)
    local g = Tensor.randn(4, 8)
    local x = optim.newton_schulz(g, 5, { 3.4445, -4.7750, 2.0315 }, 1e-7)
    local xxt = x:matmul(x.T):totable()
    -- the quintic iteration leaves singular values in roughly [0.7, 1.2], not exactly 1
    for i = 1, 4 do t.truthy(xxt[i][i] > 0.4 and xxt[i][i] < 1.5, "diagonal of X X^T " .. xxt[i][i]) end
    local ref = ns5(g:tolist(), 4, 8, 5, { 3.4445, -4.7750, 2.0315 }, 1e-7)
    t.allclose(x:tolist(), ref, 1e-4)
  end,

  ["step: one schedule for params, states and BatchNorm stats; later steps compile nothing"] = function(t)
    local bn = nn.BatchNorm(2)
    local lin = nn.Linear(2, 2)
    local ps = nn.parameters({ bn = bn, lin = lin })
    local opt = optim.Adam{ ps, lr = 0.01 }
    local x = Tensor{ { 1, 2 }, { 3, 5 }, { 0, 1 } }
    local function fake_backward()
      local y = lin(bn(x))
      for _, p in ipairs(ps) do p.grad = p * 0 + y:mean() end  -- something that needs the forward
    end
    local counts = {}
    for step = 1, 3 do
      fake_backward()
      local before = mg.stats()
      opt.lr = 0.01 * step  -- lr changes every step: no recompile
      opt:step()
      local after = mg.stats()
      counts[step] = { schedules = stats_sum(after) - stats_sum(before), compiled = after.kernels_compiled - before.kernels_compiled }
      t.truthy(bn.running_mean:is_realized() and bn.num_batches_tracked:is_realized(), "running stats realized by the step")
      for _, p in ipairs(ps) do t.truthy(p:is_realized(), "parameter realized") end
      t.truthy(opt.state[1].exp_avg:is_realized(), "state realized")
    end
    t.eq(bn.num_batches_tracked:item(), 3)
    if mg.Tensor.zeros(1).device == "CPU" then
      for step = 1, 3 do t.eq(counts[step].schedules, 1, "one schedule at step " .. step) end
      t.eq(counts[3].compiled, 0, "step 3 reuses step 2's kernels")
    end
  end,

  ["step: keeps dtypes; states of float16 parameters are float32"] = function(t)
    local p64 = Tensor({ 1, 2 }, { dtype = mg.float64 })
    local p16 = Tensor({ 1, 2 }, { dtype = mg.float16 })
    local opt = optim.Adam{ { p64, p16 }, lr = 0.5 }
    p64.grad = Tensor({ 1, -1 }, { dtype = mg.float64 })
    p16.grad = Tensor({ 1, -1 }, { dtype = mg.float16 })
    opt:step()
    t.eq(p64.dtype, mg.float64)
    t.eq(p16.dtype, mg.float16)
    t.eq(opt.state[1].exp_avg.dtype, mg.float64)
    t.eq(opt.state[2].exp_avg.dtype, mg.float32)
    -- first Adam step moves each element by lr * g / (|g| + eps)
    t.allclose(p64:totable(), { 0.5, 2.5 }, 1e-7)
    t.allclose(p16:totable(), { 0.5, 2.5 }, 1e-3)
  end,

  ["SGD, Adam and Muon fit a linear regression (gradients written by hand)"] = function(t)
    -- y = x A^T + c with A = {{1, -2, 0.5}, {0, 1, 1}}, c = {0.5, -1}; the gradient of the mean
    -- squared error of l(x) = x W^T + b: dW = 2/N (l(x) - y)^T x, db = 2/N sum(l(x) - y)
    mg.manual_seed(7)
    local x = Tensor.randn(16, 3)
    local y = x:matmul(Tensor{ { 1, -2, 0.5 }, { 0, 1, 1 } }:transpose(1, 2)) + Tensor{ 0.5, -1 }
    for _, make in ipairs({
      function(ps) return optim.SGD{ ps, lr = 0.1, momentum = 0.9 } end,
      function(ps) return optim.Adam{ ps, lr = 0.1 } end,
      function(ps) return optim.Muon{ ps, lr = 0.5, adamw_lr = 0.05 } end,
    }) do
      local l = nn.Linear(3, 2)
      local opt = make(nn.parameters(l))
      local first, loss
      local base = opt.lr
      for k = 1, 60 do
        opt.lr = base * (1 - (k - 1) / 60)  -- Muon's steps have a fixed size: it needs the decay to settle
        local err = l(x) - y
        loss = (err * err):mean():item()
        first = first or loss
        opt:zero_grad()
        l.weight.grad = err:transpose(1, 2):matmul(x) * (2 / 32)
        l.bias.grad = err:sum(1) * (2 / 32)
        opt:step()
      end
      t.truthy(loss < 0.02 * first, string.format("%s: loss %g from %g", opt.name, loss, first))
    end
  end,

  ["with backward: Linear's gradient is the hand-written one, Embedding's counts the ids"] = function(t)
    if not Tensor.backward then t.skip("needs autograd (loss:backward())") end
    mg.manual_seed(5)
    local l = nn.Linear(3, 2)
    local x = Tensor.randn(4, 3)
    local y = Tensor.randn(4, 2)
    local err = l(x) - y
    local loss = (err * err):mean()
    loss:backward()
    t.allclose(l.weight.grad:totable(), (err:transpose(1, 2):matmul(x) * (2 / 8)):totable(), 1e-5)
    t.allclose(l.bias.grad:totable(), (err:sum(1) * (2 / 8)):totable(), 1e-5)
    local e = nn.Embedding(4, 2)
    e(Tensor{ { 1, 3 }, { 3, 3 } }):sum():backward()
    t.allclose(e.weight.grad:totable(), { { 1, 1 }, { 0, 0 }, { 3, 3 }, { 0, 0 } })
  end,

  ["with backward: a small MLP with BatchNorm trains with each optimizer"] = function(t)
    if not Tensor.backward then t.skip("needs autograd (loss:backward())") end
    mg.manual_seed(11)
    local x = Tensor.randn(32, 2)
    local target = (x[{ {}, 1 }] * x[{ {}, 2 }]):gt(0):cast(mg.int32) + 1  -- classes 1, 2: the sign of x1 x2
    for _, make in ipairs({
      function(ps) return optim.SGD{ ps, lr = 0.2, momentum = 0.9 } end,
      function(ps) return optim.Adam{ ps, lr = 0.03 } end,
      function(ps) return optim.AdamW{ ps, lr = 0.03 } end,
      function(ps) return optim.LAMB{ ps, lr = 0.03 } end,
      function(ps) return optim.Muon{ ps, lr = 0.05, adamw_lr = 0.03 } end,
    }) do
      local model = nn.Sequential(nn.Linear(2, 16), nn.BatchNorm(16), function(h) return h:relu() end, nn.Linear(16, 2))
      local opt = make(nn.parameters(model))
      local first, loss
      for _ = 1, 60 do
        opt:zero_grad()
        local l = model(x):cross_entropy(target)
        l:backward()
        local before = mg.stats()
        opt:step(l)  -- the loss is computed in the step's schedule
        local after = mg.stats()
        if x.device == "CPU" then t.eq(stats_sum(after) - stats_sum(before), 1, "one schedule per step") end
        t.truthy(l:is_realized(), "loss realized by the step")
        loss = l:item()
        first = first or loss
      end
      t.truthy(loss < 0.5 * first, string.format("%s: loss %g from %g", opt.name, loss, first))
      t.eq(model[2].num_batches_tracked:item(), 60)
      local acc = mg.train(function() return model(x):argmax(2):eq(target):cast(mg.float32):mean():item() end, false)
      t.truthy(acc > 0.8, string.format("%s: eval accuracy %g", opt.name, acc))
    end
  end,

  ["zero_grad, and a step with no grads changes nothing"] = function(t)
    local p = Tensor{ 1.5, 2.5 }
    local opt = optim.SGD{ { p }, lr = 1, momentum = 0.9 }
    p.grad = Tensor{ 1, 1 }
    opt:zero_grad()
    t.eq(p.grad, nil)
    opt:step()
    t.allclose(p:totable(), { 1.5, 2.5 })
    t.eq(opt.state[1].momentum_buffer, nil)
    t.eq(opt.steps[1], 0)
  end,

  ["optimizers: bad arguments"] = function(t)
    local p = Tensor{ 1.5 }
    t.raises(function() optim.SGD{ { p }, learning_rate = 0.1 } end, "SGD: unknown option 'learning_rate'")
    t.raises(function() optim.SGD{ {}, lr = 0.1 } end, "SGD: params is an empty list")
    t.raises(function() optim.Adam{ nn.Linear(2, 2) } end, "Adam: params must be a list of tensors; for a model pass mg.nn.parameters%(model%)")
    t.raises(function() optim.Adam{ { p, 3 } } end, "Adam: parameter 2 is a number, not a tensor")
    t.raises(function() optim.Adam{ { p, p } } end, "Adam: parameter 2 is the same tensor as parameter 1")
    t.raises(function() optim.Adam{ { Tensor{ 1, 2 } } } end, "Adam: parameter 1 is int32 {2}; parameters must be floats")
    t.raises(function() optim.SGD{ { p }, nesterov = true } end, "SGD: nesterov needs momentum > 0 and dampening 0")
    t.raises(function() optim.Adam{ { p }, betas = { 0.9, 1 } } end, "Adam: betas%[2%] must be a number in %[0, 1%)")
    t.raises(function() optim.SGD{ { p }, lr = -1 } end, "SGD: lr must be a number >= 0, got %-1")
    t.raises(function() optim.Muon{ { p }, ns_steps = 1.5 } end, "Muon: ns_steps must be an integer >= 0")
    local opt = optim.SGD{ { p }, lr = 0.1 }
    p.grad = Tensor{ 1, 2 }
    t.raises(function() opt:step() end, "SGD.step: parameter 1 has shape {1} but its grad has shape {2}")
    t.raises(function() opt:step(5) end, "SGD.step: argument 1 is a number, not a tensor")
    t.allclose(p:totable(), { 1.5 })
  end,
}
