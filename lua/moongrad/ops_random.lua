-- Random tensors on top of Tensor.rand (uniform in [0, 1), reproducible with mg.manual_seed):
-- randn, randint, uniform, normal, kaiming_uniform, glorot_uniform. Every one takes
-- {dtype =, device =} as a trailing options table.
local T = require("moongrad.tensor")
local dtypes = T.dtypes
local Tensor, shape_str, numel = T.Tensor, T.shape_str, T.numel

local function fail(op, msg) error(op .. ": " .. msg, 0) end

local function check_shape(op, s)
  if type(s) ~= "table" or T.is_tensor(s) then fail(op, "expected a shape (a table of sizes), got " .. type(s)) end
  for _, d in ipairs(s) do
    if type(d) ~= "number" or d ~= math.floor(d) or d < 0 then fail(op, "sizes must be integers >= 0, got " .. shape_str(s)) end
  end
  return s
end

local function check_number(op, what, v)
  if type(v) ~= "number" or v ~= v then fail(op, what .. " must be a number, got " .. tostring(v)) end
  return v
end

-- The float dtype to compute in: the requested one when it is float64, else float32.
local function work_dtype(dt)
  return dt == dtypes.float64 and dtypes.float64 or dtypes.float32
end

local function out_dtype(opts, default)
  return opts and opts.dtype and dtypes.get(opts.dtype) or default
end

-- Standard normal samples (Box-Muller: two uniforms per sample).
function Tensor.randn(...)
  local s, opts = T.sizes_and_opts(...)
  check_shape("randn", s)
  local dt = out_dtype(opts, T.default_float)
  local wd = work_dtype(dt)
  local two = { 2 }
  for i = 1, #s do two[i + 1] = s[i] end
  local u = Tensor.rand(two, { dtype = wd, device = opts and opts.device })
  local n = numel(s)
  local flat = u:reshape(2, n)
  local u1 = flat:shrink{ { 1, 1 }, {} }:reshape(s)
  local u2 = flat:shrink{ { 2, 2 }, {} }:reshape(s)
  -- 1 - u1 is in (0, 1], so the log is finite
  local r = Tensor.sqrt(Tensor.mul(Tensor.log(Tensor.sub(1, u1)), -2))
  local z = Tensor.mul(Tensor.cos(Tensor.mul(u2, 2 * math.pi)), r)
  if z.dtype ~= dt then z = z:cast(dt) end
  return z
end

-- Uniform in [low, high).
function Tensor.uniform(shape, low, high, opts)
  if type(low) == "table" then low, high, opts = nil, nil, low elseif type(high) == "table" then high, opts = nil, high end
  check_shape("uniform", shape)
  low, high = check_number("uniform", "low", low or 0), check_number("uniform", "high", high or 1)
  if high < low then fail("uniform", string.format("high %s is less than low %s", high, low)) end
  local dt = out_dtype(opts, T.default_float)
  local u = Tensor.rand(shape, { dtype = work_dtype(dt), device = opts and opts.device })
  local r = Tensor.add(Tensor.mul(u, high - low), low)
  if r.dtype ~= dt then r = r:cast(dt) end
  return r
end

-- Normal with the given mean (default 0) and standard deviation (default 1).
function Tensor.normal(shape, mean, std, opts)
  if type(mean) == "table" then mean, std, opts = nil, nil, mean elseif type(std) == "table" then std, opts = nil, std end
  check_shape("normal", shape)
  mean, std = check_number("normal", "mean", mean or 0), check_number("normal", "std", std or 1)
  if std < 0 then fail("normal", "std must be >= 0, got " .. std) end
  local dt = out_dtype(opts, T.default_float)
  local z = Tensor.randn(shape, { dtype = work_dtype(dt), device = opts and opts.device })
  local r = Tensor.add(Tensor.mul(z, std), mean)
  if r.dtype ~= dt then r = r:cast(dt) end
  return r
end

-- Integers uniform in [low, high) (high exclusive, like torch); randint(shape, high) means low 0.
-- int32 unless {dtype =} says otherwise.
function Tensor.randint(shape, low, high, opts)
  if type(high) == "table" then high, opts = nil, high end
  if high == nil then low, high = 0, low end
  check_shape("randint", shape)
  for _, v in ipairs({ low, high }) do
    if type(v) ~= "number" or v ~= math.floor(v) then fail("randint", "low and high must be integers, got " .. tostring(v)) end
  end
  if high <= low then fail("randint", string.format("high %d must be greater than low %d", high, low)) end
  local dt = out_dtype(opts, dtypes.int32)
  -- float64 keeps floor(u * range) below range for every u < 1 the generator can give
  local u = Tensor.rand(shape, { dtype = dtypes.float32, device = opts and opts.device }):cast(dtypes.float64)
  local k = Tensor.floor(Tensor.mul(u, high - low))
  k = Tensor.minimum(k, high - low - 1)
  return Tensor.add(k, low):cast(dt)
end

-- torch's fans: fan_in = shape[2] * prod(shape[3..]), fan_out = shape[1] * prod(shape[3..]).
local function fans(op, s)
  if #s < 2 then fail(op, "needs a shape of at least 2 dims to compute fan in and fan out, got " .. shape_str(s)) end
  local field = 1
  for i = 3, #s do field = field * s[i] end
  return s[2] * field, s[1] * field
end

-- torch.nn.init.kaiming_uniform_ (fan_in, leaky_relu): bound = sqrt(3) * gain / sqrt(fan_in),
-- gain = sqrt(2 / (1 + a^2)); a defaults to sqrt(5), what nn.Linear and nn.Conv2d use.
function Tensor.kaiming_uniform(...)
  local s, opts = T.sizes_and_opts(...)
  check_shape("kaiming_uniform", s)
  local a = opts and opts.a or math.sqrt(5)
  check_number("kaiming_uniform", "a", a)
  local fan_in = fans("kaiming_uniform", s)
  if fan_in == 0 then fail("kaiming_uniform", "fan_in is 0 for shape " .. shape_str(s)) end
  local bound = math.sqrt(3) * math.sqrt(2 / (1 + a * a)) / math.sqrt(fan_in)
  return Tensor.uniform(s, -bound, bound, opts)
end

-- torch.nn.init.xavier_uniform_: bound = gain * sqrt(6 / (fan_in + fan_out)), gain 1 unless given.
function Tensor.glorot_uniform(...)
  local s, opts = T.sizes_and_opts(...)
  check_shape("glorot_uniform", s)
  local fan_in, fan_out = fans("glorot_uniform", s)
  if fan_in + fan_out == 0 then fail("glorot_uniform", "fan_in + fan_out is 0 for shape " .. shape_str(s)) end
  local gain = opts and opts.gain or 1
  local bound = gain * math.sqrt(6 / (fan_in + fan_out))
  return Tensor.uniform(s, -bound, bound, opts)
end
Tensor.xavier_uniform = Tensor.glorot_uniform

return Tensor
