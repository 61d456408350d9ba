-- Reductions and scans built on the primitives: var, std, any, all, argmax, argmin, logsumexp,
-- softmax, log_softmax, cumsum, cumprod, cummax, cummin, topk, sort, argsort.
-- Everything stays lazy: no value is read back to Lua. Positions are 1-based (dims and the
-- index tensors returned, which are int32). See docs/reductions.md for the semantics chosen.
--
-- Cost: the scans (cum*) and the rank-based ops (sort, argsort, topk) compare every pair of
-- positions along the dim, so they use O(n^2) elements per line of length n (topk's selection
-- O(n*k)). That is fine for the small sizes they are meant for here.
local T = require("moongrad.tensor")
local dtypes = T.dtypes
local Tensor, shape_of, shape_str, numel = T.Tensor, T.shape_of, T.shape_str, T.numel
local movement, reduce, is_tensor = T.movement, T.reduce, T.is_tensor

-- ---- arguments ----

-- (dim, opts) from the forms x:f(), x:f(dim), x:f(dim, opts), x:f(opts).
local function dim_and_opts(dim, opts)
  if type(dim) == "table" and not is_tensor(dim) and dim[1] == nil and next(dim) ~= nil then
    return nil, dim
  end
  return dim, opts or {}
end

-- A 1-based (or negative) dim to a 0-based axis; the error names the op and the shape.
-- A 0-d tensor accepts 1 and -1, like torch accepts 0 and -1 (callers view it as {1}).
local function axis_of(s, d, op)
  if type(d) ~= "number" or d ~= math.floor(d) then
    error(string.format("%s: dim must be an integer, got %s", op, tostring(d)), 4)
  end
  local n = math.max(#s, 1)
  local a = d < 0 and d + n + 1 or d
  if a < 1 or a > n then
    error(string.format("%s: dim %d out of range for a tensor of shape %s (expected 1..%d or -%d..-1)",
      op, d, shape_str(s), n, n), 4)
  end
  return a - 1
end

-- dim: nil (all dims), a number or a list of numbers -> sorted 0-based axes.
local function axes_of(s, dim, op)
  local axes = {}
  if dim == nil then
    for i = 1, #s do axes[i] = i - 1 end
  elseif type(dim) == "table" and not is_tensor(dim) then
    local seen = {}
    for i = 1, #dim do
      local a = axis_of(s, dim[i], op)
      if seen[a] then error(string.format("%s: dim %d appears twice in {%s}", op, dim[i], table.concat(dim, ", ")), 3) end
      seen[a] = true
      axes[#axes + 1] = a
    end
    table.sort(axes)
  else
    axes[1] = axis_of(s, dim, op)
  end
  if #s == 0 then axes = {} end  -- a 0-d tensor: nothing to reduce
  return axes
end

-- The shape after reducing axes (kept as 1 with keepdim, dropped otherwise).
local function reduced_shape(s, axes, keepdim)
  local gone, r = {}, {}
  for _, a in ipairs(axes) do gone[a + 1] = true end
  for i = 1, #s do
    if not gone[i] then r[#r + 1] = s[i] elseif keepdim then r[#r + 1] = 1 end
  end
  return r
end

local function count(s, axes)
  local n = 1
  for _, a in ipairs(axes) do n = n * s[a + 1] end
  return n
end

local float_of = T.float_of

-- The tensor seen along one dim: 0-d tensors become {1}; dim nil means the flattened tensor
-- when flat is set. Returns x, the 0-based axis, and the shape to give results back (nil: x's).
local function along(t, dim, op, flat)
  local s = shape_of(t)
  if dim == nil and flat then
    local x = movement("reshape", t, { numel(s) })
    return x, 0, nil
  end
  if dim == nil then error(op .. ": dim is required for a tensor of shape " .. shape_str(s), 3) end
  local a = axis_of(s, dim, op)
  if #s == 0 then return movement("reshape", t, { 1 }), 0, {} end
  return t, a, nil
end

-- A 1-based index 1..n (int32) laid along axis a of a tensor with nd dims (ones elsewhere).
local function positions(n, a, nd, device, first, step)
  local shape = {}
  for i = 1, nd do shape[i] = 1 end
  shape[a + 1] = n
  first, step = first or 1, step or 1
  local r = Tensor.arange(first, first + n * step, step, { device = device })
  if n == 0 then r = T.full_raw({ 0 }, 0, dtypes.int32, device) end
  return movement("reshape", r, shape)
end

-- Inserts a dim of size 1 before 0-based axis a.
local function unsqueeze_at(x, a)
  local s = shape_of(x)
  table.insert(s, a + 1, 1)
  return movement("reshape", x, s)
end

-- Order-reversing map (for argmin, cummin): keeps NaN for floats, no overflow for integers.
local function reverse_order(x)
  local dt = x.dtype
  if dt.is_float then return Tensor.neg(x) end
  if dt.is_bool then return Tensor.logical_not(x) end
  return Tensor.bitwise_not(x)
end

-- Comparisons that order NaN above everything (as torch's sort does) and NaN equal to NaN.
local function less(a, b)
  local r = Tensor.lt(a, b)
  if a.dtype.is_float then
    r = Tensor.logical_or(r, Tensor.logical_and(Tensor.isnan(b), Tensor.logical_not(Tensor.isnan(a))))
  end
  return r
end
local function same(a, b)
  local r = Tensor.eq(a, b)
  if a.dtype.is_float then r = Tensor.logical_or(r, Tensor.logical_and(Tensor.isnan(a), Tensor.isnan(b))) end
  return r
end

-- ---- var, std ----

local function variance(t, dim, opts, op)
  dim, opts = dim_and_opts(dim, opts)
  local s = shape_of(t)
  local axes = axes_of(s, dim, op)
  local n = count(s, axes)
  local correction = opts.correction
  if opts.unbiased ~= nil then
    if correction ~= nil then error(op .. ": give correction or unbiased, not both", 3) end
    correction = opts.unbiased and 1 or 0
  end
  if correction == nil then correction = 1 end
  if type(correction) ~= "number" or correction < 0 then
    error(op .. ": correction must be a number >= 0, got " .. tostring(correction), 3)
  end
  if n > 0 and correction > n then
    local dims = {}
    for i, a in ipairs(axes) do dims[i] = a + 1 end
    error(string.format("%s: correction %s is larger than the %d elements reduced (dims {%s} of shape %s)",
      op, tostring(correction), n, table.concat(dims, ", "), shape_str(s)), 3)
  end
  local x = float_of(t)
  local mean = Tensor.div(reduce("sum", x, axes), n)
  local d = Tensor.sub(x, mean)
  local r = Tensor.div(reduce("sum", Tensor.mul(d, d), axes), math.max(0, n - correction))
  return movement("reshape", r, reduced_shape(s, axes, opts.keepdim))
end

function Tensor.var(t, dim, opts) return variance(t, dim, opts, "var") end
function Tensor.std(t, dim, opts) return Tensor.sqrt(variance(t, dim, opts, "std")) end

-- ---- any, all ----

local function as_bool(t) return t.dtype.is_bool and t or Tensor.ne(t, 0) end

function Tensor.any(t, dim, opts)
  dim, opts = dim_and_opts(dim, opts)
  local s = shape_of(t)
  local axes = axes_of(s, dim, "any")
  return movement("reshape", reduce("max", as_bool(t), axes), reduced_shape(s, axes, opts.keepdim))
end

function Tensor.all(t, dim, opts)
  dim, opts = dim_and_opts(dim, opts)
  local s = shape_of(t)
  local axes = axes_of(s, dim, "all")
  local none_false = Tensor.logical_not(reduce("max", Tensor.logical_not(as_bool(t)), axes))
  return movement("reshape", none_false, reduced_shape(s, axes, opts.keepdim))
end

-- ---- argmax, argmin ----

local function arg_extreme(t, dim, opts, op, flip)
  dim, opts = dim_and_opts(dim, opts)
  local s = shape_of(t)
  if type(dim) == "table" then error(op .. ": dim must be a single integer, got a table", 3) end
  local x, a = along(t, dim, op, true)
  local n = shape_of(x)[a + 1]
  if n == 0 then
    error(string.format("%s: cannot take the %s of an empty dim (tensor of shape %s)", op, op, shape_str(s)), 3)
  end
  if flip then x = reverse_order(x) end
  local m = reduce("max", x, { a })
  local hit = Tensor.eq(x, m)
  if x.dtype.is_float then hit = Tensor.logical_or(hit, Tensor.isnan(x)) end  -- NaN wins, as in torch
  -- n - i + 1 at position i: the largest among the hits is the first hit
  local rev = positions(n, a, #shape_of(x), t.device, n, -1)
  local best = reduce("max", Tensor.where(hit, rev, 0), { a })
  local idx = Tensor.sub(n + 1, best)
  local keep
  if dim == nil then
    keep = {}
    if opts.keepdim then for i = 1, #s do keep[i] = 1 end end
  else
    keep = #s == 0 and {} or reduced_shape(s, { a }, opts.keepdim)
  end
  return movement("reshape", idx, keep)
end

function Tensor.argmax(t, dim, opts) return arg_extreme(t, dim, opts, "argmax", false) end
function Tensor.argmin(t, dim, opts) return arg_extreme(t, dim, opts, "argmin", true) end

-- ---- logsumexp, softmax, log_softmax ----

function Tensor.logsumexp(t, dim, opts)
  dim, opts = dim_and_opts(dim, opts)
  local s = shape_of(t)
  local axes = axes_of(s, dim, "logsumexp")
  local x = float_of(t)
  local m = Tensor.detach(reduce("max", x, axes))
  -- an infinite max would give inf - inf: shift by 0 there (all -inf gives -inf, any +inf gives +inf)
  m = Tensor.where(Tensor.isinf(m), 0, m)
  local r = Tensor.add(Tensor.log(reduce("sum", Tensor.exp(Tensor.sub(x, m)), axes)), m)
  return movement("reshape", r, reduced_shape(s, axes, opts.keepdim))
end

local function softmax_parts(t, dim, opts, op)
  if dim == nil or (type(dim) == "table" and not is_tensor(dim)) then
    error(op .. ": dim is required (e.g. x:" .. op .. "(-1)) for a tensor of shape " .. shape_str(shape_of(t)), 3)
  end
  opts = opts or {}
  local x, a, back = along(t, dim, op)
  x = opts.dtype and x:cast(opts.dtype) or float_of(x)
  local shifted = Tensor.sub(x, reduce("max", x, { a }))
  return shifted, a, back
end

function Tensor.softmax(t, dim, opts)
  local shifted, a, back = softmax_parts(t, dim, opts, "softmax")
  local e = Tensor.exp(shifted)
  local r = Tensor.div(e, reduce("sum", e, { a }))
  return back and movement("reshape", r, back) or r
end

function Tensor.log_softmax(t, dim, opts)
  local shifted, a, back = softmax_parts(t, dim, opts, "log_softmax")
  local r = Tensor.sub(shifted, Tensor.log(reduce("sum", Tensor.exp(shifted), { a })))
  return back and movement("reshape", r, back) or r
end

-- ---- cumulative ops ----
-- Along axis a of length n: x is viewed as (.., 1, n, ..) with the window axis j after a, and a
-- lower-triangular mask (.., n, n, ..) keeps j <= i; reducing over j gives position i.

local function prefix_mask(n, a, nd, device)
  local i = positions(n, a, nd + 1, device)
  local j = positions(n, a + 1, nd + 1, device)
  return Tensor.le(j, i)
end

local function scan_setup(t, dim, opts, op)
  dim, opts = dim_and_opts(dim, opts)
  local x, a, back = along(t, dim, op, true)
  if opts.dtype then x = x:cast(opts.dtype) end
  local s = shape_of(x)
  local xu = unsqueeze_at(x, a)  -- (.., 1, n, ..): the window axis j is a + 1
  return x, xu, a, s, prefix_mask(s[a + 1], a, #s, t.device), back
end

local function give_back(r, back) return back and movement("reshape", r, back) or r end

function Tensor.cumsum(t, dim, opts)
  local _, xu, a, _, mask, back = scan_setup(t, dim, opts, "cumsum")
  return give_back(Tensor.sum(Tensor.where(mask, xu, 0), a + 2), back)  -- sum widens like sum does
end

function Tensor.cumprod(t, dim, opts)
  local _, xu, a, _, mask, back = scan_setup(t, dim, opts, "cumprod")
  return give_back(Tensor.prod(Tensor.where(mask, xu, 1), a + 2), back)
end

-- Values and 1-based indices of the running max; ties give the last index, a NaN sticks and
-- each later NaN takes over the index (torch's rule).
local function cum_extreme(t, dim, opts, op, flip)
  local x, xu, a, s, mask, back = scan_setup(t, dim, opts, op)
  local n = s[a + 1]
  if n == 0 then
    return give_back(x, back), give_back(T.full_raw(s, 0, dtypes.int32, t.device), back)
  end
  if flip then x, xu = reverse_order(x), reverse_order(xu) end
  -- outside the window use the line's first element, which every window holds
  local shrink = {}
  for i = 1, #s do shrink[2 * i - 1], shrink[2 * i] = 0, s[i] end
  shrink[2 * a + 2] = 1
  local first = unsqueeze_at(movement("shrink", x, shrink), a)
  local values = reduce("max", Tensor.where(mask, xu, first), { a + 1 })  -- (.., n, 1, ..)
  local hit = Tensor.eq(xu, values)
  if x.dtype.is_float then hit = Tensor.logical_or(hit, Tensor.isnan(xu)) end
  hit = Tensor.logical_and(hit, mask)
  local j = positions(n, a + 1, #s + 1, t.device)
  local idx = reduce("max", Tensor.where(hit, j, 0), { a + 1 })
  values = movement("reshape", values, s)
  if flip then values = reverse_order(values) end
  return give_back(values, back), give_back(movement("reshape", idx, s), back)
end

function Tensor.cummax(t, dim, opts) return cum_extreme(t, dim, opts, "cummax", false) end
function Tensor.cummin(t, dim, opts) return cum_extreme(t, dim, opts, "cummin", true) end

-- ---- sort, argsort, topk ----
-- rank_i = #{j : x_j comes before x_i}, with "before" strict in value order and ties broken by
-- position (stable). Output position r then takes the element whose rank is r (a one-hot select).

local function ranked(x, a, k, descending, device)
  local s = shape_of(x)
  local n, nd = s[a + 1], #s
  local xi, xj = unsqueeze_at(x, a + 1), unsqueeze_at(x, a)  -- (.., n, 1, ..) and (.., 1, n, ..)
  local before = descending and less(xi, xj) or less(xj, xi)
  local earlier = Tensor.lt(positions(n, a + 1, nd + 1, device), positions(n, a, nd + 1, device))
  before = Tensor.logical_or(before, Tensor.logical_and(same(xi, xj), earlier))
  local rank = Tensor.sum(before, a + 2)  -- int32, 0-based, a permutation of 0..n-1 per line
  -- one-hot (.., k, n, ..): output position r (axis a) takes input position i (axis a + 1)
  local pick = Tensor.eq(unsqueeze_at(rank, a), positions(k, a, nd + 1, device, 0))
  local xu = unsqueeze_at(x, a)
  local values
  if x.dtype.is_float then
    values = reduce("max", Tensor.where(pick, xu, -math.huge), { a + 1 })  -- keeps -0.0 and NaN
  elseif x.dtype.is_bool then
    -- a false tensor, not the literal: T.operands mishandles a literal false operand
    local no = T.full_raw({}, 0, dtypes.bool, device)
    values = reduce("max", Tensor.where(pick, xu, no), { a + 1 })
  else
    values = reduce("sum", Tensor.where(pick, xu, 0), { a + 1 })  -- one nonzero term: no overflow
  end
  local idx = reduce("sum", Tensor.where(pick, positions(n, a + 1, nd + 1, device), 0), { a + 1 })
  local out = {}
  for i = 1, nd do out[i] = s[i] end
  out[a + 1] = k
  return movement("reshape", values, out), movement("reshape", idx, out)
end

local function sort_args(t, dim, opts)
  if type(dim) == "table" and not is_tensor(dim) then dim, opts = nil, dim end
  return dim == nil and -1 or dim, opts or {}
end

function Tensor.sort(t, dim, opts)
  dim, opts = sort_args(t, dim, opts)
  local x, a, back = along(t, dim, "sort")
  local v, i = ranked(x, a, shape_of(x)[a + 1], opts.descending, t.device)
  return give_back(v, back), give_back(i, back)
end

function Tensor.argsort(t, dim, opts)
  local _, i = Tensor.sort(t, dim, opts)
  return i
end

function Tensor.topk(t, k, dim, opts)
  dim, opts = sort_args(t, dim, opts)
  local s = shape_of(t)
  local x, a, back = along(t, dim, "topk")
  local n = shape_of(x)[a + 1]
  if type(k) ~= "number" or k ~= math.floor(k) or k < 0 or k > n then
    error(string.format("topk: k = %s is out of range for dim %d of size %d (tensor of shape %s); expected 0..%d",
      tostring(k), dim, n, shape_str(s), n), 2)
  end
  local v, i = ranked(x, a, k, opts.largest ~= false, t.device)  -- always sorted
  if back and k == 1 then return give_back(v, back), give_back(i, back) end
  return v, i
end

return Tensor
