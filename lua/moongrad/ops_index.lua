-- Indexing, torch7 style, and indexed assignment. See docs/indexing.md for the exact semantics.
--   x[i]               selects along dim 1 (the dim disappears; negative counts from the end)
--   x[{i, j}]          one element (a 0-d tensor)
--   x[{{a, b}, j}]     rows a..b (inclusive) of column j; {a, b, step} strides (step < 0 walks back)
--   {} the whole dim, {a} index a kept as a dim of size 1, Tensor.newaxis inserts a dim of size 1,
--   an integer tensor indexes by gather (1-based values), numpy's rules for where its dims go.
-- x[k] = v writes through the same forms: x takes where(mask, v, x) as its new lazy value.
local T = require("moongrad.tensor")
local V = require("moongrad.variable")
local dtypes = T.dtypes
local Tensor, shape_of, shape_str, numel = T.Tensor, T.shape_of, T.shape_str, T.numel
local movement, is_tensor, full_raw = T.movement, T.is_tensor, T.full_raw

-- The sentinel for a new dim of size 1 (export it as mg.newaxis).
local NEWAXIS = setmetatable({}, {
  __tostring = function() return "mg.newaxis" end,
  __newindex = function() error("mg.newaxis is read-only", 2) end,
})
Tensor.newaxis = NEWAXIS

local function fail(op, msg) error(op .. ": " .. msg, 0) end

local function is_int(v) return type(v) == "number" and v == math.floor(v) and v == v and v ~= math.huge and v ~= -math.huge end

local function describe(v)
  if is_tensor(v) then return "a tensor" end
  if v == NEWAXIS then return "mg.newaxis" end
  if type(v) == "table" then return "a table" end
  return type(v) .. " " .. tostring(v)
end

-- ---- parsing a key into a plan ----
-- plan.dims[d] for every dim d of x: { start (0-based, after the flip), len, step, m (count),
-- flip, keep (false for a number: the dim disappears) }.
-- plan.items: what the result dims are made of, in order; plan.tensors: the tensor indices.
local function parse(x, key, op)
  local s = shape_of(x)
  local nd = #s
  local items
  if type(key) == "number" or is_tensor(key) or key == NEWAXIS then
    items = { key }
  elseif type(key) == "table" then
    items = key
  else
    fail(op, "expected a number, a table, a tensor or mg.newaxis as the index, got " .. describe(key))
  end
  local nitems = #items
  for k in pairs(items) do
    if type(k) ~= "number" or k < 1 or k > nitems or k ~= math.floor(k) then
      fail(op, "the index table must be a sequence (no holes, no named fields); got key " .. tostring(k))
    end
  end
  local used = 0
  for _, it in ipairs(items) do if it ~= NEWAXIS then used = used + 1 end end
  if used > nd then
    fail(op, string.format("too many indices (%d) for a tensor of %d dims %s", used, nd, shape_str(s)))
  end

  local dims, ydims, tensors, adv = {}, {}, {}, {}
  local d = 0
  local function whole(n) return { start = 0, len = n, step = 1, m = n, flip = false, keep = true } end
  local function out_of_range(v, n, suffix)
    fail(op, string.format("%s out of range for dim %d of size %d in %s%s", v, d, n, shape_str(s), suffix or ""))
  end
  for pos, it in ipairs(items) do
    if it == NEWAXIS then
      ydims[#ydims + 1] = { new = true }
    elseif type(it) == "number" then
      d = d + 1
      local n = s[d]
      if not is_int(it) then fail(op, string.format("index %s for dim %d is not an integer", tostring(it), d)) end
      local i = it < 0 and it + n + 1 or it
      if i < 1 or i > n then out_of_range(tostring(it), n, it == 0 and " (indices are 1-based)" or nil) end
      dims[d] = { start = i - 1, len = 1, step = 1, m = 1, flip = false, keep = false }
      adv[#adv + 1] = { pos = pos, number = true }
    elseif is_tensor(it) then
      d = d + 1
      local dt = it.dtype
      if dt.is_bool then
        fail(op, "bool tensor indices (masks) are not supported: the result's shape would depend on the values; use where or masked_fill")
      end
      if not dt.is_int then fail(op, "tensor indices must have an integer dtype, got " .. dt.name .. " for dim " .. d) end
      dims[d] = whole(s[d])
      ydims[#ydims + 1] = { dim = d, tensor = #tensors + 1 }
      tensors[#tensors + 1] = { dim = d, idx = it, n = s[d] }
      adv[#adv + 1] = { pos = pos }
    elseif type(it) == "table" then
      d = d + 1
      local n = s[d]
      local ni = 0
      for k, v in pairs(it) do
        if type(k) ~= "number" or k < 1 or k > 3 or k ~= math.floor(k) then
          fail(op, string.format("a slice is {}, {i}, {first, last} or {first, last, step}; got key %s for dim %d", tostring(k), d))
        end
        if V.is_variable(v) then
          fail(op, string.format("slice bounds must be integers, got the variable '%s' for dim %d (a variable size is a shrink: x:shrink{{1, v}})", v.name, d))
        end
        if not is_int(v) then fail(op, string.format("slice bounds must be integers, got %s for dim %d", describe(v), d)) end
        ni = math.max(ni, k)
      end
      for k = 1, ni do
        if it[k] == nil then fail(op, "a slice table must be a sequence (no holes) for dim " .. d) end
      end
      local spec = "{" .. table.concat(it, ", ") .. "}"
      if ni == 0 then
        dims[d] = whole(n)
      elseif ni == 1 then
        local i = it[1] < 0 and it[1] + n + 1 or it[1]
        if i < 1 or i > n then out_of_range("slice " .. spec, n) end
        dims[d] = { start = i - 1, len = 1, step = 1, m = 1, flip = false, keep = true }
      else
        local a, b, step = it[1], it[2], it[3] or 1
        if step == 0 then fail(op, "slice step must not be 0 in " .. spec .. " for dim " .. d) end
        if a < 0 then a = a + n + 1 end
        if b < 0 then b = b + n + 1 end
        local flip = step < 0
        if flip then
          -- walk back: in flipped coordinates a..b is n+1-a .. n+1-b with step -step
          if a < 0 or a > n or b < 1 or b > n + 1 then out_of_range("slice " .. spec, n) end
          a, b, step = n + 1 - a, n + 1 - b, -step
        elseif a < 1 or a > n + 1 or b < 0 or b > n then
          out_of_range("slice " .. spec, n)
        end
        local m = b >= a and math.floor((b - a) / step) + 1 or 0
        dims[d] = { start = m > 0 and a - 1 or 0, len = m > 0 and (m - 1) * step + 1 or 0, step = step, m = m, flip = flip, keep = true }
      end
      ydims[#ydims + 1] = { dim = d }
    else
      fail(op, string.format("index %d must be a number, a slice table, an integer tensor or mg.newaxis, got %s", pos, describe(it)))
    end
  end
  for r = d + 1, nd do
    dims[r] = whole(s[r])
    ydims[#ydims + 1] = { dim = r }
  end

  -- numpy's rule for the dims of tensor indices: in place if the advanced indices (tensors, and
  -- numbers when a tensor is present) are adjacent in the key, else first.
  local place = 0
  if #tensors > 0 then
    local adjacent = adv[#adv].pos - adv[1].pos + 1 == #adv
    if adjacent then
      for _, yd in ipairs(ydims) do
        if yd.tensor then break end
        place = place + 1
      end
    end
  end
  return { shape = s, dims = dims, ydims = ydims, tensors = tensors, place = place }
end

-- ---- the basic part: flips, one shrink, strides, then the final reshape ----
local function yshape(plan)
  local y = {}
  for i, yd in ipairs(plan.ydims) do y[i] = yd.new and 1 or plan.dims[yd.dim].m end
  return y
end

local function has_steps(plan)
  for _, dd in ipairs(plan.dims) do if dd.step > 1 then return true end end
  return false
end

local function basic_forward(x, plan)
  local dims = plan.dims
  local flips, crop, plain = {}, {}, true
  for i, dd in ipairs(dims) do
    if dd.flip then flips[#flips + 1] = i - 1 end
    crop[2 * i - 1], crop[2 * i] = dd.start, dd.start + dd.len
    plain = plain and dd.start == 0 and dd.len == plan.shape[i]
  end
  if #flips > 0 then x = movement("flip", x, flips) end
  if not plain then x = movement("shrink", x, crop) end
  if has_steps(plan) then
    -- pad each strided dim to m*step, split it into (m, step), keep column 1 of each
    local pad, split, take = {}, {}, {}
    for i, dd in ipairs(dims) do
      if dd.step > 1 then
        pad[2 * i - 1], pad[2 * i] = 0, dd.m * dd.step - dd.len
        split[#split + 1] = dd.m; split[#split + 1] = dd.step
        take[#take + 1] = 0; take[#take + 1] = dd.m; take[#take + 1] = 0; take[#take + 1] = 1
      else
        pad[2 * i - 1], pad[2 * i] = 0, 0
        split[#split + 1] = dd.len
        take[#take + 1] = 0; take[#take + 1] = dd.len
      end
    end
    x = movement("pad", x, pad)
    x = movement("reshape", x, split)
    x = movement("shrink", x, take)
  end
  return movement("reshape", x, yshape(plan))
end

-- The inverse for a value v of the result's (basic) shape: back to x's shape, zeros elsewhere.
local function basic_inverse(v, plan)
  local dims = plan.dims
  local lens = {}
  for i, dd in ipairs(dims) do lens[i] = dd.len end
  if has_steps(plan) then
    local split, pad, whole = {}, {}, {}
    for _, dd in ipairs(dims) do
      if dd.step > 1 then
        split[#split + 1] = dd.m; split[#split + 1] = 1
        pad[#pad + 1] = 0; pad[#pad + 1] = 0; pad[#pad + 1] = 0; pad[#pad + 1] = dd.step - 1
      else
        split[#split + 1] = dd.len
        pad[#pad + 1] = 0; pad[#pad + 1] = 0
      end
    end
    v = movement("reshape", v, split)
    v = movement("pad", v, pad)
    local crop = {}
    for i, dd in ipairs(dims) do
      whole[i] = dd.m * dd.step
      crop[2 * i - 1], crop[2 * i] = 0, dd.len
    end
    v = movement("reshape", v, whole)
    v = movement("shrink", v, crop)
  else
    v = movement("reshape", v, lens)
  end
  local pad, any, flips = {}, false, {}
  for i, dd in ipairs(dims) do
    pad[2 * i - 1], pad[2 * i] = dd.start, plan.shape[i] - dd.start - dd.len
    any = any or pad[2 * i - 1] ~= 0 or pad[2 * i] ~= 0
    if dd.flip then flips[#flips + 1] = i - 1 end
  end
  if any then v = movement("pad", v, pad) end
  if #flips > 0 then v = movement("flip", v, flips) end
  return v
end

-- ---- the advanced part: tensor indices by one-hot comparison ----
-- Index tensors to int32 1-based positions (negatives count from the end), broadcast together.
local function index_values(plan, op)
  local shapes, b = {}, {}
  for _, ti in ipairs(plan.tensors) do shapes[#shapes + 1] = shape_of(ti.idx) end
  for _, sh in ipairs(shapes) do
    local ok, r = pcall(T.broadcast_shape, b, sh, op)
    if not ok then
      local strs = {}
      for i, x in ipairs(shapes) do strs[i] = shape_str(x) end
      fail(op, "tensor indices of shapes " .. table.concat(strs, ", ") .. " do not broadcast together")
    end
    b = r
  end
  local vals = {}
  for i, ti in ipairs(plan.tensors) do
    local idx = ti.idx
    if idx.dtype ~= dtypes.int32 then idx = idx:cast(dtypes.int32) end
    -- stored (one value per index): the one-hot mask compares it with every position, and
    -- compiled kernels fold that mask's sum to one load when the compared value is plain
    idx = Tensor.where(idx:lt(0), idx + (ti.n + 1), idx):contiguous()
    vals[i] = T.broadcast_to(idx, b)
  end
  return vals, b
end

local function ones_list(n) local r = {} for i = 1, n do r[i] = 1 end return r end
local function concat(...)
  local r = {}
  for _, l in ipairs({ ... }) do for _, v in ipairs(l) do r[#r + 1] = v end end
  return r
end

-- Layout of y: the other dims O (positions and sizes) and the tensor dims P.
local function layout(plan, ys)
  local O, Osz, P, Psz = {}, {}, {}, {}
  for i, yd in ipairs(plan.ydims) do
    if yd.tensor then P[yd.tensor] = i - 1; Psz[yd.tensor] = ys[i]
    else O[#O + 1] = i - 1; Osz[#Osz + 1] = ys[i] end
  end
  return O, Osz, P, Psz
end

-- The one-hot mask of shape (B..., n1, ..., nk): true where every index equals the position.
local function onehot(vals, b, Psz, dev)
  local k = #Psz
  local mask
  for i, v in ipairs(vals) do
    local vs = concat(b, ones_list(k))
    local ar_shape = ones_list(#b + k)
    ar_shape[#b + i] = Psz[i]
    local ar = movement("reshape", Tensor.arange(1, Psz[i] + 1, { device = dev }), ar_shape)
    local eq = movement("reshape", v, vs):eq(ar)
    mask = mask and mask:logical_and(eq) or eq
  end
  return mask
end

local function zeros_of(shape, dt, dev) return full_raw(shape, 0, dt, dev) end

local function sum_keep_dtype(x, axes, dt)
  local r = T.reduce("sum", (x.dtype.is_bool or x.dtype.itemsize < 4) and x:cast(dtypes.int32) or x, axes)
  if r.dtype ~= dt then r = r:cast(dt) end
  return r
end

local function advanced_forward(y, plan, op)
  local ys = shape_of(y)
  local O, Osz, P, Psz = layout(plan, ys)
  local vals, b = index_values(plan, op)
  local dt, dev = y.dtype, y.device
  local nO, nB, k = #O, #b, #P
  local perm = concat(O, P)
  local ye = movement("permute", y, perm)
  ye = movement("reshape", ye, concat(Osz, ones_list(nB), Psz))
  local full_shape = concat(Osz, b, Psz)
  ye = movement("expand", ye, full_shape)
  local mask = movement("reshape", onehot(vals, b, Psz, dev), concat(ones_list(nO), b, Psz))
  mask = movement("expand", mask, full_shape)
  local picked = T.alu("where", mask, ye, zeros_of(full_shape, dt, dev))
  local axes = {}
  for i = 1, k do axes[i] = nO + nB + i - 1 end
  local r = movement("reshape", sum_keep_dtype(picked, axes, dt), concat(Osz, b))
  -- B goes to plan.place among the other dims
  local out = {}
  for i = 1, plan.place do out[#out + 1] = i - 1 end
  for i = 1, nB do out[#out + 1] = nO + i - 1 end
  for i = plan.place + 1, nO do out[#out + 1] = i - 1 end
  if #out > 0 then r = movement("permute", r, out) end
  return r
end

-- y_old with the positions the indices name replaced by v (shape of the indexed result);
-- with repeated positions the last occurrence wins.
local function advanced_inverse(v, y_old, plan, op)
  local ys = shape_of(y_old)
  local O, Osz, P, Psz = layout(plan, ys)
  local vals, b = index_values(plan, op)
  local dt, dev = y_old.dtype, y_old.device
  local nO, nB, k = #O, #b, #P
  local nb = numel(b)
  -- v: (O[1..place], B, O[place+1..]) -> (O..., nb, 1 x k)
  local back = {}
  for i = 1, plan.place do back[#back + 1] = i - 1 end
  for i = plan.place + 1, nO do back[#back + 1] = nB + i - 1 end
  for i = 1, nB do back[#back + 1] = plan.place + i - 1 end
  if #back > 0 then v = movement("permute", v, back) end
  v = movement("reshape", v, concat(Osz, { nb }, ones_list(k)))
  local flat = {}
  for i, x in ipairs(vals) do flat[i] = movement("reshape", x, { nb }) end
  local match = onehot(flat, { nb }, Psz, dev)                      -- (nb, n...)
  local jpos = movement("reshape", Tensor.arange(1, nb + 1, { device = dev }), concat({ nb }, ones_list(k)))
  jpos = movement("expand", jpos, concat({ nb }, Psz))
  local jsel = T.reduce("max", T.alu("where", match, jpos, zeros_of(concat({ nb }, Psz), dtypes.int32, dev)), { 0 })
  local pick = jpos:eq(jsel)                                            -- (nb, n...)
  local full_shape = concat(Osz, { nb }, Psz)
  pick = movement("expand", movement("reshape", pick, concat(ones_list(nO), { nb }, Psz)), full_shape)
  local ve = movement("expand", v, full_shape)
  local val = sum_keep_dtype(T.alu("where", pick, ve, zeros_of(full_shape, dt, dev)), { nO }, dt)
  val = movement("reshape", val, concat(Osz, Psz))
  local hit = jsel:gt(0)
  hit = movement("expand", movement("reshape", hit, concat(ones_list(nO), Psz)), concat(Osz, Psz))
  local perm = concat(O, P)
  local old = movement("permute", y_old, perm)
  local new = T.alu("where", hit, val, old)
  local inv = {}
  for i, p in ipairs(perm) do inv[p + 1] = i - 1 end
  return movement("permute", new, inv)
end

-- ---- the API ----
function Tensor.index(x, key)
  local plan = parse(x, key, "index")
  local y = basic_forward(x, plan)
  if #plan.tensors > 0 then y = advanced_forward(y, plan, "index") end
  return y
end

-- The value v (a number, a bool or a tensor) broadcast one way to shape r, in dtype dt.
local function value_to(v, r, dt, dev, op)
  if is_tensor(v) then
    local vs = shape_of(v)
    -- extra leading dims of size 1 are dropped, as torch does
    local lead = 0
    while #vs - lead > #r and vs[lead + 1] == 1 do lead = lead + 1 end
    local ok = #vs - lead <= #r
    for i = 1, #vs - lead do
      local want, have = r[#r - (#vs - lead) + i], vs[lead + i]
      ok = ok and (have == want or have == 1)
    end
    if not ok then fail(op, "cannot broadcast the value of shape " .. shape_str(vs) .. " to the indexed shape " .. shape_str(r)) end
    if lead > 0 then
      local rest = {}
      for i = lead + 1, #vs do rest[#rest + 1] = vs[i] end
      v = movement("reshape", v, rest)
    end
    if v.device ~= dev then fail(op, "the value is on " .. v.device .. ", the tensor on " .. dev) end
    if v.dtype ~= dt then v = v:cast(dt) end
    return T.broadcast_to(v, r)
  end
  if type(v) == "boolean" then v = v and 1 or 0 end
  if type(v) ~= "number" then fail(op, "the value must be a number, a boolean or a tensor, got " .. type(v)) end
  return full_raw(r, v, dt, dev)
end

-- x[key] = v: x takes a new lazy value; tensors made from x before keep the old one.
function Tensor.index_assign(x, key, v)
  local op = "index_assign"
  local plan = parse(x, key, op)
  local dt, dev = x.dtype, x.device
  local ys = yshape(plan)
  local y
  if #plan.tensors > 0 then
    local y_old = basic_forward(x, plan)
    local _, b = index_values(plan, op)
    local O, r = {}, {}
    for i, yd in ipairs(plan.ydims) do if not yd.tensor then O[#O + 1] = ys[i] end end
    for i = 1, plan.place do r[#r + 1] = O[i] end
    for _, n in ipairs(b) do r[#r + 1] = n end
    for i = plan.place + 1, #O do r[#r + 1] = O[i] end
    y = advanced_inverse(value_to(v, r, dt, dev, op), y_old, plan, op)
  else
    y = value_to(v, ys, dt, dev, op)
  end
  local inside = basic_inverse(y, plan)
  local mask = basic_inverse(full_raw(ys, 1, dtypes.bool, dev), plan)
  return x:assign(T.alu("where", mask, inside, x))
end

return Tensor
