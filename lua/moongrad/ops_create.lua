-- Creation from ranges: arange, linspace, eye.
local ffi = require("ffi")
local core = require("moongrad.core")
local T = require("moongrad.tensor")
local dtypes = T.dtypes
local Tensor = T.Tensor

-- These build their values on the host, element by element: a sane bound keeps a typo such
-- as arange(1e12) an error instead of an hour of filling a Lua table.
local MAX_HOST_ELEMENTS = 2 ^ 27
local function check_count(op, n)
  if n > MAX_HOST_ELEMENTS then
    error(string.format("%s: %.0f elements is more than the %d it builds on the host", op, n, MAX_HOST_ELEMENTS), 3)
  end
end

-- {1, ..., n} without a buffer: the ones in a window sliding over n-1 zeros then n ones, a sum
-- that codegen folds to the loop position, so that a one-hot gather through it (x[idx]) folds to
-- one load. REF evaluates op by op, where that sum would cost n^2: it gets host-built values.
local function lazy_count(n, dt, device)
  local ones = T.movement("pad", T.full_raw({ n }, 1, dt, device), { n - 1, 0 })
  local w = T.movement("window", ones, { n, 1, 1 })
  return T.movement("reshape", T.reduce("sum", w, { 1 }), { n })
end

-- Half-open like tinygrad: arange(3) is {0, 1, 2}; arange(start, stop, step).
function Tensor.arange(start, stop, step, opts)
  if type(stop) == "table" then stop, step, opts = nil, nil, stop
  elseif type(step) == "table" then step, opts = nil, step end
  if stop == nil then start, stop = 0, start end
  step = step or 1
  if type(start) ~= "number" or type(stop) ~= "number" or type(step) ~= "number" then error("arange: expected numbers", 2) end
  if step == 0 then error("arange: step must not be 0", 2) end
  local n = math.max(0, math.ceil((stop - start) / step))
  check_count("arange", n)
  local all_int = start == math.floor(start) and step == math.floor(step)
  local dt = opts and opts.dtype and dtypes.get(opts.dtype) or (all_int and dtypes.int32 or T.default_float)
  local device = opts and opts.device or ffi.string(core.C.mg_default_device(core.ctx))
  if all_int and not dt.is_float and n > 0 and device ~= "REF" then
    local r = lazy_count(n, dt, device)
    if step ~= 1 then r = (r - 1) * step + start elseif start ~= 1 then r = r + (start - 1) end
    return r
  end
  local list = {}
  for i = 1, n do list[i] = start + (i - 1) * step end
  return T.from_list(list, { n }, dt, opts and opts.device)
end

function Tensor.linspace(start, stop, steps, opts)
  if type(steps) ~= "number" or steps < 0 or steps ~= math.floor(steps) then error("linspace: steps must be an integer >= 0", 2) end
  check_count("linspace", steps)
  local list = {}
  for i = 1, steps do list[i] = steps == 1 and start or start + (stop - start) * (i - 1) / (steps - 1) end
  local dt = opts and opts.dtype and dtypes.get(opts.dtype) or T.default_float
  return T.from_list(list, { steps }, dt, opts and opts.device)
end

function Tensor.eye(n, m, opts)
  if type(m) == "table" then m, opts = nil, m end
  m = m or n
  if type(n) ~= "number" or type(m) ~= "number" or n < 0 or m < 0 or n ~= math.floor(n) or m ~= math.floor(m) then
    error("eye: sizes must be integers >= 0", 2)
  end
  check_count("eye", n * m)
  local list = {}
  for i = 1, n do for j = 1, m do list[#list + 1] = (i == j) and 1 or 0 end end
  local dt = opts and opts.dtype and dtypes.get(opts.dtype) or T.default_float
  return T.from_list(list, { n, m }, dt, opts and opts.device)
end

return Tensor
