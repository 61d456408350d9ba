-- mg.nn: layers (Linear, Conv2d, ConvTranspose2d, BatchNorm, LayerNorm, RMSNorm, GroupNorm,
-- Embedding, Sequential), the training mode (mg.training, mg.train), and walking a model for its
-- parameters and state dict. A layer is a plain table of tensors and numbers with a metatable
-- that makes it callable: layer(x). A model is any nesting of tables holding layers or tensors;
-- nothing registers itself, the walk finds tensors by their keys (see docs/nn.md).
local ffi = require("ffi")
local core = require("moongrad.core")
local T = require("moongrad.tensor_type")
local dtypes = T.dtypes
local Tensor, is_tensor, shape_str = T.Tensor, T.is_tensor, T.shape_str

local unpack = unpack or table.unpack

local nn = {}

local function pack(...) return { n = select("#", ...), ... } end

-- Realizes a list of tensors in one schedule (a list, not varargs: no limit on its length).
function nn._realize_list(list, op)
  local n = #list
  if n == 0 then return end
  local arr = ffi.new("mg_tensor*[?]", n)
  for i = 1, n do arr[i - 1] = list[i].h end
  local status = T.C.mg_realize(core.ctx, arr, n)
  if status ~= 0 then
    local msg = ffi.string(T.C.mg_last_error(core.ctx)):gsub("^mg_[%w_]+: ", "")
    error((op and op .. ": " or "") .. msg, 3)
  end
end

-- ---- training mode ----
-- The flag lives in moongrad.tensor's module table (field `training`), where dropout reads it.
-- On by default, as a fresh torch module: batch statistics and dropout apply until
-- mg.training(false).
if T.training == nil then T.training = true end

local function is_training() return T.training ~= false end

-- mg.training() -> the mode; mg.training(on) sets it and returns the previous mode.
function nn.training(on)
  local prev = is_training()
  if on ~= nil then
    if type(on) ~= "boolean" then error("training: expected true or false, got " .. tostring(on), 2) end
    T.training = on
  end
  return prev
end

-- mg.train(fn, on): runs fn() with training set to `on` (default true), restores the previous
-- mode afterwards (also when fn raises), and returns what fn returned.
function nn.train(fn, on)
  if type(fn) ~= "function" then error("train: expected a function, got " .. type(fn), 2) end
  if on == nil then on = true end
  if type(on) ~= "boolean" then error("train: mode must be true or false, got " .. tostring(on), 2) end
  local prev = is_training()
  T.training = on
  local res = pack(pcall(fn))
  T.training = prev
  if not res[1] then error(res[2], 0) end
  return unpack(res, 2, res.n)
end

-- ---- helpers ----
local function fail(op, msg, level) error(op .. ": " .. msg, (level or 1) + 1) end

local function is_int(v) return type(v) == "number" and v == math.floor(v) and v == v and v ~= math.huge end

local function check_count(op, what, v, min)
  min = min or 1
  if not is_int(v) or v < min then fail(op, string.format("%s must be an integer >= %d, got %s", what, min, tostring(v)), 3) end
  return v
end

local function check_number(op, what, v)
  if type(v) ~= "number" or v ~= v then fail(op, what .. " must be a number, got " .. tostring(v), 3) end
  return v
end

-- A number or a list of n positive integers, as a list.
local function pair(op, what, v, n)
  if is_int(v) then
    local r = {}
    for i = 1, n do r[i] = v end
    v = r
  end
  if type(v) ~= "table" or is_tensor(v) or #v ~= n then
    fail(op, string.format("%s must be an integer or a list of %d integers, got %s", what, n, tostring(v)), 3)
  end
  for i = 1, n do check_count(op, what, v[i], 1) end
  return { unpack(v, 1, n) }
end

-- Options: a trailing table. Unknown keys are an error (a misspelt option would be ignored
-- silently otherwise).
local function options(op, opts, allowed)
  if opts == nil then return {} end
  if type(opts) ~= "table" or is_tensor(opts) then fail(op, "options must be a table, got " .. type(opts), 3) end
  for k in pairs(opts) do
    if not allowed[k] then
      local names = {}
      for name in pairs(allowed) do names[#names + 1] = name end
      table.sort(names)
      fail(op, string.format("unknown option '%s' (expected one of %s)", tostring(k), table.concat(names, ", ")), 3)
    end
  end
  return opts
end

-- Creation options for a layer's tensors.
local function make_opts(o) return { dtype = o.dtype, device = o.device } end

local function param(t)
  t.requires_grad = true
  return t
end

-- bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), as torch's Linear and conv layers.
local function bias_uniform(n, fan_in, o)
  local bound = 1 / math.sqrt(fan_in)
  return param(Tensor.uniform({ n }, -bound, bound, make_opts(o)))
end

local function list_str(l)
  local parts = {}
  for i = 1, #l do parts[i] = tostring(l[i]) end
  return "{" .. table.concat(parts, ", ") .. "}"
end

-- A layer class: a metatable whose __call runs forward.
local function class(name)
  local cls = { name = name }
  cls.__index = cls
  cls.__call = function(self, ...) return self:forward(...) end
  cls.__tostring = function(self) return name .. "(" .. (self.describe and self:describe() or "") .. ")" end
  return cls
end

local function check_input(op, x)
  if not is_tensor(x) then fail(op, "input must be a tensor, got " .. type(x), 3) end
  return x
end

-- x is a tensor {N, c, ...}; returns its shape.
local function check_channels(op, x, c)
  if not is_tensor(x) then fail(op, "input must be a tensor, got " .. type(x), 3) end
  local s = x.shape
  if #s < 2 or s[2] ~= c then fail(op, string.format("expected an input {N, %d, ...}, got %s", c, shape_str(s)), 3) end
  return s
end

-- Takes positional arguments after the required ones as named options (tinygrad's order), or
-- one trailing options table.
local function trailing(op, names, allowed, ...)
  local n = select("#", ...)
  local first = ...
  if n == 1 and type(first) == "table" and not is_tensor(first) then return options(op, first, allowed) end
  if n > #names then fail(op, string.format("too many arguments (at most %d after the sizes)", #names), 3) end
  local o = {}
  for i = 1, n do
    local v = select(i, ...)
    if type(v) == "table" and not is_tensor(v) and i == n and v[1] == nil then
      for k, x in pairs(options(op, v, allowed)) do o[k] = x end
    else
      o[names[i]] = v
    end
  end
  return o
end

-- ---- Linear ----
local Linear = class("Linear")
nn.Linear = Linear

-- Linear(in_features, out_features, {bias = true, dtype, device}) or (in, out, bias).
-- weight {out, in} ~ kaiming_uniform(a = sqrt 5), i.e. U(-1/sqrt(in), 1/sqrt(in)); bias the same.
setmetatable(Linear, { __call = function(_, in_features, out_features, ...)
  local op = "Linear"
  check_count(op, "in_features", in_features)
  check_count(op, "out_features", out_features)
  local o = trailing(op, { "bias" }, { bias = true, dtype = true, device = true }, ...)
  local self = setmetatable({ in_features = in_features, out_features = out_features }, Linear)
  self.weight = param(Tensor.kaiming_uniform({ out_features, in_features }, { a = math.sqrt(5), dtype = o.dtype, device = o.device }))
  if o.bias ~= false then self.bias = bias_uniform(out_features, in_features, o) end
  return self
end })

function Linear:forward(x)
  check_input("Linear", x)
  return x:linear(self.weight, self.bias)
end

function Linear:describe()
  return string.format("in_features=%d, out_features=%d, bias=%s", self.in_features, self.out_features, tostring(self.bias ~= nil))
end

-- ---- Conv2d, ConvTranspose2d ----
local conv_allowed = { stride = true, padding = true, dilation = true, groups = true, bias = true, dtype = true, device = true }
local convt_allowed = { stride = true, padding = true, output_padding = true, dilation = true, groups = true, bias = true, dtype = true, device = true }

local function conv_common(op, in_channels, out_channels, kernel_size, o)
  check_count(op, "in_channels", in_channels)
  check_count(op, "out_channels", out_channels)
  local k = pair(op, "kernel_size", kernel_size, 2)
  local groups = o.groups or 1
  check_count(op, "groups", groups)
  if in_channels % groups ~= 0 or out_channels % groups ~= 0 then
    fail(op, string.format("in_channels %d and out_channels %d must both be divisible by groups %d", in_channels, out_channels, groups), 3)
  end
  return k, groups
end

local Conv2d = class("Conv2d")
nn.Conv2d = Conv2d

-- Conv2d(in, out, kernel, {stride = 1, padding = 0, dilation = 1, groups = 1, bias = true,
-- dtype, device}), or those positionally in that order. weight {out, in/groups, kh, kw} ~
-- kaiming_uniform(a = sqrt 5); bias ~ U(+-1/sqrt(fan_in)), fan_in = in/groups * kh * kw.
setmetatable(Conv2d, { __call = function(_, in_channels, out_channels, kernel_size, ...)
  local op = "Conv2d"
  local o = trailing(op, { "stride", "padding", "dilation", "groups", "bias" }, conv_allowed, ...)
  local k, groups = conv_common(op, in_channels, out_channels, kernel_size, o)
  local self = setmetatable({
    in_channels = in_channels, out_channels = out_channels, kernel_size = k,
    stride = o.stride or 1, padding = o.padding or 0, dilation = o.dilation or 1, groups = groups,
  }, Conv2d)
  local shape = { out_channels, in_channels / groups, k[1], k[2] }
  self.weight = param(Tensor.kaiming_uniform(shape, { a = math.sqrt(5), dtype = o.dtype, device = o.device }))
  if o.bias ~= false then self.bias = bias_uniform(out_channels, in_channels / groups * k[1] * k[2], o) end
  return self
end })

function Conv2d:forward(x)
  check_input("Conv2d", x)
  return x:conv2d(self.weight, self.bias, { stride = self.stride, padding = self.padding, dilation = self.dilation, groups = self.groups })
end

function Conv2d:describe()
  return string.format("%d, %d, kernel_size=%s, stride=%s, padding=%s", self.in_channels, self.out_channels,
    list_str(self.kernel_size), type(self.stride) == "table" and list_str(self.stride) or tostring(self.stride),
    type(self.padding) == "table" and "{...}" or tostring(self.padding))
end

local ConvTranspose2d = class("ConvTranspose2d")
nn.ConvTranspose2d = ConvTranspose2d

-- ConvTranspose2d(in, out, kernel, {stride = 1, padding = 0, output_padding = 0, dilation = 1,
-- groups = 1, bias = true, dtype, device}), or positionally in tinygrad's order (stride,
-- padding, output_padding, dilation, groups, bias). weight {in, out/groups, kh, kw} (torch's
-- layout) ~ kaiming_uniform(a = sqrt 5) with torch's fan_in = out/groups * kh * kw (its dim 2),
-- bias ~ U(+-1/sqrt(that fan_in)).
setmetatable(ConvTranspose2d, { __call = function(_, in_channels, out_channels, kernel_size, ...)
  local op = "ConvTranspose2d"
  local o = trailing(op, { "stride", "padding", "output_padding", "dilation", "groups", "bias" }, convt_allowed, ...)
  local k, groups = conv_common(op, in_channels, out_channels, kernel_size, o)
  local self = setmetatable({
    in_channels = in_channels, out_channels = out_channels, kernel_size = k,
    stride = o.stride or 1, padding = o.padding or 0, output_padding = o.output_padding or 0,
    dilation = o.dilation or 1, groups = groups,
  }, ConvTranspose2d)
  local shape = { in_channels, out_channels / groups, k[1], k[2] }
  self.weight = param(Tensor.kaiming_uniform(shape, { a = math.sqrt(5), dtype = o.dtype, device = o.device }))
  if o.bias ~= false then self.bias = bias_uniform(out_channels, out_channels / groups * k[1] * k[2], o) end
  return self
end })

function ConvTranspose2d:forward(x)
  check_input("ConvTranspose2d", x)
  return x:conv_transpose2d(self.weight, self.bias, { stride = self.stride, padding = self.padding,
    output_padding = self.output_padding, dilation = self.dilation, groups = self.groups })
end

function ConvTranspose2d:describe()
  return string.format("%d, %d, kernel_size=%s", self.in_channels, self.out_channels, list_str(self.kernel_size))
end

-- ---- BatchNorm ----
-- Running statistics that a training forward gave new (lazy) values: the next optimizer step
-- realizes them with the parameters (mg.optim), so one step is one schedule. Weak keys: a
-- dropped layer takes its entries with it.
local pending = setmetatable({}, { __mode = "k" })

-- The tensors with pending updates, in no particular order; the list is emptied.
function nn._take_pending()
  local list = {}
  for t in pairs(pending) do list[#list + 1] = t end
  for i = 1, #list do pending[list[i]] = nil end
  return list
end

local BatchNorm = class("BatchNorm")
nn.BatchNorm = BatchNorm
nn.BatchNorm2d = BatchNorm

-- BatchNorm(num_features, {eps = 1e-5, momentum = 0.1, affine = true,
-- track_running_stats = true, dtype, device}). Normalizes over every dim but dim 2 (the
-- channels) of an {N, C, ...} input. Training: batch mean and biased variance, and the running
-- stats move by momentum (unbiased variance, torch's rule; momentum = false: cumulative average
-- over num_batches_tracked). Eval: the running stats. layer.training = true/false overrides
-- the global mode for this layer.
setmetatable(BatchNorm, { __call = function(_, num_features, opts)
  local op = "BatchNorm"
  check_count(op, "num_features", num_features)
  local o = options(op, opts, { eps = true, momentum = true, affine = true, track_running_stats = true, dtype = true, device = true })
  local self = setmetatable({ num_features = num_features, eps = o.eps or 1e-5 }, BatchNorm)
  check_number(op, "eps", self.eps)
  if o.momentum == false then
    self.momentum = false
  else
    self.momentum = o.momentum or 0.1
    check_number(op, "momentum", self.momentum)
  end
  local mo = make_opts(o)
  if o.affine ~= false then
    self.weight = param(Tensor.ones({ num_features }, mo))
    self.bias = param(Tensor.zeros({ num_features }, mo))
  end
  if o.track_running_stats ~= false then
    self.running_mean = Tensor.zeros({ num_features }, mo)
    self.running_var = Tensor.ones({ num_features }, mo)
    self.num_batches_tracked = Tensor.zeros({}, { dtype = dtypes.int64, device = o.device })
  end
  return self
end })

function BatchNorm:forward(x)
  local op = "BatchNorm"
  local s = check_channels(op, x, self.num_features)
  local training = self.training
  if training == nil then training = is_training() end
  local tracked = self.running_mean ~= nil
  if not training and tracked then
    return x:batchnorm(self.weight, self.bias, self.running_mean, (self.running_var + self.eps):rsqrt())
  end
  local dims = { 1 }
  for i = 3, #s do dims[#dims + 1] = i end
  local n = T.numel(s) / s[2]
  if training and n <= 1 then
    fail(op, string.format("expected more than 1 value per channel when training, got input %s", shape_str(s)), 2)
  end
  local xf = T.float_of(x)
  local mean = xf:mean(dims, { keepdim = true })
  local xc = xf - mean
  local var = (xc * xc):mean(dims)
  local out = x:batchnorm(self.weight, self.bias, mean:reshape(s[2]), (var + self.eps):rsqrt())
  if training and tracked then
    -- running stats: no gradient flows into them
    local bm, bv = mean:reshape(s[2]):detach(), var:detach() * (n / (n - 1))
    local nbt = self.num_batches_tracked + 1
    local rm, rv = self.running_mean, self.running_var
    local new_m, new_v
    if self.momentum == false then
      local f = nbt:cast(rm.dtype):reciprocal()
      new_m, new_v = rm + (bm - rm) * f, rv + (bv - rv) * f
    else
      local m = self.momentum
      new_m, new_v = rm * (1 - m) + bm * m, rv * (1 - m) + bv * m
    end
    rm:assign(new_m:cast(rm.dtype))
    rv:assign(new_v:cast(rv.dtype))
    self.num_batches_tracked:assign(nbt)
    pending[rm], pending[rv], pending[self.num_batches_tracked] = true, true, true
  end
  return out
end

function BatchNorm:describe()
  return string.format("%d, eps=%g, momentum=%s", self.num_features, self.eps, tostring(self.momentum))
end

-- ---- LayerNorm, RMSNorm, GroupNorm ----
local function norm_shape(op, v)
  if is_int(v) then v = { v } end
  if type(v) ~= "table" or is_tensor(v) or #v == 0 then
    fail(op, "normalized_shape must be an integer or a non-empty list of integers, got " .. tostring(v), 3)
  end
  for i = 1, #v do check_count(op, "normalized_shape", v[i]) end
  return { unpack(v) }
end

local LayerNorm = class("LayerNorm")
nn.LayerNorm = LayerNorm

-- LayerNorm(normalized_shape, {eps = 1e-5, elementwise_affine = true, bias = true, dtype,
-- device}): over the last #normalized_shape dims; weight ones, bias zeros.
setmetatable(LayerNorm, { __call = function(_, normalized_shape, opts)
  local op = "LayerNorm"
  local shape = norm_shape(op, normalized_shape)
  local o = options(op, opts, { eps = true, elementwise_affine = true, bias = true, dtype = true, device = true })
  local self = setmetatable({ normalized_shape = shape, eps = check_number(op, "eps", o.eps or 1e-5) }, LayerNorm)
  if o.elementwise_affine ~= false then
    self.weight = param(Tensor.ones(shape, make_opts(o)))
    if o.bias ~= false then self.bias = param(Tensor.zeros(shape, make_opts(o))) end
  end
  return self
end })

function LayerNorm:forward(x)
  check_input("LayerNorm", x)
  return x:layernorm(self.normalized_shape, { eps = self.eps, weight = self.weight, bias = self.bias })
end

function LayerNorm:describe() return list_str(self.normalized_shape) .. ", eps=" .. self.eps end

local RMSNorm = class("RMSNorm")
nn.RMSNorm = RMSNorm

-- RMSNorm(normalized_shape, {eps = 1e-6, elementwise_affine = true, dtype, device}):
-- x / sqrt(mean(x^2) + eps) * weight over the last dims; weight ones.
setmetatable(RMSNorm, { __call = function(_, normalized_shape, opts)
  local op = "RMSNorm"
  local shape = norm_shape(op, normalized_shape)
  local o = options(op, opts, { eps = true, elementwise_affine = true, dtype = true, device = true })
  local self = setmetatable({ normalized_shape = shape, eps = check_number(op, "eps", o.eps or 1e-6) }, RMSNorm)
  if o.elementwise_affine ~= false then self.weight = param(Tensor.ones(shape, make_opts(o))) end
  return self
end })

function RMSNorm:forward(x)
  check_input("RMSNorm", x)
  return x:rmsnorm(self.normalized_shape, { eps = self.eps, weight = self.weight })
end

function RMSNorm:describe() return list_str(self.normalized_shape) .. ", eps=" .. self.eps end

local GroupNorm = class("GroupNorm")
nn.GroupNorm = GroupNorm

-- GroupNorm(num_groups, num_channels, {eps = 1e-5, affine = true, dtype, device}): an
-- {N, C, ...} input is normalized per sample over each group of C/num_groups channels (and
-- all the dims after them); then * weight + bias per channel.
setmetatable(GroupNorm, { __call = function(_, num_groups, num_channels, opts)
  local op = "GroupNorm"
  check_count(op, "num_groups", num_groups)
  check_count(op, "num_channels", num_channels)
  if num_channels % num_groups ~= 0 then
    fail(op, string.format("num_channels %d must be divisible by num_groups %d", num_channels, num_groups), 2)
  end
  local o = options(op, opts, { eps = true, affine = true, dtype = true, device = true })
  local self = setmetatable({ num_groups = num_groups, num_channels = num_channels, eps = check_number(op, "eps", o.eps or 1e-5) }, GroupNorm)
  if o.affine ~= false then
    self.weight = param(Tensor.ones({ num_channels }, make_opts(o)))
    self.bias = param(Tensor.zeros({ num_channels }, make_opts(o)))
  end
  return self
end })

function GroupNorm:forward(x)
  local op = "GroupNorm"
  local s = check_channels(op, x, self.num_channels)
  local g = self.num_groups
  local per = T.numel(s) / (s[1] * g)
  local r = x:reshape(s[1], g, per):layernorm({ eps = self.eps }):reshape(s)
  local bshape = { 1, s[2] }
  for i = 3, #s do bshape[i] = 1 end
  if self.weight then r = r * self.weight:reshape(bshape) end
  if self.bias then r = r + self.bias:reshape(bshape) end
  return r
end

function GroupNorm:describe() return string.format("%d, %d, eps=%g", self.num_groups, self.num_channels, self.eps) end

-- ---- Embedding ----
local Embedding = class("Embedding")
nn.Embedding = Embedding

-- Embedding(num_embeddings, embedding_dim, {dtype, device}): weight {V, D} ~ N(0, 1).
-- layer(ids): ids hold 1-based integers (a tensor, or a Lua number or nested table); the result
-- has ids' shape plus D. An id outside 1..V gives a row of zeros (values are not checked: the
-- ids are lazy).
setmetatable(Embedding, { __call = function(_, num_embeddings, embedding_dim, opts)
  local op = "Embedding"
  check_count(op, "num_embeddings", num_embeddings)
  check_count(op, "embedding_dim", embedding_dim)
  local o = options(op, opts, { dtype = true, device = true })
  local self = setmetatable({ num_embeddings = num_embeddings, embedding_dim = embedding_dim }, Embedding)
  self.weight = param(Tensor.normal({ num_embeddings, embedding_dim }, 0, 1, make_opts(o)))
  return self
end })

function Embedding:forward(ids)
  local op = "Embedding"
  if not is_tensor(ids) then
    if type(ids) ~= "number" and type(ids) ~= "table" then fail(op, "ids must be an integer tensor, got " .. type(ids), 2) end
    ids = Tensor(ids, { dtype = dtypes.int32, device = self.weight.device })
  end
  if ids.dtype.is_float or ids.dtype.is_bool then
    fail(op, string.format("ids must be integers (1-based), got %s %s", ids.dtype.name, shape_str(ids.shape)), 2)
  end
  local V = self.num_embeddings
  local classes = Tensor.arange(1, V + 1, { dtype = ids.dtype, device = ids.device })
  local hit = ids:unsqueeze(-1):eq(classes):unsqueeze(-1)  -- {..., V, 1}
  return Tensor.where(hit, self.weight, 0):sum(-2)
end

function Embedding:describe() return string.format("%d, %d", self.num_embeddings, self.embedding_dim) end

-- ---- Sequential ----
local Sequential = class("Sequential")
nn.Sequential = Sequential

-- Sequential(l1, l2, ...) or Sequential{l1, l2, ...}: calls each in turn. Its layers are its
-- entries 1..n, so their state dict names start "1.", "2.", ...
setmetatable(Sequential, { __call = function(_, ...)
  local layers = { ... }
  if select("#", ...) == 1 and type(layers[1]) == "table" and getmetatable(layers[1]) == nil then layers = layers[1] end
  local self = setmetatable({}, Sequential)
  for i = 1, #layers do
    local f = layers[i]
    local mt = type(f) == "table" and getmetatable(f)
    if type(f) ~= "function" and not (mt and mt.__call) then
      fail("Sequential", string.format("layer %d is a %s, not callable", i, type(f)), 2)
    end
    self[i] = f
  end
  return self
end })

function Sequential:forward(x) return x:sequential(self) end
function Sequential:describe() return #self .. " layers" end

-- ---- walking a model ----
-- Keys in a deterministic order: numbers ascending, then strings in byte order. Keys of other
-- types, and strings starting with "_" (private fields), are not walked.
local function sorted_keys(tbl)
  local nums, strs = {}, {}
  for k in pairs(tbl) do
    if type(k) == "number" then nums[#nums + 1] = k
    elseif type(k) == "string" and k:sub(1, 1) ~= "_" then strs[#strs + 1] = k end
  end
  table.sort(nums)
  table.sort(strs)
  for _, s in ipairs(strs) do nums[#nums + 1] = s end
  return nums
end

local function key_name(k)
  if type(k) == "number" and k == math.floor(k) then return string.format("%d", k) end
  return tostring(k)
end

-- Calls visit(name, tensor) for every tensor under obj, depth first by sorted keys. A table is
-- entered once (shared or cyclic tables are not walked twice).
local function walk(obj, visit)
  local seen = {}
  local function go(v, prefix)
    if is_tensor(v) then visit(prefix, v); return end
    if type(v) ~= "table" or seen[v] then return end
    seen[v] = true
    for _, k in ipairs(sorted_keys(v)) do
      local name = key_name(k)
      go(v[k], prefix == "" and name or prefix .. "." .. name)
    end
  end
  go(obj, "")
end

-- The tensors with requires_grad under model, each once, in walk order (a frozen tensor, with
-- requires_grad = false, is left out, as are buffers such as running means).
function nn.parameters(model)
  if type(model) ~= "table" and not is_tensor(model) then error("parameters: expected a model (a table), got " .. type(model), 2) end
  local list, seen = {}, {}
  walk(model, function(_, t)
    if t.requires_grad and not seen[t] then
      seen[t] = true
      list[#list + 1] = t
    end
  end)
  return list
end

-- name -> tensor for every tensor under model (parameters and buffers), names joined with ".",
-- like torch's ("layers.1.weight"). The tensors themselves, not copies.
function nn.state_dict(model)
  if type(model) ~= "table" then error("state_dict: expected a model (a table), got " .. type(model), 2) end
  local sd = {}
  walk(model, function(name, t) sd[name] = t end)
  return sd
end

-- The names of state_dict(model), in walk order (a Lua table has no order of its own).
function nn.state_names(model)
  if type(model) ~= "table" then error("state_names: expected a model (a table), got " .. type(model), 2) end
  local names = {}
  walk(model, function(name) names[#names + 1] = name end)
  return names
end

-- Copies sd's tensors into model's (cast to the model tensor's dtype, moved to its device), then
-- realizes them all at once. Missing or unexpected names, a value that is not a tensor, or a
-- shape mismatch raise an error naming them, before anything changes. opts.strict = false
-- ignores missing and unexpected names (shapes are still checked).
function nn.load_state_dict(model, sd, opts)
  local op = "load_state_dict"
  if type(model) ~= "table" then error(op .. ": expected a model (a table), got " .. type(model), 2) end
  if type(sd) ~= "table" or is_tensor(sd) then error(op .. ": expected a state dict (a table of name -> tensor), got " .. type(sd), 2) end
  opts = options(op, opts, { strict = true })
  local strict = opts.strict ~= false
  local own, names = nn.state_dict(model), nn.state_names(model)
  local missing, unexpected, bad = {}, {}, {}
  for _, name in ipairs(names) do
    if sd[name] == nil then missing[#missing + 1] = name end
  end
  local given = {}
  for k, v in pairs(sd) do
    if type(k) ~= "string" then
      bad[#bad + 1] = string.format("key %s is not a string", tostring(k))
    elseif own[k] == nil then
      unexpected[#unexpected + 1] = k
    elseif not is_tensor(v) then
      bad[#bad + 1] = string.format("%s is a %s, not a tensor", k, type(v))
    else
      given[#given + 1] = k
      local ms, ss = own[k].shape, v.shape
      local same = #ms == #ss
      for i = 1, #ms do same = same and ms[i] == ss[i] end
      if not same then
        bad[#bad + 1] = string.format("size mismatch for %s: the model has %s, the state dict has %s", k, shape_str(ms), shape_str(ss))
      end
    end
  end
  table.sort(missing); table.sort(unexpected); table.sort(bad); table.sort(given)
  local problems = {}
  if strict and #missing > 0 then problems[#problems + 1] = "missing keys: " .. table.concat(missing, ", ") end
  if strict and #unexpected > 0 then problems[#problems + 1] = "unexpected keys: " .. table.concat(unexpected, ", ") end
  for _, b in ipairs(bad) do problems[#problems + 1] = b end
  if #problems > 0 then error(op .. ": " .. table.concat(problems, "; "), 2) end
  local done = {}
  for _, name in ipairs(given) do
    local dst, src = own[name], sd[name]
    if dst.h ~= src.h then
      if src.device ~= dst.device then src = src:to(dst.device) end
      if src.dtype ~= dst.dtype then src = src:cast(dst.dtype) end
      dst:assign(src)
    end
    done[#done + 1] = dst
  end
  nn._realize_list(done, op)
  return model
end

return nn
