-- Combining and rearranging tensors: cat, stack, split, chunk, roll, narrow, select, gather,
-- scatter, diag, tril, triu, masked_fill, repeat, repeat_interleave, and pad's non-constant modes.
-- Dims, indices and index tensors are 1-based (negative counts from the end).
local T = require("moongrad.tensor")
local dtypes = T.dtypes
local Tensor, axis, shape_of, shape_str, numel = T.Tensor, T.axis, T.shape_of, T.shape_str, T.numel
local movement, is_tensor, full_raw, alu = T.movement, T.is_tensor, T.full_raw, T.alu

local function fail(op, msg) error(op .. ": " .. msg, 0) end
local function is_int(v) return type(v) == "number" and v == math.floor(v) and v == v and v ~= math.huge and v ~= -math.huge end
local function check_int(op, what, v)
  if not is_int(v) then fail(op, what .. " must be an integer, got " .. tostring(v)) end
  return v
end

-- A dim (1-based or negative) to 0-based, raising with the op's name.
local function dim0(op, d, nd)
  if not is_int(d) then fail(op, "dim must be an integer, got " .. tostring(d)) end
  local a = d < 0 and d + nd + 1 or d
  if a < 1 or a > nd then
    fail(op, string.format("dim %d out of range for a tensor of %d dims (expected 1..%d or -%d..-1)", d, nd, nd, nd))
  end
  return a - 1
end

-- Shrinks dim a (0-based) to [first, last) (0-based, half-open).
local function crop(t, a, first, last, s)
  s = s or shape_of(t)
  if first == 0 and last == s[a + 1] then return t end
  local arg = {}
  for i = 1, #s do arg[2 * i - 1], arg[2 * i] = 0, s[i] end
  arg[2 * a + 1], arg[2 * a + 2] = first, last
  return movement("shrink", t, arg)
end

local function pad_dim(t, a, before, after, s)
  s = s or shape_of(t)
  if before == 0 and after == 0 then return t end
  local arg = {}
  for i = 1, #s do arg[2 * i - 1], arg[2 * i] = 0, 0 end
  arg[2 * a + 1], arg[2 * a + 2] = before, after
  return movement("pad", t, arg)
end

local function ones_list(n) local r = {} for i = 1, n do r[i] = 1 end return r end
local function zeros_like(t) return full_raw(shape_of(t), 0, t.dtype, t.device) end

-- ---- cat and stack ----
-- Tensor.cat({a, b, ...}, dim) or a:cat(b, c, ..., dim); dim defaults to 1.
local function tensors_and_dim(op, ...)
  local first = ...
  local list, dim = {}, nil
  if is_tensor(first) then
    for i = 1, select("#", ...) do
      local v = select(i, ...)
      if is_tensor(v) then list[#list + 1] = v
      elseif type(v) == "table" then for _, x in ipairs(v) do list[#list + 1] = x end
      elseif type(v) == "number" then dim = v
      elseif v ~= nil then fail(op, "expected tensors and a dim, got " .. type(v)) end
    end
  elseif type(first) == "table" then
    for i, x in ipairs(first) do list[i] = x end
    dim = select(2, ...)
  else
    fail(op, "expected a list of tensors, got " .. type(first))
  end
  if #list == 0 then fail(op, "expected at least one tensor") end
  for i, x in ipairs(list) do
    if not is_tensor(x) then fail(op, "element " .. i .. " is not a tensor (" .. type(x) .. ")") end
  end
  return list, dim or 1
end

local function cat(list, dim, op)
  local s1 = shape_of(list[1])
  local nd = #s1
  if nd == 0 then fail(op, "cannot concatenate 0-d tensors (use stack)") end
  local a = dim0(op, dim, nd)
  local dt, dev = list[1].dtype, list[1].device
  local shapes, total = {}, 0
  for i, x in ipairs(list) do
    local s = shape_of(x)
    if #s ~= nd then
      fail(op, string.format("tensor %d has %d dims %s, tensor 1 has %d %s", i, #s, shape_str(s), nd, shape_str(s1)))
    end
    for j = 1, nd do
      if j ~= a + 1 and s[j] ~= s1[j] then
        fail(op, string.format("sizes must match except in dim %d: tensor %d is %s, tensor 1 is %s", a + 1, i, shape_str(s), shape_str(s1)))
      end
    end
    if x.device ~= dev then fail(op, "tensor " .. i .. " is on " .. x.device .. ", tensor 1 on " .. dev) end
    dt = dtypes.promote(dt, x.dtype)
    shapes[i], total = s, total + s[a + 1]
  end
  if #list == 1 then return list[1].dtype == dt and list[1] or list[1]:cast(dt) end
  -- each piece padded to the full size; a mask of where it sits picks it (exact for every value)
  local acc, before = nil, 0
  for i, x in ipairs(list) do
    local n = shapes[i][a + 1]
    if x.dtype ~= dt then x = x:cast(dt) end
    local placed = pad_dim(x, a, before, total - before - n, shapes[i])
    if acc == nil then
      acc = placed
    elseif n > 0 then
      local mask = pad_dim(full_raw(shapes[i], 1, dtypes.bool, dev), a, before, total - before - n, shapes[i])
      acc = alu("where", mask, placed, acc)
    end
    before = before + n
  end
  return acc
end

function Tensor.cat(...)
  local list, dim = tensors_and_dim("cat", ...)
  return cat(list, dim, "cat")
end
Tensor.concatenate = Tensor.cat

function Tensor.stack(...)
  local list, dim = tensors_and_dim("stack", ...)
  local s1 = shape_of(list[1])
  local a = dim0("stack", dim, #s1 + 1)
  local parts = {}
  for i, x in ipairs(list) do
    local s = shape_of(x)
    if shape_str(s) ~= shape_str(s1) then
      fail("stack", string.format("all tensors must have the same shape: tensor %d is %s, tensor 1 is %s", i, shape_str(s), shape_str(s1)))
    end
    table.insert(s, a + 1, 1)
    parts[i] = movement("reshape", x, s)
  end
  return cat(parts, a + 1, "stack")
end

-- ---- split, chunk, narrow, select ----
-- split(size, dim): pieces of `size` (the last may be smaller); split({s1, s2, ...}, dim): those
-- sizes, which must add up to the dim's size. Returns a Lua list of tensors.
function Tensor.split(t, sizes, dim)
  local s = shape_of(t)
  if #s == 0 then fail("split", "cannot split a 0-d tensor") end
  local a = dim0("split", dim or 1, #s)
  local n = s[a + 1]
  local list = {}
  if type(sizes) == "number" then
    check_int("split", "size", sizes)
    if sizes <= 0 and not (sizes == 0 and n == 0) then fail("split", "size must be positive, got " .. sizes) end
    if n == 0 then return { t } end
    local first = 0
    while first < n do
      local last = math.min(first + sizes, n)
      list[#list + 1] = crop(t, a, first, last, s)
      first = last
    end
  elseif type(sizes) == "table" then
    local total = 0
    for _, v in ipairs(sizes) do
      check_int("split", "sizes", v)
      if v < 0 then fail("split", "sizes must be >= 0, got " .. v) end
      total = total + v
    end
    if total ~= n then
      fail("split", string.format("sizes %s add up to %d, but dim %d of %s has size %d", shape_str(sizes), total, a + 1, shape_str(s), n))
    end
    local first = 0
    for _, v in ipairs(sizes) do
      list[#list + 1] = crop(t, a, first, first + v, s)
      first = first + v
    end
  else
    fail("split", "expected a size or a list of sizes, got " .. type(sizes))
  end
  return list
end

-- chunk(n, dim): like torch, pieces of ceil(size / n), so there may be fewer than n.
function Tensor.chunk(t, n, dim)
  check_int("chunk", "number of chunks", n)
  if n <= 0 then fail("chunk", "number of chunks must be positive, got " .. n) end
  local s = shape_of(t)
  if #s == 0 then fail("chunk", "cannot chunk a 0-d tensor") end
  local a = dim0("chunk", dim or 1, #s)
  local size = math.ceil(s[a + 1] / n)
  if size == 0 then return { t } end  -- an empty dim is one (empty) chunk, however many were asked
  return Tensor.split(t, size, a + 1)
end

-- narrow(dim, start, length): `length` elements from `start` (1-based, negative from the end).
function Tensor.narrow(t, dim, start, length)
  local s = shape_of(t)
  local a = dim0("narrow", dim, #s)
  local n = s[a + 1]
  check_int("narrow", "start", start); check_int("narrow", "length", length)
  local i = start < 0 and start + n + 1 or start
  if i < 1 or i > n + 1 or length < 0 or i - 1 + length > n then
    fail("narrow", string.format("start %d and length %d out of range for dim %d of size %d in %s", start, length, a + 1, n, shape_str(s)))
  end
  return crop(t, a, i - 1, i - 1 + length, s)
end

-- select(dim, index): the dim disappears.
function Tensor.select(t, dim, index)
  local s = shape_of(t)
  local a = dim0("select", dim, #s)
  local n = s[a + 1]
  check_int("select", "index", index)
  local i = index < 0 and index + n + 1 or index
  if i < 1 or i > n then
    fail("select", string.format("%d out of range for dim %d of size %d in %s", index, a + 1, n, shape_str(s)))
  end
  local r = crop(t, a, i - 1, i, s)
  table.remove(s, a + 1)
  return movement("reshape", r, s)
end

-- ---- gather and scatter (index tensors hold 1-based positions; negatives count from the end) ----
local function check_index(op, t, dim, index)
  if not is_tensor(index) then fail(op, "index must be an integer tensor, got " .. type(index)) end
  if not index.dtype.is_int then fail(op, "index must have an integer dtype, got " .. index.dtype.name) end
  local s, is = shape_of(t), shape_of(index)
  local nd = #s
  if nd == 0 then fail(op, "needs a tensor of at least 1 dim") end
  local a = dim0(op, dim, nd)
  if #is ~= nd then
    fail(op, string.format("index %s must have as many dims as the tensor %s", shape_str(is), shape_str(s)))
  end
  for i = 1, nd do
    if i ~= a + 1 and is[i] > s[i] then
      fail(op, string.format("index %s is larger than the tensor %s in dim %d", shape_str(is), shape_str(s), i))
    end
  end
  local n = s[a + 1]
  if index.dtype ~= dtypes.int32 then index = index:cast(dtypes.int32) end
  index = Tensor.where(index:lt(0), index + (n + 1), index)
  return a, s, is, index, n
end

-- Moves axis a to the end: the permutation (0-based) and the shape after it.
local function to_last(s, a)
  local perm, sh = {}, {}
  for i = 1, #s do if i ~= a + 1 then perm[#perm + 1] = i - 1; sh[#sh + 1] = s[i] end end
  perm[#perm + 1] = a; sh[#sh + 1] = s[a + 1]
  return perm, sh
end
local function inverse(perm)
  local inv = {}
  for i, p in ipairs(perm) do inv[p + 1] = i - 1 end
  return inv
end

local function sum_last_keep_dtype(x, dt)
  local nd = #shape_of(x)
  local src = (x.dtype.is_bool or x.dtype.itemsize < 4) and x:cast(dtypes.int32) or x
  local r = T.reduce("sum", src, { nd - 1 })
  if r.dtype ~= dt then r = r:cast(dt) end
  return r
end

-- out[..., j, ...] = t[..., index[..., j, ...], ...] along dim; out has index's shape.
-- Index values outside 1..n (after negatives) give 0.
function Tensor.gather(t, dim, index)
  local a, s, is, idx, n = check_index("gather", t, dim, index)
  local dt, dev = t.dtype, t.device
  -- the tensor's region the index covers (all of dim a)
  local region = {}
  for i = 1, #s do region[i] = (i == a + 1) and { 1, n } or { 1, is[i] } end
  local flat = {}
  for i = 1, #s do flat[2 * i - 1], flat[2 * i] = region[i][1] - 1, region[i][2] end
  local x = movement("shrink", t, flat)
  -- x: dim a to the end, a size-1 dim in its place -> (is with 1 at a) + (n)
  local rs = {}
  for i = 1, #s do rs[i] = (i == a + 1) and n or is[i] end
  x = movement("permute", x, (to_last(rs, a)))
  local xe = {}
  for i = 1, #s do xe[i] = (i == a + 1) and 1 or is[i] end
  xe[#xe + 1] = n
  -- to_last dropped dim a; put a size-1 dim back at a, keeping the order of the others
  x = movement("reshape", x, xe)
  local full_shape = {}
  for i = 1, #s do full_shape[i] = is[i] end
  full_shape[#full_shape + 1] = n
  x = movement("expand", x, full_shape)
  local ar_shape = ones_list(#s)
  ar_shape[#ar_shape + 1] = n
  local ar = movement("reshape", Tensor.arange(1, n + 1, { device = dev }), ar_shape)
  local iv_shape = {}
  for i = 1, #is do iv_shape[i] = is[i] end
  iv_shape[#iv_shape + 1] = 1
  local iv = movement("reshape", idx, iv_shape)
  local mask = movement("expand", iv, full_shape):eq(movement("expand", ar, full_shape))
  local picked = alu("where", mask, x, full_raw(full_shape, 0, dt, dev))
  return movement("reshape", sum_last_keep_dtype(picked, dt), is)
end

-- A new tensor: t with out[..., index[..., j, ...], ...] = src[..., j, ...] along dim. src is a
-- tensor (at least index's shape in every dim) or a number. Repeated positions: the last wins.
function Tensor.scatter(t, dim, index, src)
  local a, s, is, idx, n = check_index("scatter", t, dim, index)
  local dt, dev = t.dtype, t.device
  local nd = #s
  if is_tensor(src) then
    local ss = shape_of(src)
    if #ss ~= nd then fail("scatter", string.format("src %s must have as many dims as the tensor %s", shape_str(ss), shape_str(s))) end
    local flat = {}
    for i = 1, nd do
      if is[i] > ss[i] then fail("scatter", string.format("index %s is larger than src %s in dim %d", shape_str(is), shape_str(ss), i)) end
      flat[2 * i - 1], flat[2 * i] = 0, is[i]
    end
    src = movement("shrink", src, flat)
    if src.dtype ~= dt then src = src:cast(dt) end
  elseif type(src) == "number" or type(src) == "boolean" then
    src = full_raw(is, type(src) == "boolean" and (src and 1 or 0) or src, dt, dev)
  else
    fail("scatter", "src must be a tensor or a number, got " .. type(src))
  end
  if numel(is) == 0 then return t end
  -- layout (O..., J, n): O the index's other dims, J its size along dim, n the target positions
  local perm, ish = to_last(is, a)          -- ish = (O..., J)
  local O = {}
  for i = 1, nd - 1 do O[i] = ish[i] end
  local J = ish[nd]
  local function shp(...)
    local r = {}
    for i = 1, #O do r[i] = O[i] end
    for _, v in ipairs({ ... }) do r[#r + 1] = v end
    return r
  end
  local full_shape = shp(J, n)
  local iv = movement("expand", movement("reshape", movement("permute", idx, perm), shp(J, 1)), full_shape)
  local pr = ones_list(nd + 1); pr[nd + 1] = n
  local pos = movement("expand", movement("reshape", Tensor.arange(1, n + 1, { device = dev }), pr), full_shape)
  local match = iv:eq(pos)
  local jr = ones_list(nd + 1); jr[nd] = J
  local jpos = movement("expand", movement("reshape", Tensor.arange(1, J + 1, { device = dev }), jr), full_shape)
  local jsel = T.reduce("max", alu("where", match, jpos, full_raw(full_shape, 0, dtypes.int32, dev)), { nd - 1 })  -- (O..., 1, n)
  local pick = jpos:eq(movement("expand", jsel, full_shape))
  local sv = movement("expand", movement("reshape", movement("permute", src, perm), shp(J, 1)), full_shape)
  local picked = alu("where", pick, sv, full_raw(full_shape, 0, dt, dev))
  local srcsum = (picked.dtype.is_bool or picked.dtype.itemsize < 4) and picked:cast(dtypes.int32) or picked
  local val = T.reduce("sum", srcsum, { nd - 1 })
  if val.dtype ~= dt then val = val:cast(dt) end
  local hit = jsel:gt(0)
  -- the tensor's region: index's sizes in the other dims, all of dim a; same layout
  local rflat = {}
  for i = 1, nd do rflat[2 * i - 1], rflat[2 * i] = 0, (i == a + 1) and n or is[i] end
  local rs = {}
  for i = 1, nd do rs[i] = (i == a + 1) and n or is[i] end
  local rperm, rsh = to_last(rs, a)
  local old = movement("reshape", movement("permute", movement("shrink", t, rflat), rperm), shp(1, n))
  local new = alu("where", hit, val, old)
  new = movement("permute", movement("reshape", new, rsh), inverse(rperm))
  -- back into the whole tensor
  local grow, any = {}, false
  for i = 1, nd do
    grow[2 * i - 1], grow[2 * i] = 0, s[i] - rs[i]
    any = any or grow[2 * i] ~= 0
  end
  if not any then return new end
  local mask = movement("pad", full_raw(rs, 1, dtypes.bool, dev), grow)
  return alu("where", mask, movement("pad", new, grow), t)
end

-- ---- diag, tril, triu, masked_fill ----
-- diag(k): a 1-D tensor becomes a square matrix with it on diagonal k (0 the main one, > 0
-- above); a 2-D tensor gives its diagonal k as a 1-D tensor.
function Tensor.diag(t, k)
  k = check_int("diag", "diagonal", k or 0)
  local s = shape_of(t)
  if #s == 1 then
    local n = s[1]
    local m = movement("reshape", t, { n, 1 })
    m = movement("pad", m, { 0, 0, 0, n })
    m = movement("reshape", m, { n * (n + 1) })
    m = movement("shrink", m, { 0, n * n })
    m = movement("reshape", m, { n, n })
    if k > 0 then m = movement("pad", m, { 0, k, k, 0 })
    elseif k < 0 then m = movement("pad", m, { -k, 0, 0, -k }) end
    return m
  elseif #s == 2 then
    if k < 0 then return Tensor.diag(movement("permute", t, { 1, 0 }), -k) end
    local r, c = s[1], s[2] - k
    local m = math.max(0, math.min(r, c))
    if m == 0 then return full_raw({ 0 }, 0, t.dtype, t.device) end
    local x = movement("shrink", t, { 0, m, k, k + m })
    x = movement("reshape", x, { m * m })
    x = movement("pad", x, { 0, m })
    x = movement("reshape", x, { m, m + 1 })
    x = movement("shrink", x, { 0, m, 0, 1 })
    return movement("reshape", x, { m })
  end
  fail("diag", "expected a 1-D or 2-D tensor, got " .. shape_str(s))
end

-- keep(i, j) over the last two dims (1-based row i, column j), zeros elsewhere.
local function triangle(op, t, k, below)
  k = check_int(op, "diagonal", k or 0)
  local s = shape_of(t)
  if #s < 2 then fail(op, "expected a tensor of at least 2 dims, got " .. shape_str(s)) end
  local r, c = s[#s - 1], s[#s]
  local dev = t.device
  local rows = movement("reshape", Tensor.arange(r, { device = dev }), { r, 1 })
  local cols = movement("reshape", Tensor.arange(c, { device = dev }), { 1, c })
  local diff = cols - rows                     -- j - i
  local mask = below and diff:le(k) or diff:ge(k)
  mask = T.broadcast_to(mask, s)
  return alu("where", mask, t, zeros_like(t))
end
function Tensor.tril(t, k) return triangle("tril", t, k, true) end
function Tensor.triu(t, k) return triangle("triu", t, k, false) end

-- value where mask is true; mask broadcasts to t's shape; the result keeps t's dtype.
function Tensor.masked_fill(t, mask, value)
  if not is_tensor(mask) then fail("masked_fill", "mask must be a tensor, got " .. type(mask)) end
  local s, ms = shape_of(t), shape_of(mask)
  local ok, b = pcall(T.broadcast_shape, s, ms, "masked_fill")
  if not ok or shape_str(b) ~= shape_str(s) then
    fail("masked_fill", "cannot broadcast the mask " .. shape_str(ms) .. " to the tensor " .. shape_str(s))
  end
  if mask.dtype ~= dtypes.bool then mask = mask:ne(0) end
  local v
  if is_tensor(value) then
    if numel(shape_of(value)) ~= 1 then fail("masked_fill", "value must be a number or a 1-element tensor, got " .. shape_str(shape_of(value))) end
    v = T.broadcast_to(movement("reshape", value, {}), s)
    if v.dtype ~= t.dtype then v = v:cast(t.dtype) end
  elseif type(value) == "number" or type(value) == "boolean" then
    v = full_raw(s, type(value) == "boolean" and (value and 1 or 0) or value, t.dtype, t.device)
  else
    fail("masked_fill", "value must be a number or a tensor, got " .. type(value))
  end
  return alu("where", T.broadcast_to(mask, s), v, t)
end

-- ---- repeat, repeat_interleave, roll ----
-- x:repeat(r1, r2, ...) (spelled x["repeat"](x, ...) or x:tile(...), `repeat` being a Lua
-- keyword): tiles x r_i times along dim i; more counts than dims add leading dims.
local function repeat_(t, ...)
  local reps = T.sizes_and_opts(...)
  local s = shape_of(t)
  if #reps < #s then
    fail("repeat", string.format("%d counts for a tensor of %d dims %s (give at least one per dim)", #reps, #s, shape_str(s)))
  end
  for _, r in ipairs(reps) do
    check_int("repeat", "counts", r)
    if r < 0 then fail("repeat", "counts must be >= 0, got " .. r) end
  end
  local lead = #reps - #s
  local split, big, final = {}, {}, {}
  for i = 1, #reps do
    local n = s[i - lead] or 1
    split[#split + 1] = 1; split[#split + 1] = n
    big[#big + 1] = reps[i]; big[#big + 1] = n
    final[i] = reps[i] * n
  end
  local x = movement("reshape", t, split)
  x = movement("expand", x, big)
  return movement("reshape", x, final)
end
Tensor["repeat"] = repeat_
Tensor.repeat_tensor = repeat_
-- tile: like torch.tile, fewer counts than dims are padded with leading 1s.
function Tensor.tile(t, ...)
  local reps = T.sizes_and_opts(...)
  local nd = #shape_of(t)
  local r = {}
  for i = 1, nd - #reps do r[i] = 1 end
  for _, v in ipairs(reps) do r[#r + 1] = v end
  return repeat_(t, r)
end

-- Each element n times along dim (nil: the flattened tensor).
function Tensor.repeat_interleave(t, n, dim)
  check_int("repeat_interleave", "repeats", n)
  if n < 0 then fail("repeat_interleave", "repeats must be >= 0, got " .. n) end
  if dim == nil then t, dim = movement("reshape", t, { numel(shape_of(t)) }), 1 end
  local s = shape_of(t)
  local a = dim0("repeat_interleave", dim, #s)
  local split = {}
  for i = 1, #s do split[#split + 1] = s[i]; if i == a + 1 then split[#split + 1] = 1 end end
  local big = {}
  for i, v in ipairs(split) do big[i] = v end
  big[a + 2] = n
  local final = {}
  for i = 1, #s do final[i] = s[i] end
  final[a + 1] = s[a + 1] * n
  return movement("reshape", movement("expand", movement("reshape", t, split), big), final)
end

-- roll(shifts, dims): element i moves to i + shift (wrapping); shifts and dims are numbers or
-- lists of the same length; no dims: roll the flattened tensor and restore the shape.
function Tensor.roll(t, shifts, dims)
  local s = shape_of(t)
  if dims == nil then
    if type(shifts) ~= "number" then fail("roll", "without dims, shifts must be one number") end
    local flat = movement("reshape", t, { numel(s) })
    return movement("reshape", Tensor.roll(flat, shifts, 1), s)
  end
  if type(shifts) == "number" then shifts = { shifts } end
  if type(dims) == "number" then dims = { dims } end
  if #shifts ~= #dims then fail("roll", string.format("%d shifts for %d dims", #shifts, #dims)) end
  for i, d in ipairs(dims) do
    local a = dim0("roll", d, #s)
    local n = s[a + 1]
    local k = check_int("roll", "shifts", shifts[i])
    if n > 0 then
      k = k % n
      if k ~= 0 then
        -- [x x] then the window starting at n - k
        local twice = cat({ t, t }, a + 1, "roll")
        t = crop(twice, a, n - k, 2 * n - k)
      end
    end
  end
  return t
end

-- ---- pad modes ----
-- flat: {before, after} per dim (0-based list, from pad). Negative amounts crop first.
function Tensor._pad_mode(t, flat, mode)
  if mode ~= "reflect" and mode ~= "replicate" and mode ~= "circular" then
    fail("pad", "unknown mode '" .. tostring(mode) .. "' (expected \"constant\", \"reflect\", \"replicate\" or \"circular\")")
  end
  local s = shape_of(t)
  for i = 1, #s do
    local a, b = flat[2 * i - 1], flat[2 * i]
    local n = s[i]
    -- crop what is negative
    local lo, hi = math.max(-a, 0), n - math.max(-b, 0)
    if hi < lo then fail("pad", "cropping more than the size of dim " .. i .. " of " .. shape_str(s)) end
    if lo > 0 or hi < n then t = crop(t, i - 1, lo, hi); n = hi - lo end
    a, b = math.max(a, 0), math.max(b, 0)
    if a > 0 or b > 0 then
      local parts = {}
      if mode == "reflect" then
        if a >= n or b >= n then
          fail("pad", string.format("reflect padding {%d, %d} must be less than the size %d of dim %d of %s", a, b, n, i, shape_str(s)))
        end
        if a > 0 then parts[#parts + 1] = movement("flip", crop(t, i - 1, 1, a + 1), { i - 1 }) end
        parts[#parts + 1] = t
        if b > 0 then parts[#parts + 1] = movement("flip", crop(t, i - 1, n - 1 - b, n - 1), { i - 1 }) end
      elseif mode == "replicate" then
        if n == 0 then fail("pad", "replicate padding needs dim " .. i .. " of " .. shape_str(s) .. " to be non-empty") end
        local cur = shape_of(t)
        if a > 0 then
          local e = {}; for j = 1, #cur do e[j] = cur[j] end; e[i] = a
          parts[#parts + 1] = movement("expand", crop(t, i - 1, 0, 1), e)
        end
        parts[#parts + 1] = t
        if b > 0 then
          local e = {}; for j = 1, #cur do e[j] = cur[j] end; e[i] = b
          parts[#parts + 1] = movement("expand", crop(t, i - 1, n - 1, n), e)
        end
      else -- circular
        if a > n or b > n then
          fail("pad", string.format("circular padding {%d, %d} must be at most the size %d of dim %d of %s", a, b, n, i, shape_str(s)))
        end
        if a > 0 then parts[#parts + 1] = crop(t, i - 1, n - a, n) end
        parts[#parts + 1] = t
        if b > 0 then parts[#parts + 1] = crop(t, i - 1, 0, b) end
      end
      t = cat(parts, i, "pad")
    end
  end
  return t
end

return Tensor
