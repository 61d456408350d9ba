-- mg.optim: SGD, Adam, AdamW, LAMB, Muon. An optimizer holds a list of parameters (tensors),
-- their states, and a Lua number `lr` that may be changed between steps. opt:step() builds the
-- new value of every parameter with a .grad and of its states, gives each its new value with
-- assign, and realizes them all (and any running statistics that a BatchNorm forward left
-- pending) in one schedule. Parameters whose .grad is nil are skipped: their values, states
-- and step counts stay as they are.
--
-- Numbers that change from step to step (lr, bias corrections, 1 - lr * weight_decay) enter the
-- graph as 0-d tensors copied from the host, not as constants, so every step after the first
-- has the same graph and reuses the first's schedule and kernels.
local T = require("moongrad.tensor_type")
local nn = require("moongrad.nn")
local core = require("moongrad.core")
local dtypes = T.dtypes
local Tensor, is_tensor, shape_str = T.Tensor, T.is_tensor, T.shape_str

local optim = {}

-- ---- helpers ----
local function fail(op, msg, level) error(op .. ": " .. msg, (level or 1) + 1) end

local function check_range(op, what, v, lo, hi, hi_open)
  if type(v) ~= "number" or v ~= v or v < lo or (hi and (hi_open and v >= hi or v > hi)) then
    local range = hi and string.format("in [%s, %s%s", lo, hi, hi_open and ")" or "]") or ">= " .. lo
    fail(op, string.format("%s must be a number %s, got %s", what, range, tostring(v)), 3)
  end
  return v
end

local function check_betas(op, what, b)
  if type(b) ~= "table" or is_tensor(b) or #b ~= 2 then fail(op, what .. " must be a pair {b1, b2}, got " .. tostring(b), 3) end
  check_range(op, what .. "[1]", b[1], 0, 1, true)
  check_range(op, what .. "[2]", b[2], 0, 1, true)
  return { b[1], b[2] }
end

-- Optimizer(params, opts) or Optimizer{params, lr = ...} (params also as `params =`).
local function parse_args(op, a, b, allowed)
  local params, opts
  if b ~= nil then
    params, opts = a, b
    if type(opts) ~= "table" or is_tensor(opts) then fail(op, "options must be a table, got " .. type(opts), 3) end
  else
    if type(a) ~= "table" or is_tensor(a) then fail(op, "expected {params, lr = ...}, got " .. type(a), 3) end
    if is_tensor(a[1]) then
      params, opts = a, {}  -- a bare list of parameters
    else
      opts = a
      params = a[1] or a.params
    end
  end
  for k in pairs(opts) do
    if k ~= 1 and k ~= "params" and not allowed[k] then
      local names = {}
      for name in pairs(allowed) do names[#names + 1] = name end
      table.sort(names)
      fail(op, string.format("unknown option '%s' (expected params, %s)", tostring(k), table.concat(names, ", ")), 3)
    end
  end
  if type(params) ~= "table" or is_tensor(params) then
    fail(op, "params must be a list of tensors (mg.nn.parameters(model)), got " .. (is_tensor(params) and "a tensor" or type(params)), 3)
  end
  if #params == 0 then
    if next(params) ~= nil then fail(op, "params must be a list of tensors; for a model pass mg.nn.parameters(model)", 3) end
    fail(op, "params is an empty list", 3)
  end
  local list, seen = {}, {}
  for i = 1, #params do
    local p = params[i]
    if not is_tensor(p) then fail(op, string.format("parameter %d is a %s, not a tensor", i, type(p)), 3) end
    if not p.dtype.is_float then fail(op, string.format("parameter %d is %s %s; parameters must be floats", i, p.dtype.name, shape_str(p.shape)), 3) end
    if seen[p] then fail(op, string.format("parameter %d is the same tensor as parameter %d", i, seen[p]), 3) end
    seen[p] = i
    list[i] = p
  end
  return list, opts
end

-- States compute in float32 (float64 for float64 parameters): a float16 parameter keeps its
-- moments in float32.
local function compute_dtype(p)
  return p.dtype == dtypes.float64 and dtypes.float64 or dtypes.float32
end

local Optimizer = {}
Optimizer.__index = Optimizer

local function new_optimizer(cls, name, params, lr)
  local self = setmetatable({ name = name, params = params, lr = lr, state = {}, steps = {}, step_count = 0, _knobs = {} }, cls)
  for i = 1, #params do
    self.state[i] = {}
    self.steps[i] = 0
  end
  -- A step replayed by mg.jit runs no Lua: the learning rates it reads live in tensors that a
  -- change of opt.lr rewrites before the next replay.
  core.replay_hooks[self] = Optimizer.sync_knobs
  return self
end

-- Sets every parameter's .grad to nil.
function Optimizer:zero_grad()
  for _, p in ipairs(self.params) do p.grad = nil end
end

-- The number field `name` (lr, adamw_lr) as a 0-d float64 tensor on device. Its memory holds
-- the field's value (sync_knobs rewrites it when the field changes), so the graph is the same
-- whatever the value, and a step replayed by mg.jit reads the value of now.
function Optimizer:knob(name, device)
  local key = name .. "|" .. device
  local k = self._knobs[key]
  if not k then
    k = { name = name, value = self[name], t = Tensor(self[name], { dtype = dtypes.float64, device = device }):realize() }
    self._knobs[key] = k
  end
  return k.t
end

-- Writes changed fields into their tensors: at once, or listed in `out` for a step's realize.
function Optimizer:sync_knobs(out)
  for _, k in pairs(self._knobs) do
    local v = self[k.name]
    if v ~= k.value then
      check_range(self.name, k.name, v, 0)
      k.t:assign(Tensor(v, { dtype = dtypes.float64, device = k.t.device }))
      if out then out[#out + 1] = k.t else k.t:realize() end
      k.value = v
    end
  end
end

-- A zero state like p, in the compute dtype, kept in self.state[i][name].
function Optimizer:state_of(i, name)
  local st = self.state[i]
  if st[name] == nil then
    local p = self.params[i]
    st[name] = Tensor.zeros(p.shape, { dtype = compute_dtype(p), device = p.device })
  end
  return st[name]
end

-- opt:step(...): tensors given (the loss, say) are realized in the same schedule.
function Optimizer:step(...)
  local op = self.name .. ".step"
  local extra = { ... }
  for i = 1, select("#", ...) do
    if not is_tensor(extra[i]) then fail(op, string.format("argument %d is a %s, not a tensor", i, type(extra[i])), 2) end
  end
  check_range(self.name, "lr", self.lr, 0)
  -- check every grad before anything changes
  for i, p in ipairs(self.params) do
    local g = p.grad
    if g ~= nil then
      local ps, gs = p.shape, g.shape
      local same = #ps == #gs
      for d = 1, #ps do same = same and ps[d] == gs[d] end
      if not same then
        fail(op, string.format("parameter %d has shape %s but its grad has shape %s", i, shape_str(ps), shape_str(gs)), 2)
      end
      if g.device ~= p.device then
        fail(op, string.format("parameter %d is on %s but its grad is on %s", i, p.device, g.device), 2)
      end
    end
  end
  self.step_count = self.step_count + 1
  local out = {}
  self:sync_knobs(out)
  for i, p in ipairs(self.params) do
    local g = p.grad
    if g ~= nil then
      self.steps[i] = self.steps[i] + 1
      local cd = compute_dtype(p)
      local pf = p:detach()
      if pf.dtype ~= cd then pf = pf:cast(cd) end
      g = g:detach()
      if g.dtype ~= cd then g = g:cast(cd) end
      local new = self:update(i, pf, g, cd, out)
      if new.dtype ~= p.dtype then new = new:cast(p.dtype) end
      out[#out + 1] = p:assign(new)
    end
  end
  for _, t in ipairs(nn._take_pending()) do out[#out + 1] = t end
  for _, t in ipairs(extra) do out[#out + 1] = t end
  nn._realize_list(out, op)
end

-- Gives state `name` of parameter i the value v and lists it for the step's realize.
local function set_state(self, i, name, v, out)
  local s = self:state_of(i, name)
  out[#out + 1] = s:assign(v)
  return s
end

-- ---- SGD ----
local SGD = setmetatable({}, { __index = Optimizer })
SGD.__index = SGD

-- SGD{params, lr = 0.001, momentum = 0, dampening = 0, nesterov = false, weight_decay = 0},
-- torch's rule: g = grad + wd * p; b = g on the first step, then momentum * b + (1 - dampening) * g;
-- g = g + momentum * b with nesterov, else b; p = p - lr * g.
function optim.SGD(a, b)
  local op = "SGD"
  local params, o = parse_args(op, a, b, { lr = true, momentum = true, dampening = true, nesterov = true, weight_decay = true })
  local self = new_optimizer(SGD, op, params, check_range(op, "lr", o.lr or 0.001, 0))
  self.momentum = check_range(op, "momentum", o.momentum or 0, 0)
  self.dampening = check_range(op, "dampening", o.dampening or 0, 0, 1)
  self.weight_decay = check_range(op, "weight_decay", o.weight_decay or 0, 0)
  self.nesterov = o.nesterov == true
  if self.nesterov and (self.momentum == 0 or self.dampening ~= 0) then
    fail(op, "nesterov needs momentum > 0 and dampening 0", 2)
  end
  return self
end

function SGD:update(i, p, g, cd, out)
  if self.weight_decay ~= 0 then g = g + p * self.weight_decay end
  local mu = self.momentum
  if mu ~= 0 then
    local buf
    if self.steps[i] == 1 then
      buf = set_state(self, i, "momentum_buffer", g, out)
    else
      local old = self:state_of(i, "momentum_buffer")
      buf = set_state(self, i, "momentum_buffer", old * mu + g * (1 - self.dampening), out)
    end
    if self.nesterov then g = g + buf * mu else g = buf end
  end
  return p - g * self:knob("lr", p.device):cast(cd)
end

-- ---- Adam, AdamW, LAMB ----
-- The moments m and v of parameter i and the bias-corrected step direction
-- m_hat / (sqrt(v_hat) + eps), with m_hat = m / (1 - b1^t), v_hat = v / (1 - b2^t).
-- b^t is a float64 state tensor multiplied by b each step on the device, not a number from
-- Lua: a step replayed by mg.jit runs no Lua, and must still correct with this step's t.
local function beta_power(self, i, name, beta, device, out)
  local st = self.state[i]
  if st[name] == nil then st[name] = Tensor.full({}, 1, { dtype = dtypes.float64, device = device }) end
  return set_state(self, i, name, st[name] * beta, out)
end

local function adam_direction(self, i, p, g, cd, out, b1, b2, eps)
  local m = set_state(self, i, "exp_avg", self:state_of(i, "exp_avg") * b1 + g * (1 - b1), out)
  local v = set_state(self, i, "exp_avg_sq", self:state_of(i, "exp_avg_sq") * b2 + g * g * (1 - b2), out)
  local c1 = (1 - beta_power(self, i, "beta1_power", b1, p.device, out)):reciprocal():cast(cd)
  local c2 = (1 - beta_power(self, i, "beta2_power", b2, p.device, out)):reciprocal():cast(cd)
  return (m * c1) / ((v * c2):sqrt() + eps)
end

local Adam = setmetatable({}, { __index = Optimizer })
Adam.__index = Adam

local adam_allowed = { lr = true, betas = true, b1 = true, b2 = true, eps = true, weight_decay = true }

local function adam_common(cls, op, a, b, defaults)
  local params, o = parse_args(op, a, b, adam_allowed)
  local self = new_optimizer(cls, op, params, check_range(op, "lr", o.lr or defaults.lr, 0))
  local betas = o.betas or { o.b1 or 0.9, o.b2 or 0.999 }
  if o.betas and (o.b1 or o.b2) then fail(op, "give betas or b1/b2, not both", 3) end
  self.betas = check_betas(op, "betas", betas)
  self.eps = check_range(op, "eps", o.eps or defaults.eps, 0)
  self.weight_decay = check_range(op, "weight_decay", o.weight_decay or defaults.weight_decay, 0)
  return self
end

-- Adam{params, lr = 0.001, betas = {0.9, 0.999} (or b1, b2), eps = 1e-8, weight_decay = 0}:
-- torch's Adam; weight_decay adds wd * p to the gradient (L2).
function optim.Adam(a, b)
  return adam_common(Adam, "Adam", a, b, { lr = 0.001, eps = 1e-8, weight_decay = 0 })
end

function Adam:update(i, p, g, cd, out)
  if self.weight_decay ~= 0 then g = g + p * self.weight_decay end
  local d = adam_direction(self, i, p, g, cd, out, self.betas[1], self.betas[2], self.eps)
  return p - d * self:knob("lr", p.device):cast(cd)
end

local AdamW = setmetatable({}, { __index = Optimizer })
AdamW.__index = AdamW

-- AdamW{params, lr = 0.001, betas = {0.9, 0.999}, eps = 1e-8, weight_decay = 0.01}: torch's
-- AdamW, decoupled decay: p = p * (1 - lr * wd) - lr * m_hat / (sqrt(v_hat) + eps).
function optim.AdamW(a, b)
  return adam_common(AdamW, "AdamW", a, b, { lr = 0.001, eps = 1e-8, weight_decay = 0.01 })
end

function AdamW:update(i, p, g, cd, out)
  local d = adam_direction(self, i, p, g, cd, out, self.betas[1], self.betas[2], self.eps)
  local lr = self:knob("lr", p.device)
  if self.weight_decay ~= 0 then p = p * (1 - lr * self.weight_decay):cast(cd) end
  return p - d * lr:cast(cd)
end

local LAMB = setmetatable({}, { __index = Optimizer })
LAMB.__index = LAMB

-- LAMB{params, lr = 0.001, betas = {0.9, 0.999}, eps = 1e-6, weight_decay = 0}, tinygrad's:
-- u = m_hat / (sqrt(v_hat) + eps) + wd * p; trust ratio r = |p| / |u| (1 when either norm
-- is 0); p = p - lr * r * u.
function optim.LAMB(a, b)
  return adam_common(LAMB, "LAMB", a, b, { lr = 0.001, eps = 1e-6, weight_decay = 0 })
end

function LAMB:update(i, p, g, cd, out)
  local u = adam_direction(self, i, p, g, cd, out, self.betas[1], self.betas[2], self.eps)
  if self.weight_decay ~= 0 then u = u + p * self.weight_decay end
  local r1 = (p * p):sum():sqrt()
  local r2 = (u * u):sum():sqrt()
  local r = Tensor.where(r1:gt(0), Tensor.where(r2:gt(0), r1 / Tensor.where(r2:gt(0), r2, 1), 1), 1)
  return p - u * r * self:knob("lr", p.device):cast(cd)
end

-- ---- Muon ----
-- The orthogonalized G (a 2-D {r, c}): Newton-Schulz iterations X = a X + (b A + c A A) X with
-- A = X X^T, from X = G / (|G|_F + eps), run on the wide orientation (G^T when r > c).
local function newton_schulz(G, steps, coeffs, eps)
  local s = G.shape
  local tall = s[1] > s[2]
  local X = tall and G:transpose(1, 2) or G
  X = X / ((X * X):sum():sqrt() + eps)
  local a, b, c = coeffs[1], coeffs[2], coeffs[3]
  for _ = 1, steps do
    local A = X:matmul(X:transpose(1, 2))
    local B = A * b + A:matmul(A) * c
    X = X * a + B:matmul(X)
  end
  if tall then X = X:transpose(1, 2) end
  return X
end
optim.newton_schulz = newton_schulz

local Muon = setmetatable({}, { __index = Optimizer })
Muon.__index = Muon

-- Muon{params, lr = 0.02, momentum = 0.95, nesterov = true, weight_decay = 0, ns_steps = 5,
-- ns_coefficients = {3.4445, -4.7750, 2.0315}, eps = 1e-7, adamw_lr = 3e-4,
-- adamw_betas = {0.9, 0.95}, adamw_eps = 1e-10, adamw_weight_decay = 0}. Keller Jordan's Muon
-- for 2-D parameters: m = mu m + (1 - mu) g; u = (1 - mu) g + mu m with nesterov, else m;
-- p = p (1 - lr wd) - lr sqrt(max(1, rows / cols)) NS5(u). Parameters of other ranks (biases,
-- norm weights, conv kernels) take AdamW with the adamw_* options.
function optim.Muon(a, b)
  local op = "Muon"
  local params, o = parse_args(op, a, b, {
    lr = true, momentum = true, nesterov = true, weight_decay = true, ns_steps = true, ns_coefficients = true, eps = true,
    adamw_lr = true, adamw_betas = true, adamw_eps = true, adamw_weight_decay = true })
  local self = new_optimizer(Muon, op, params, check_range(op, "lr", o.lr or 0.02, 0))
  self.momentum = check_range(op, "momentum", o.momentum or 0.95, 0, 1, true)
  self.nesterov = o.nesterov ~= false
  self.weight_decay = check_range(op, "weight_decay", o.weight_decay or 0, 0)
  self.ns_steps = o.ns_steps or 5
  if type(self.ns_steps) ~= "number" or self.ns_steps ~= math.floor(self.ns_steps) or self.ns_steps < 0 then
    fail(op, "ns_steps must be an integer >= 0, got " .. tostring(self.ns_steps), 2)
  end
  local co = o.ns_coefficients or { 3.4445, -4.7750, 2.0315 }
  if type(co) ~= "table" or #co ~= 3 or type(co[1]) ~= "number" or type(co[2]) ~= "number" or type(co[3]) ~= "number" then
    fail(op, "ns_coefficients must be three numbers {a, b, c}", 2)
  end
  self.ns_coefficients = { co[1], co[2], co[3] }
  self.eps = check_range(op, "eps", o.eps or 1e-7, 0)
  self.adamw_lr = check_range(op, "adamw_lr", o.adamw_lr or 3e-4, 0)
  self.adamw_betas = check_betas(op, "adamw_betas", o.adamw_betas or { 0.9, 0.95 })
  self.adamw_eps = check_range(op, "adamw_eps", o.adamw_eps or 1e-10, 0)
  self.adamw_weight_decay = check_range(op, "adamw_weight_decay", o.adamw_weight_decay or 0, 0)
  return self
end

function Muon:update(i, p, g, cd, out)
  local s = p.shape
  if #s ~= 2 then
    check_range(self.name, "adamw_lr", self.adamw_lr, 0)
    local d = adam_direction(self, i, p, g, cd, out, self.adamw_betas[1], self.adamw_betas[2], self.adamw_eps)
    local lr = self:knob("adamw_lr", p.device)
    if self.adamw_weight_decay ~= 0 then p = p * (1 - lr * self.adamw_weight_decay):cast(cd) end
    return p - d * lr:cast(cd)
  end
  local mu = self.momentum
  local m = set_state(self, i, "momentum_buffer", self:state_of(i, "momentum_buffer") * mu + g * (1 - mu), out)
  local u = self.nesterov and (g * (1 - mu) + m * mu) or m
  local x = newton_schulz(u, self.ns_steps, self.ns_coefficients, self.eps)
  local scale = math.sqrt(math.max(1, s[1] / s[2]))
  local lr = self:knob("lr", p.device)
  if self.weight_decay ~= 0 then p = p * (1 - lr * self.weight_decay):cast(cd) end
  return p - x * (lr * scale):cast(cd)
end

optim.Optimizer = Optimizer

return optim
