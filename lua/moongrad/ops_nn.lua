-- Processing ops on top of the primitives: matmul, linear, einsum, convolutions, pooling,
-- interpolation, normalizations, dropout, attention, one_hot, sequential and the losses.
-- Everything here is movement ops plus elementwise multiply and reduce (tinygrad's way):
-- no op of its own in the engine. Dims and class labels are 1-based. Shapes are checked
-- eagerly; values cannot be (they are lazy), so e.g. an out-of-range class label is not an
-- error (see docs/processing.md for what it does).
local T = require("moongrad.tensor")
local dtypes = T.dtypes
local Tensor, is_tensor, shape_str, movement = T.Tensor, T.is_tensor, T.shape_str, T.movement
local where = Tensor.where

local unpack = unpack or table.unpack
local NEG_INF = -math.huge

-- ---- helpers ----
local function check_tensor(x, op, what)
  if not is_tensor(x) then
    error(string.format("%s: %s must be a tensor, got %s", op, what, type(x)), 3)
  end
  return x
end

local float_of = T.float_of

local function same_shape(a, b)
  if #a ~= #b then return false end
  for i = 1, #a do if a[i] ~= b[i] then return false end end
  return true
end

local function slice(list, first, last)
  local r = {}
  for i = first, last or #list do r[#r + 1] = list[i] end
  return r
end

local function concat(...)
  local r = {}
  for _, l in ipairs({ ... }) do for _, v in ipairs(l) do r[#r + 1] = v end end
  return r
end

local function filled(n, v)
  local r = {}
  for i = 1, n do r[i] = v end
  return r
end

-- Broadcast of two shapes, or nil when they do not broadcast.
local function broadcast_shapes(a, b)
  local n = math.max(#a, #b)
  local r = {}
  for i = 1, n do
    local x, y = a[#a - n + i] or 1, b[#b - n + i] or 1
    if x ~= y and x ~= 1 and y ~= 1 then return nil end
    r[i] = x == 1 and y or x
  end
  return r
end

-- An options table is a Lua table that is not a tensor and not a list.
local function is_opts(v) return type(v) == "table" and not is_tensor(v) and v[1] == nil end

local function is_int(v) return type(v) == "number" and v == math.floor(v) end

-- A number, or a list of n numbers, as a list of n integers >= min.
local function ntuple(v, n, default, min, op, name)
  if v == nil then v = default end
  local r
  if type(v) == "number" then
    r = filled(n, v)
  elseif type(v) == "table" and not is_tensor(v) and #v == n then
    r = v
  else
    error(string.format("%s: %s must be a number or a list of %d numbers, got %s", op, name, n,
      type(v) == "table" and (is_tensor(v) and "a tensor" or "a list of " .. #v) or tostring(v)), 3)
  end
  for i = 1, n do
    if not is_int(r[i]) or r[i] < min then
      error(string.format("%s: %s must be integers >= %d, got %s", op, name, min, tostring(r[i])), 3)
    end
  end
  return r
end

-- Padding for n spatial dims as {before, after} pairs: a number, a list of n numbers (both
-- sides), or a list of n {before, after} pairs.
local function pad_pairs(v, n, op)
  if v == nil then v = 0 end
  if type(v) == "table" and not is_tensor(v) and #v == n and type(v[1]) == "table" then
    local r = {}
    for i = 1, n do
      local p = v[i]
      if type(p) ~= "table" or #p ~= 2 or not is_int(p[1]) or not is_int(p[2]) or p[1] < 0 or p[2] < 0 then
        error(string.format("%s: padding pair %d must be two integers >= 0", op, i), 3)
      end
      r[i] = { p[1], p[2] }
    end
    return r
  end
  local p = ntuple(v, n, 0, 0, op, "padding")
  local r = {}
  for i = 1, n do r[i] = { p[i], p[i] } end
  return r
end

-- Pads (or crops, for negative amounts) the last #pairs dims.
local function pad_last(x, pairs, value)
  local nd = x.ndim
  local spec, any = {}, false
  for i = 1, nd do spec[i] = { 0, 0 } end
  for j, p in ipairs(pairs) do
    spec[nd - #pairs + j] = p
    any = any or p[1] ~= 0 or p[2] ~= 0
  end
  if not any then return x end
  return x:pad(spec, value ~= nil and { value = value } or nil)
end

-- Resizes dim d (1-based) to n by cropping or zero-padding at its end.
local function fit_dim(x, d, n)
  local s = x.shape
  if s[d] == n then return x end
  local spec = {}
  for i = 1, #s do spec[2 * i - 1], spec[2 * i] = 0, (i == d) and math.min(n, s[i]) or s[i] end
  if n < s[d] then return movement("shrink", x, spec) end
  local grow = {}
  for i = 1, #s do grow[2 * i - 1], grow[2 * i] = 0, (i == d) and n - s[i] or 0 end
  return movement("pad", x, grow)
end

-- Keeps the first n elements of dim d (a shrink from the start).
local function take_first(x, d, n)
  local s = x.shape
  local spec = {}
  for i = 1, #s do spec[2 * i - 1], spec[2 * i] = 0, (i == d) and n or s[i] end
  return movement("shrink", x, spec)
end

-- ---- matmul, linear ----
-- torch.matmul: 1-D operands get a dim of size 1 added (and removed from the result), batch
-- dims broadcast. Computed as (a[..., n, k, 1] * b[..., 1, k, m]):sum(-2).
function Tensor.matmul(a, b)
  check_tensor(a, "matmul", "the first argument")
  check_tensor(b, "matmul", "the second argument")
  local sa, sb = a.shape, b.shape
  if #sa == 0 or #sb == 0 then
    error(string.format("matmul: both arguments need at least 1 dim, got %s and %s", shape_str(sa), shape_str(sb)), 2)
  end
  local xs = #sa == 1 and { 1, sa[1] } or sa
  local ys = #sb == 1 and { sb[1], 1 } or sb
  local k1, k2 = xs[#xs], ys[#ys - 1]
  if k1 ~= k2 then
    error(string.format("matmul: cannot multiply %s by %s: inner dims %d and %d differ", shape_str(sa), shape_str(sb), k1, k2), 2)
  end
  local batch = broadcast_shapes(slice(xs, 1, #xs - 2), slice(ys, 1, #ys - 2))
  if not batch then
    error(string.format("matmul: batch dims of %s and %s do not broadcast", shape_str(sa), shape_str(sb)), 2)
  end
  local n, k, m = xs[#xs - 1], k1, ys[#ys]
  local full = concat(batch, { n, k, m })
  local x = T.broadcast_to(movement("reshape", a, concat(slice(xs, 1, #xs - 2), { n, k, 1 })), full)
  local y = T.broadcast_to(movement("reshape", b, concat(slice(ys, 1, #ys - 2), { 1, k, m })), full)
  local r = (x * y):sum(-2)
  if #sa == 1 or #sb == 1 then
    local out = slice(batch, 1)
    if #sa ~= 1 then out[#out + 1] = n end
    if #sb ~= 1 then out[#out + 1] = m end
    r = movement("reshape", r, out)
  end
  return r
end
Tensor.dot = Tensor.matmul

-- x @ w^T + b with torch's layout: w is {out_features, in_features}, b is {out_features}.
function Tensor.linear(x, w, b)
  check_tensor(x, "linear", "the input")
  check_tensor(w, "linear", "the weight")
  local xs, ws = x.shape, w.shape
  if #ws ~= 2 then error("linear: weight must be {out_features, in_features}, got " .. shape_str(ws), 2) end
  if #xs == 0 or xs[#xs] ~= ws[2] then
    error(string.format("linear: weight %s expects %d input features, got %s", shape_str(ws), ws[2], shape_str(xs)), 2)
  end
  local r = Tensor.matmul(x, w:transpose(1, 2))
  if b ~= nil then
    check_tensor(b, "linear", "the bias")
    if not same_shape(b.shape, { ws[1] }) then
      error(string.format("linear: bias must be {%d} for weight %s, got %s", ws[1], shape_str(ws), shape_str(b.shape)), 2)
    end
    r = r + b
  end
  return r
end

-- ---- einsum ----
-- The diagonal over dims d1 < d2 (1-based, same size n), which end as one dim at the end:
-- flatten the pair to n*n, pad to n*(n+1), view as {n, n+1} and keep column 1.
local function diagonal(x, d1, d2)
  local s = x.shape
  local n = s[d1]
  local perm = {}
  for i = 1, #s do if i ~= d1 and i ~= d2 then perm[#perm + 1] = i - 1 end end
  perm[#perm + 1], perm[#perm + 2] = d1 - 1, d2 - 1
  x = movement("permute", x, perm)
  local rest = {}
  for i = 1, #perm - 2 do rest[i] = s[perm[i] + 1] end
  x = movement("reshape", x, concat(rest, { n * n }))
  x = fit_dim(x, #rest + 1, n * (n + 1))
  x = movement("reshape", x, concat(rest, { n, n + 1 }))
  x = take_first(x, #rest + 2, 1)
  return movement("reshape", x, concat(rest, { n }))
end

-- Parses one term ("ij", "...ij", "i...j") into letters, with nil marking the ellipsis.
local function parse_term(term, formula)
  local labels, ell = {}, nil
  local i = 1
  while i <= #term do
    if term:sub(i, i + 2) == "..." then
      if ell then error(string.format("einsum: more than one ellipsis in '%s' of '%s'", term, formula), 4) end
      ell = #labels + 1
      i = i + 3
    else
      local c = term:sub(i, i)
      if not c:match("%a") then error(string.format("einsum: bad character '%s' in '%s'", c, formula), 4) end
      labels[#labels + 1] = c
      i = i + 1
    end
  end
  return labels, ell
end

-- Tensor.einsum("ij,jk->ik", a, b) or Tensor.einsum("ij,jk->ik", {a, b}). Letters are
-- case-sensitive; "..." stands for broadcast dims; without "->" the output holds the letters
-- seen once, in alphabetical order, after the ellipsis dims. A letter repeated in one operand
-- takes its diagonal ("ii->i"); letters missing from the output are summed over ("ii->").
function Tensor.einsum(formula, ...)
  if type(formula) ~= "string" then error("einsum: the first argument must be a formula string like \"ij,jk->ik\"", 2) end
  local ops = { ... }
  if #ops == 1 and type(ops[1]) == "table" and not is_tensor(ops[1]) then ops = ops[1] end
  local f = formula:gsub("%s", "")
  local lhs, rhs = f:match("^(.-)%->(.*)$")
  if not lhs then lhs = f end
  local terms = {}
  for term in (lhs .. ","):gmatch("([^,]*),") do terms[#terms + 1] = term end
  if #terms ~= #ops then
    error(string.format("einsum: formula '%s' has %d operand(s), got %d tensor(s)", formula, #terms, #ops), 2)
  end
  -- labels per operand, with the ellipsis dims as tokens "...1".."...E", right-aligned
  local parsed, nell = {}, 0
  for i, term in ipairs(terms) do
    check_tensor(ops[i], "einsum", "operand " .. i)
    local labels, ell = parse_term(term, formula)
    local nd = ops[i].ndim
    if (ell == nil and #labels ~= nd) or (ell ~= nil and #labels > nd) then
      error(string.format("einsum: term '%s' has %d letter(s) for operand %d of shape %s", term, #labels, i, shape_str(ops[i].shape)), 2)
    end
    parsed[i] = { labels = labels, ell = ell, ne = ell and nd - #labels or 0 }
    nell = math.max(nell, parsed[i].ne)
  end
  local ell_tokens = {}
  for j = 1, nell do ell_tokens[j] = "..." .. j end
  local counts, order = {}, {}
  for i, p in ipairs(parsed) do
    local full = {}
    for j = 1, #p.labels + 1 do
      if j == p.ell then for e = nell - p.ne + 1, nell do full[#full + 1] = ell_tokens[e] end end
      if p.labels[j] then full[#full + 1] = p.labels[j] end
    end
    p.full = full
    for _, l in ipairs(full) do
      if not counts[l] then order[#order + 1] = l end
      counts[l] = (counts[l] or 0) + 1
    end
  end
  -- output labels
  local out = {}
  if rhs then
    local labels, ell = parse_term(rhs, formula)
    for j = 1, #labels + 1 do
      if j == ell then for e = 1, nell do out[#out + 1] = ell_tokens[e] end end
      if labels[j] then out[#out + 1] = labels[j] end
    end
    local seen = {}
    for _, l in ipairs(out) do
      if seen[l] then error(string.format("einsum: output letter '%s' appears twice in '%s'", l, formula), 2) end
      if not counts[l] then error(string.format("einsum: output letter '%s' of '%s' is in no operand", l, formula), 2) end
      seen[l] = true
    end
  else
    for e = 1, nell do out[#out + 1] = ell_tokens[e] end
    local once = {}
    for l, c in pairs(counts) do if c == 1 and not l:find("^%.%.%.") then once[#once + 1] = l end end
    table.sort(once)
    for _, l in ipairs(once) do out[#out + 1] = l end
  end
  -- sizes agree (or are 1, which broadcasts)
  local size = {}
  for i, p in ipairs(parsed) do
    local s = ops[i].shape
    local here = {}
    for j, l in ipairs(p.full) do
      if here[l] and here[l] ~= s[j] then
        error(string.format("einsum: letter '%s' repeats in operand %d with sizes %d and %d (%s)", l, i, here[l], s[j], shape_str(s)), 2)
      end
      here[l] = s[j]
      local have = size[l]
      if have and have ~= s[j] and have ~= 1 and s[j] ~= 1 then
        error(string.format("einsum: letter '%s' is %d in one operand and %d in operand %d of shape %s ('%s')",
          (l:gsub("^%.%.%.%d+$", "...")), have, s[j], i, shape_str(s), formula), 2)
      end
      if not have or have == 1 then size[l] = s[j] end
    end
  end
  -- global dim order: output letters, then the summed ones
  local is_out, all = {}, {}
  for _, l in ipairs(out) do is_out[l] = true; all[#all + 1] = l end
  for _, l in ipairs(order) do if not is_out[l] then all[#all + 1] = l end end
  local pos = {}
  for j, l in ipairs(all) do pos[l] = j end
  local product
  for i, p in ipairs(parsed) do
    local x, labels = ops[i], slice(p.full, 1)
    -- repeated letters: take diagonals until each letter is there once
    local again = true
    while again do
      again = false
      for a = 1, #labels do
        for b = a + 1, #labels do
          if not again and labels[a] == labels[b] then
            x = diagonal(x, a, b)
            local l = labels[a]
            table.remove(labels, b)
            table.remove(labels, a)
            labels[#labels + 1] = l
            again = true
          end
        end
      end
    end
    -- to the global order, with size-1 dims for letters the operand lacks
    local idx = {}
    for j = 1, #labels do idx[j] = j end
    table.sort(idx, function(u, v) return pos[labels[u]] < pos[labels[v]] end)
    local perm, s = {}, x.shape
    for j = 1, #idx do perm[j] = idx[j] - 1 end
    x = movement("permute", x, perm)
    local has = {}
    for j = 1, #labels do has[labels[j]] = s[j] end
    local shp = {}
    for j, l in ipairs(all) do shp[j] = has[l] or 1 end
    x = movement("reshape", x, shp)
    product = product and product * x or x
  end
  -- broadcast to the full sizes, sum the letters not in the output
  local full_shape = {}
  for j, l in ipairs(all) do full_shape[j] = size[l] end
  product = T.broadcast_to(product, full_shape)
  if #all > #out then
    local dims = {}
    for j = #out + 1, #all do dims[#dims + 1] = j end
    product = product:sum(dims)
  end
  return product
end

-- ---- pooling windows ----
-- The windows of the last #k dims: {..., i1, i2} -> {..., o1, o2, k1, k2}, where window (p, q)
-- holds x[.., p*s1 + a*d1, q*s2 + b*d2] for a < k1, b < k2 (0-based), o = (i - d(k-1) - 1)//s + 1.
-- No overlap and no dilation: view each dim as {o, s} and keep the first k. Otherwise the
-- WINDOW primitive, whose indices are affine (o*s + a*d) forward and backward, where the
-- reshape tricks (repeat, view as longer rows) would leave // and % in the gradient's kernels.
local function pool(x, k, s, d)
  local shape = x.shape
  local n = #k
  local pre = slice(shape, 1, #shape - n)
  local np = #pre
  local i, o = slice(shape, #shape - n + 1), {}
  local simple = true
  for j = 1, n do
    o[j] = math.floor((i[j] - d[j] * (k[j] - 1) - 1) / s[j]) + 1
    simple = simple and k[j] <= s[j] and d[j] == 1
  end
  local perm = {}
  for j = 1, np do perm[j] = j - 1 end
  if simple then
    for j = 1, n do x = fit_dim(x, np + j, o[j] * s[j]) end
    local v = slice(pre, 1)
    for j = 1, n do v[#v + 1] = o[j]; v[#v + 1] = s[j] end
    x = movement("reshape", x, v)
    for j = 1, n do x = take_first(x, np + 2 * j, k[j]) end
    for j = 1, n do perm[np + j] = np + 2 * (j - 1) end
    for j = 1, n do perm[np + n + j] = np + 2 * (j - 1) + 1 end
    return movement("permute", x, perm)
  end
  local arg = {}
  for j = 1, n do arg[#arg + 1] = k[j]; arg[#arg + 1] = s[j]; arg[#arg + 1] = d[j] end
  return movement("window", x, arg)
end
Tensor._pool = function(x, k, s, d) return pool(x, k, s or k, d or filled(#k, 1)) end

local function out_size(i, pads, k, s, d)
  return math.floor((i + pads[1] + pads[2] - d * (k - 1) - 1) / s) + 1
end

-- ---- convolution ----
-- x {N, C, spatial...} (or unbatched {C, spatial...}), w {Cout, C/groups, k...}: as many
-- spatial dims as w has beyond 2 (conv2d with a 3-D weight is a 1-D convolution).
local function conv_core(x, w, b, stride, pads, dil, groups)
  local xs, ws = x.shape, w.shape
  local nsp = #ws - 2
  local N, cout, cg = xs[1], ws[1], ws[2]
  local k = slice(ws, 3)
  x = pad_last(x, pads)
  local p = pool(x, k, stride, dil)  -- {N, C, o..., k...}
  local o = slice(p.shape, 3, 2 + nsp)
  -- {N, G, 1, cg, o..., k...} -> {N, G, 1, o..., cg, k...}
  p = movement("reshape", p, concat({ N, groups, 1, cg }, o, k))
  local perm = { 0, 1, 2 }
  for j = 1, nsp do perm[#perm + 1] = 3 + j end
  perm[#perm + 1] = 3
  for j = 1, nsp do perm[#perm + 1] = 3 + nsp + j end
  p = movement("permute", p, perm)
  local wr = movement("reshape", w, concat({ 1, groups, cout / groups }, filled(nsp, 1), { cg }, k))
  local dims = {}
  for j = 1, nsp + 1 do dims[j] = -j end
  local r = (p * wr):sum(dims)  -- {N, G, Cout/G, o...}
  r = movement("reshape", r, concat({ N, cout }, o))
  if b then r = r + movement("reshape", b, concat({ 1, cout }, filled(nsp, 1))) end
  return r
end

-- Common checks of conv2d and conv_transpose2d: returns the batched x, whether it was
-- unbatched, the number of spatial dims and the options as lists.
local function conv_args(op, x, w, b, opts)
  check_tensor(x, op, "the input")
  check_tensor(w, op, "the weight")
  if b ~= nil then check_tensor(b, op, "the bias") end
  local ws = w.shape
  if #ws < 3 then
    error(string.format("%s: weight must have at least 3 dims {out, in/groups, k...}, got %s", op, shape_str(ws)), 3)
  end
  local nsp = #ws - 2
  local xs = x.shape
  local unbatched = #xs == nsp + 1
  if unbatched then x = x:unsqueeze(1); xs = x.shape end
  if #xs ~= nsp + 2 then
    error(string.format("%s: input %s must have %d or %d dims for weight %s", op, shape_str(xs), nsp + 1, nsp + 2, shape_str(ws)), 3)
  end
  local groups = opts.groups or 1
  if not is_int(groups) or groups < 1 then error(op .. ": groups must be an integer >= 1, got " .. tostring(groups), 3) end
  local a = {
    stride = ntuple(opts.stride, nsp, 1, 1, op, "stride"),
    dilation = ntuple(opts.dilation, nsp, 1, 1, op, "dilation"),
    groups = groups,
  }
  return x, unbatched, nsp, a
end

-- conv2d(x, w, b, {stride = 1, padding = 0, dilation = 1, groups = 1}); b may be nil or left
-- out (x:conv2d(w, {stride = 2})). padding: a number, one per spatial dim, {before, after}
-- pairs per dim, "valid" (0) or "same" (stride 1 only; the extra goes after, as in torch).
function Tensor.conv2d(x, w, b, opts)
  if is_opts(b) then b, opts = nil, b end
  opts = opts or {}
  local op = "conv2d"
  local xb, unbatched, nsp, a = conv_args(op, x, w, b, opts)
  local xs, ws = xb.shape, w.shape
  local groups = a.groups
  if ws[1] % groups ~= 0 then
    error(string.format("conv2d: weight %s has %d output channels, not divisible by %d groups", shape_str(ws), ws[1], groups), 2)
  end
  if ws[2] * groups ~= xs[2] then
    error(string.format("conv2d: weight %s expects %d input channels, got %d in %s", shape_str(ws), ws[2] * groups, xs[2], shape_str(x.shape)), 2)
  end
  if b ~= nil and not same_shape(b.shape, { ws[1] }) then
    error(string.format("conv2d: bias must be {%d} for weight %s, got %s", ws[1], shape_str(ws), shape_str(b.shape)), 2)
  end
  local pads
  if opts.padding == "valid" then
    pads = pad_pairs(0, nsp, op)
  elseif opts.padding == "same" then
    pads = {}
    for j = 1, nsp do
      if a.stride[j] ~= 1 then error("conv2d: padding \"same\" needs stride 1, got " .. shape_str(a.stride), 2) end
      local total = a.dilation[j] * (ws[2 + j] - 1)
      pads[j] = { math.floor(total / 2), total - math.floor(total / 2) }
    end
  else
    pads = pad_pairs(opts.padding, nsp, op)
  end
  local o = {}
  for j = 1, nsp do
    o[j] = out_size(xs[2 + j], pads[j], ws[2 + j], a.stride[j], a.dilation[j])
    if o[j] < 1 then
      error(string.format("conv2d: input %s (padded by %d+%d) is smaller than the kernel %d dilated by %d in spatial dim %d",
        shape_str(x.shape), pads[j][1], pads[j][2], ws[2 + j], a.dilation[j], j), 2)
    end
  end
  local r = conv_core(xb, w, b, a.stride, pads, a.dilation, groups)
  if unbatched then r = r:squeeze(1) end
  return r
end

-- The gradient of conv2d with respect to its input, as torch's conv_transpose2d:
-- w {C_in, C_out/groups, k...}, output size (i - 1) s - 2p + d (k - 1) + output_padding + 1.
-- Spread the input s apart (zeros between), pad by d (k - 1) - p (negative crops), and
-- convolve with the kernel flipped and its in/out channels swapped per group.
function Tensor.conv_transpose2d(x, w, b, opts)
  if is_opts(b) then b, opts = nil, b end
  opts = opts or {}
  local op = "conv_transpose2d"
  local xb, unbatched, nsp, a = conv_args(op, x, w, b, opts)
  local xs, ws = xb.shape, w.shape
  local groups = a.groups
  if ws[1] ~= xs[2] then
    error(string.format("conv_transpose2d: weight %s expects %d input channels, got %d in %s", shape_str(ws), ws[1], xs[2], shape_str(x.shape)), 2)
  end
  if ws[1] % groups ~= 0 then
    error(string.format("conv_transpose2d: weight %s has %d input channels, not divisible by %d groups", shape_str(ws), ws[1], groups), 2)
  end
  local cout = ws[2] * groups
  if b ~= nil and not same_shape(b.shape, { cout }) then
    error(string.format("conv_transpose2d: bias must be {%d} for weight %s and %d groups, got %s", cout, shape_str(ws), groups, shape_str(b.shape)), 2)
  end
  local padding = ntuple(opts.padding, nsp, 0, 0, op, "padding")
  local outpad = ntuple(opts.output_padding, nsp, 0, 0, op, "output_padding")
  local k = slice(ws, 3)
  local pads = {}
  for j = 1, nsp do
    local s, d = a.stride[j], a.dilation[j]
    if outpad[j] >= math.max(s, d) then
      error(string.format("conv_transpose2d: output_padding %d must be smaller than stride %d or dilation %d", outpad[j], s, d), 2)
    end
    local size = (xs[2 + j] - 1) * s - 2 * padding[j] + d * (k[j] - 1) + outpad[j] + 1
    if size < 1 then
      error(string.format("conv_transpose2d: output size %d < 1 in spatial dim %d for input %s, weight %s", size, j, shape_str(x.shape), shape_str(ws)), 2)
    end
    local edge = d * (k[j] - 1) - padding[j]
    pads[j] = { edge, edge + outpad[j] }
  end
  -- spread: {.., i} -> {.., i, 1} -> pad to {.., i, s} -> {.., i*s} -> first (i-1)*s + 1
  local spread = false
  for j = 1, nsp do spread = spread or a.stride[j] > 1 end
  if spread then
    local v, p, flat = slice(xs, 1, 2), {}, slice(xs, 1, 2)
    for j = 1, nsp do v[#v + 1] = xs[2 + j]; v[#v + 1] = 1 end
    for j = 1, 2 do p[2 * j - 1], p[2 * j] = 0, 0 end
    for j = 1, nsp do
      local base = 2 + 2 * (j - 1)
      p[2 * base + 1], p[2 * base + 2] = 0, 0
      p[2 * base + 3], p[2 * base + 4] = 0, a.stride[j] - 1
      flat[#flat + 1] = xs[2 + j] * a.stride[j]
    end
    xb = movement("reshape", movement("pad", movement("reshape", xb, v), p), flat)
    for j = 1, nsp do xb = take_first(xb, 2 + j, (xs[2 + j] - 1) * a.stride[j] + 1) end
  end
  -- the weight as a conv2d weight: {G, C_in/G, C_out/G, k...} -> {G, C_out/G, C_in/G, k...}, flipped
  local cg = ws[1] / groups
  local wt = movement("reshape", w, concat({ groups, cg, ws[2] }, k))
  local perm = { 0, 2, 1 }
  for j = 1, nsp do perm[3 + j] = 2 + j end
  wt = movement("permute", wt, perm)
  wt = movement("reshape", wt, concat({ cout, cg }, k))
  local flips = {}
  for j = 1, nsp do flips[j] = 1 + j end
  wt = movement("flip", wt, flips)
  local r = conv_core(xb, wt, b, filled(nsp, 1), pads, a.dilation, groups)
  if unbatched then r = r:squeeze(1) end
  return r
end

-- ---- pooling ----
-- (x, kernel, stride, opts) or (x, kernel, opts); kernel defaults to 2 and stride to kernel.
local function pool_args(op, x, kernel, stride, opts)
  check_tensor(x, op, "the input")
  if is_opts(stride) then stride, opts = nil, stride end
  opts = opts or {}
  stride = stride or opts.stride
  local k = ntuple(kernel or opts.kernel_size, 2, 2, 1, op, "kernel size")
  local s = ntuple(stride, 2, k, 1, op, "stride")
  local d = ntuple(opts.dilation, 2, 1, 1, op, "dilation")
  local p = ntuple(opts.padding, 2, 0, 0, op, "padding")
  if opts.ceil_mode then error(op .. ": ceil_mode is not supported", 3) end
  local xs = x.shape
  if #xs < 2 then error(string.format("%s: input %s needs at least 2 dims", op, shape_str(xs)), 3) end
  local pads = {}
  for j = 1, 2 do
    if 2 * p[j] > k[j] then
      error(string.format("%s: padding %d must be at most half the kernel size %d", op, p[j], k[j]), 3)
    end
    pads[j] = { p[j], p[j] }
    if out_size(xs[#xs - 2 + j], pads[j], k[j], s[j], d[j]) < 1 then
      error(string.format("%s: input %s (padded by %d) is smaller than the kernel %s dilated by %d", op, shape_str(xs), p[j], shape_str(k), d[j]), 3)
    end
  end
  return k, s, d, pads, opts
end

-- The smallest value of a dtype (the padding of max pooling).
local function lowest(dt)
  if dt.is_float then return NEG_INF end
  if dt.is_bool or dt.is_unsigned then return 0 end
  return -(2 ^ (dt.itemsize * 8 - 1))
end

function Tensor.max_pool2d(x, kernel, stride, opts)
  local k, s, d, pads = pool_args("max_pool2d", x, kernel, stride, opts)
  local xp = pad_last(x, pads, lowest(x.dtype))
  return pool(xp, k, s, d):max({ -2, -1 })
end

-- count_include_pad (default true, as in torch) divides by the full kernel size; false divides
-- by the number of input elements under the window.
function Tensor.avg_pool2d(x, kernel, stride, opts)
  local k, s, d, pads
  k, s, d, pads, opts = pool_args("avg_pool2d", x, kernel, stride, opts)
  local xf = float_of(x)
  local sum = pool(pad_last(xf, pads), k, s, d):sum({ -2, -1 })
  if opts.count_include_pad == false then
    local xs = x.shape
    local ones = Tensor.ones(xs[#xs - 1], xs[#xs], { dtype = xf.dtype, device = x.device })
    return sum / pool(pad_last(ones, pads), k, s, d):sum({ -2, -1 })
  end
  return sum / (k[1] * k[2])
end

-- ---- interpolate ----
-- x:interpolate(size, {mode, align_corners}) or x:interpolate({scale_factor = f, mode = ...}).
-- Resizes the dims after the first two ({N, C, ...}, as torch), or the last #size dims when
-- size is a list. Modes: "nearest" (torch's legacy: src = floor(dst * scale)), "nearest-exact"
-- (floor((dst + 0.5) * scale)), "linear" / "bilinear" / "trilinear" (separable linear).
-- scale is in/out, or 1/scale_factor when a scale factor is given (as torch does).
local LINEAR = { linear = true, bilinear = true, trilinear = true }

-- The {out, in} weights of one resized dim.
local function resize_weights(n_in, n_out, ratio, mode, align)
  local m = {}
  for o = 1, n_out do m[o] = filled(n_in, 0) end
  for o = 0, n_out - 1 do
    if mode == "nearest" or mode == "nearest-exact" then
      local src = mode == "nearest" and math.floor(o * ratio) or math.floor((o + 0.5) * ratio)
      m[o + 1][math.min(src, n_in - 1) + 1] = 1
    else
      local src
      if align then
        src = n_out > 1 and o * (n_in - 1) / (n_out - 1) or 0
      else
        src = math.max((o + 0.5) * ratio - 0.5, 0)
      end
      local i0 = math.min(math.floor(src), n_in - 1)
      local i1 = math.min(i0 + 1, n_in - 1)
      local l1 = src - i0
      m[o + 1][i0 + 1] = m[o + 1][i0 + 1] + (1 - l1)
      m[o + 1][i1 + 1] = m[o + 1][i1 + 1] + l1
    end
  end
  return m
end

function Tensor.interpolate(x, size, opts)
  check_tensor(x, "interpolate", "the input")
  if is_opts(size) then size, opts = nil, size end
  opts = opts or {}
  local mode = opts.mode or "nearest"
  if mode ~= "nearest" and mode ~= "nearest-exact" and not LINEAR[mode] then
    error("interpolate: mode must be \"nearest\", \"nearest-exact\", \"linear\", \"bilinear\" or \"trilinear\", got " .. tostring(mode), 2)
  end
  if opts.align_corners ~= nil and not LINEAR[mode] then
    error("interpolate: align_corners only goes with the linear modes, not \"" .. mode .. "\"", 2)
  end
  local xs = x.shape
  local sizes, ratios = {}, {}
  local n
  if size ~= nil then
    if opts.scale_factor ~= nil then error("interpolate: give a size or a scale_factor, not both", 2) end
    n = type(size) == "table" and #size or #xs - 2
    local s = ntuple(size, n, nil, 1, "interpolate", "size")
    for j = 1, n do sizes[j] = s[j] end
  elseif opts.scale_factor ~= nil then
    local sf = opts.scale_factor
    n = type(sf) == "table" and #sf or #xs - 2
    for j = 1, n do
      local f = type(sf) == "table" and sf[j] or sf
      if type(f) ~= "number" or not (f > 0) then error("interpolate: scale_factor must be > 0, got " .. tostring(f), 2) end
      sizes[j] = math.floor(xs[#xs - n + j] * f)
      ratios[j] = 1 / f
      if sizes[j] < 1 then error(string.format("interpolate: scale_factor %s makes dim %d of %s empty", f, #xs - n + j, shape_str(xs)), 2) end
    end
  else
    error("interpolate: give a size or {scale_factor = ...}", 2)
  end
  if n < 1 or n > #xs then
    error(string.format("interpolate: cannot resize %d dims of %s", n, shape_str(xs)), 2)
  end
  local r = LINEAR[mode] and float_of(x) or x
  local dt = r.dtype
  for j = 1, n do
    local d = #xs - n + j
    local n_in, n_out = xs[d], sizes[j]
    local m = resize_weights(n_in, n_out, ratios[j] or n_in / n_out, mode, opts.align_corners)
    local mask = {}
    for o = 1, n_out do
      mask[o] = {}
      for i = 1, n_in do mask[o][i] = m[o][i] ~= 0 end
    end
    -- {..., in} -> {..., 1, in}, weighted by the {out, in} matrix, summed over in
    local v = r:transpose(d, -1):unsqueeze(-2)
    local mk = Tensor(mask, { device = x.device })
    if LINEAR[mode] then
      local w = Tensor(m, { dtype = dt, device = x.device })
      v = where(mk, v * w, 0):sum(-1)
    else
      v = where(mk, v, v.dtype.is_bool and false or 0):sum(-1)
      if v.dtype ~= dt then v = v:cast(dt) end
    end
    r = v:transpose(d, -1)
  end
  return r
end

-- ---- normalizations ----
-- normalized shape: a number or a list (the last dims of x), default the last dim; an options
-- table may take its place.
local function norm_dims(op, x, shape)
  local xs = x.shape
  if #xs == 0 then error(op .. ": needs at least 1 dim, got a 0-d tensor", 3) end
  if shape == nil then shape = { xs[#xs] } elseif type(shape) == "number" then shape = { shape } end
  local ok = #shape >= 1 and #shape <= #xs
  for j = 1, #shape do ok = ok and shape[j] == xs[#xs - #shape + j] end
  if not ok then
    error(string.format("%s: normalized shape %s does not match the last dims of %s", op, shape_str(shape), shape_str(xs)), 3)
  end
  local dims = {}
  for j = 1, #shape do dims[j] = -j end
  return dims, shape
end

local function affine(op, r, shape, w, b)
  for _, p in ipairs({ { w, "weight" }, { b, "bias" } }) do
    if p[1] ~= nil then
      check_tensor(p[1], op, p[2])
      if not same_shape(p[1].shape, shape) then
        error(string.format("%s: %s must be %s, got %s", op, p[2], shape_str(shape), shape_str(p[1].shape)), 3)
      end
    end
  end
  if w ~= nil then r = r * w end
  if b ~= nil then r = r + b end
  return r
end

-- (x - mean) / sqrt(var + eps) over the normalized dims (biased variance, as torch), then
-- * weight + bias when given in opts.
function Tensor.layernorm(x, shape, opts)
  check_tensor(x, "layernorm", "the input")
  if is_opts(shape) then shape, opts = nil, shape end
  opts = opts or {}
  local dims, nshape = norm_dims("layernorm", x, shape)
  local xf = float_of(x)
  local xc = xf - xf:mean(dims, { keepdim = true })
  local var = (xc * xc):mean(dims, { keepdim = true })
  return affine("layernorm", xc * (var + (opts.eps or 1e-5)):rsqrt(), nshape, opts.weight, opts.bias)
end

-- x / sqrt(mean(x^2) + eps) over the normalized dims (eps 1e-6 unless given), * weight.
function Tensor.rmsnorm(x, shape, opts)
  check_tensor(x, "rmsnorm", "the input")
  if is_opts(shape) then shape, opts = nil, shape end
  opts = opts or {}
  local dims, nshape = norm_dims("rmsnorm", x, shape)
  local xf = float_of(x)
  local r = xf * ((xf * xf):mean(dims, { keepdim = true }) + (opts.eps or 1e-6)):rsqrt()
  return affine("rmsnorm", r, nshape, opts.weight, nil)
end

-- Functional, like tinygrad: (x - mean) * weight * invstd + bias over dim 2 (the channels);
-- weight and bias may be nil. mean, invstd, weight, bias are {C}.
function Tensor.batchnorm(x, weight, bias, mean, invstd)
  check_tensor(x, "batchnorm", "the input")
  check_tensor(mean, "batchnorm", "mean")
  check_tensor(invstd, "batchnorm", "invstd")
  local xs = x.shape
  if #xs < 2 then error("batchnorm: input needs at least 2 dims {N, C, ...}, got " .. shape_str(xs), 2) end
  local c = xs[2]
  local shape = concat({ 1, c }, filled(#xs - 2, 1))
  local function channel(t, name)
    if t == nil then return nil end
    check_tensor(t, "batchnorm", name)
    if not same_shape(t.shape, { c }) then
      error(string.format("batchnorm: %s must be {%d} for input %s, got %s", name, c, shape_str(xs), shape_str(t.shape)), 3)
    end
    return movement("reshape", t, shape)
  end
  local m, is, w, b = channel(mean, "mean"), channel(invstd, "invstd"), channel(weight, "weight"), channel(bias, "bias")
  local r = float_of(x) - m
  if w then r = r * w end
  r = r * is
  if b then r = r + b end
  return r
end

-- ---- dropout ----
-- Zeroes each element with probability p and scales the rest by 1/(1-p). Applies unless p is 0,
-- opts.training is false, or the front end's training flag (moongrad.tensor's `training`
-- field, for mg.training) is false. Draws from Tensor.rand (mg.manual_seed makes it repeat).
function Tensor.dropout(x, p, opts)
  check_tensor(x, "dropout", "the input")
  p = p or 0.5
  if type(p) ~= "number" or not (p >= 0 and p <= 1) then error("dropout: p must be in [0, 1], got " .. tostring(p), 2) end
  if p == 0 or (opts and opts.training == false) or T.training == false then return x end
  if p == 1 then return x * 0 end
  local keep = Tensor.rand(x.shape, { device = x.device }):ge(p)
  return where(keep, float_of(x) * (1 / (1 - p)), 0)
end

-- ---- softmax (private: the losses and attention use these, not ops_scan's) ----
function Tensor._softmax(x, dim)
  dim = dim or -1
  local xf = float_of(x)
  local m = xf - xf:max(dim, { keepdim = true }):detach()
  local e = m:exp()
  return e / e:sum(dim, { keepdim = true })
end

function Tensor._log_softmax(x, dim)
  dim = dim or -1
  local xf = float_of(x)
  local m = xf - xf:max(dim, { keepdim = true }):detach()
  return m - m:exp():sum(dim, { keepdim = true }):log()
end

-- ---- attention ----
-- softmax(q k^T * scale + mask) v, q {..., L, E}, k {..., S, E}, v {..., S, Ev}; scale is
-- 1/sqrt(E) unless given. mask: bool (true keeps) or float (added); is_causal keeps j <= i.
-- A row with every position masked is NaN (as softmax of all -inf).
function Tensor.scaled_dot_product_attention(q, k, v, opts)
  local op = "scaled_dot_product_attention"
  check_tensor(q, op, "q"); check_tensor(k, op, "k"); check_tensor(v, op, "v")
  opts = opts or {}
  local qs, ks, vs = q.shape, k.shape, v.shape
  if #qs < 2 or #ks < 2 or #vs < 2 then
    error(string.format("%s: q %s, k %s and v %s need at least 2 dims", op, shape_str(qs), shape_str(ks), shape_str(vs)), 2)
  end
  if qs[#qs] ~= ks[#ks] then
    error(string.format("%s: q %s and k %s differ in the last dim (%d and %d)", op, shape_str(qs), shape_str(ks), qs[#qs], ks[#ks]), 2)
  end
  if ks[#ks - 1] ~= vs[#vs - 1] then
    error(string.format("%s: k %s and v %s differ in sequence length (%d and %d)", op, shape_str(ks), shape_str(vs), ks[#ks - 1], vs[#vs - 1]), 2)
  end
  if opts.mask ~= nil and opts.is_causal then error(op .. ": give mask or is_causal, not both", 2) end
  local L, S = qs[#qs - 1], ks[#ks - 1]
  local scale = opts.scale or 1 / math.sqrt(qs[#qs])
  local scores = Tensor.matmul(float_of(q), float_of(k):transpose(-2, -1)) * scale
  local mask = opts.mask
  if opts.is_causal then
    local i = Tensor.arange(L, { device = q.device }):reshape(L, 1)
    mask = i:ge(Tensor.arange(S, { device = q.device }):reshape(1, S))
  end
  if mask ~= nil then
    check_tensor(mask, op, "mask")
    if not broadcast_shapes(mask.shape, scores.shape) then
      error(string.format("%s: mask %s does not broadcast to the scores %s", op, shape_str(mask.shape), shape_str(scores.shape)), 2)
    end
    if mask.dtype == dtypes.bool then scores = where(mask, scores, NEG_INF) else scores = scores + mask end
  end
  local attn = Tensor._softmax(scores, -1)
  if opts.dropout_p and opts.dropout_p > 0 then attn = attn:dropout(opts.dropout_p) end
  return Tensor.matmul(attn, float_of(v))
end

-- ---- one_hot, sequential ----
-- Class values 1..n to a new last dim of size n (int32 0/1); a value outside 1..n gives a row
-- of zeros. n left out reads the largest value back (this realizes x).
function Tensor.one_hot(x, n)
  check_tensor(x, "one_hot", "the input")
  if x.dtype.is_float or x.dtype.is_bool then
    error(string.format("one_hot: needs integer class indices (1-based), got %s %s", x.dtype.name, shape_str(x.shape)), 2)
  end
  if n == nil then n = x:max():item() end
  if not is_int(n) or n < 1 then error("one_hot: number of classes must be an integer >= 1, got " .. tostring(n), 2) end
  local classes = Tensor.arange(1, n + 1, { dtype = x.dtype, device = x.device })
  return x:unsqueeze(-1):eq(classes):cast(dtypes.int32)
end

-- Applies each callable of the list in turn: x:sequential{f, g} is g(f(x)).
function Tensor.sequential(x, layers)
  if type(layers) ~= "table" or is_tensor(layers) then error("sequential: expected a list of callables", 2) end
  for i, f in ipairs(layers) do
    local mt = type(f) ~= "function" and getmetatable(f)
    if type(f) ~= "function" and not (mt and mt.__call) then
      error(string.format("sequential: layer %d is a %s, not callable", i, type(f)), 2)
    end
    x = f(x)
  end
  return x
end

-- ---- losses ----
local function reduce_loss(op, l, reduction, denom)
  reduction = reduction or "mean"
  if reduction == "none" then return l end
  if reduction == "sum" then return l:sum() end
  if reduction == "mean" then
    if denom then return l:sum() / denom end
    return l:mean()
  end
  error(op .. ": reduction must be \"mean\", \"sum\" or \"none\", got " .. tostring(reduction), 3)
end

-- Moves dim d (1-based) to the end.
local function to_last(x, d)
  local n = x.ndim
  if d == n then return x end
  local perm = {}
  for i = 1, n do if i ~= d then perm[#perm + 1] = i - 1 end end
  perm[#perm + 1] = d - 1
  return movement("permute", x, perm)
end

-- The expected label shape: x's shape without dim cd.
local function without(shape, cd)
  local r = {}
  for i = 1, #shape do if i ~= cd then r[#r + 1] = shape[i] end end
  return r
end

-- The negative log-likelihood of class labels, with logp's classes in its last dim and y
-- holding 1-based labels of logp's shape without that dim. opts: reduction, weight (per class),
-- ignore_index, label_smoothing.
local function nll_core(op, logp, y, opts)
  local C = logp.shape[logp.ndim]
  local oh = y:one_hot(C)
  local keep = nil
  if opts.ignore_index ~= nil then keep = y:ne(opts.ignore_index) end
  local w = opts.weight
  if w ~= nil then
    check_tensor(w, op, "weight")
    if not same_shape(w.shape, { C }) then
      error(string.format("%s: weight must be {%d} (one per class), got %s", op, C, shape_str(w.shape)), 3)
    end
  end
  -- what the mean divides by: the weights of the labels (torch's), or the labels kept
  local wy = w and (oh * w):sum(-1) or nil
  if keep then wy = wy and where(keep, wy, 0) or keep:cast(logp.dtype) end
  local l = -(logp * oh):sum(-1)
  if w then l = -(logp * oh * w):sum(-1) end
  local ls = opts.label_smoothing or 0
  if type(ls) ~= "number" or ls < 0 or ls > 1 then error(op .. ": label_smoothing must be in [0, 1], got " .. tostring(ls), 3) end
  if ls > 0 then
    local smooth = -(w and (logp * w) or logp):sum(-1) / C
    l = l * (1 - ls) + smooth * ls
  end
  if keep then l = where(keep, l, 0) end
  local reduction = opts.reduction or "mean"
  if reduction == "mean" and wy then return reduce_loss(op, l, reduction, wy:sum()) end
  return reduce_loss(op, l, reduction)
end

local function check_labels(op, x, y, cd)
  local want = without(x.shape, cd)
  if not same_shape(y.shape, want) then
    error(string.format("%s: target %s does not match input %s (expected %s)", op, shape_str(y.shape), shape_str(x.shape), shape_str(want)), 3)
  end
end

-- torch's cross_entropy: x {C}, {N, C} or {N, C, d...} logits (classes in dim 2, or 1 for 1-D);
-- target is 1-based class labels (integer, x's shape without the class dim) or class
-- probabilities (float, x's shape). opts: reduction ("mean"), label_smoothing, weight,
-- ignore_index (labels only).
function Tensor.cross_entropy(x, target, opts)
  local op = "cross_entropy"
  check_tensor(x, op, "the input")
  check_tensor(target, op, "the target")
  opts = opts or {}
  if x.ndim == 0 then error("cross_entropy: input needs a class dim, got a 0-d tensor", 2) end
  local cd = x.ndim == 1 and 1 or 2
  local logp = to_last(Tensor._log_softmax(x, cd), cd)
  if not target.dtype.is_float then
    if target.dtype.is_bool then error("cross_entropy: target must be class labels (integer) or probabilities (float), got bool", 2) end
    check_labels(op, x, target, cd)
    return nll_core(op, logp, target, opts)
  end
  if not same_shape(target.shape, x.shape) then
    error(string.format("cross_entropy: probability target %s does not match input %s", shape_str(target.shape), shape_str(x.shape)), 2)
  end
  if opts.ignore_index ~= nil then error("cross_entropy: ignore_index needs class labels, not probabilities", 2) end
  local C = x.shape[cd]
  local p = to_last(target, cd)
  local ls = opts.label_smoothing or 0
  if ls > 0 then p = p * (1 - ls) + ls / C end
  local w = opts.weight
  if w ~= nil then
    check_tensor(w, op, "weight")
    if not same_shape(w.shape, { C }) then error(string.format("cross_entropy: weight must be {%d}, got %s", C, shape_str(w.shape)), 2) end
    p = p * w
  end
  return reduce_loss(op, -(logp * p):sum(-1), opts.reduction)
end

-- x has a class dim and the labels are integer class indices.
local function check_class_input(op, x, labels, what)
  if x.ndim == 0 then error(op .. ": input needs a class dim, got a 0-d tensor", 3) end
  if labels.dtype.is_float or labels.dtype.is_bool then
    error(string.format("%s: %s must be integer class indices, got %s", op, what, labels.dtype.name), 3)
  end
end

-- tinygrad's: logits with the classes in the last dim, labels 1-based of x's shape without it.
-- opts: reduction, label_smoothing, ignore_index (mean divides by the labels kept).
function Tensor.sparse_categorical_crossentropy(x, labels, opts)
  local op = "sparse_categorical_crossentropy"
  check_tensor(x, op, "the input")
  check_tensor(labels, op, "the labels")
  opts = opts or {}
  check_class_input(op, x, labels, "labels")
  check_labels(op, x, labels, x.ndim)
  return nll_core(op, Tensor._log_softmax(x, -1), labels, opts)
end

-- torch's nll_loss: x holds log-probabilities ({C}, {N, C} or {N, C, d...}), target 1-based labels.
-- opts: reduction, weight, ignore_index.
function Tensor.nll_loss(x, target, opts)
  local op = "nll_loss"
  check_tensor(x, op, "the input")
  check_tensor(target, op, "the target")
  opts = opts or {}
  check_class_input(op, x, target, "target")
  local cd = x.ndim == 1 and 1 or 2
  check_labels(op, x, target, cd)
  if opts.label_smoothing then error("nll_loss: label_smoothing is not an option of nll_loss", 2) end
  return nll_core(op, to_last(float_of(x), cd), target, opts)
end

local function check_same(op, x, y)
  check_tensor(x, op, "the input")
  check_tensor(y, op, "the target")
  if not same_shape(x.shape, y.shape) then
    error(string.format("%s: target %s does not match input %s", op, shape_str(y.shape), shape_str(x.shape)), 3)
  end
end

-- x holds probabilities; the logs are clamped at -100, as in torch (so 0 and 1 give 100, not inf).
function Tensor.binary_crossentropy(x, y, opts)
  check_same("binary_crossentropy", x, y)
  opts = opts or {}
  local xf = float_of(x)
  local l1 = Tensor.maximum(xf:log(), -100)
  local l0 = Tensor.maximum((1 - xf):log(), -100)
  local l = -(y * l1 + (1 - y) * l0)
  if opts.weight ~= nil then l = l * opts.weight end
  return reduce_loss("binary_crossentropy", l, opts.reduction)
end

-- From logits, stably: (1 - y) x + (1 + (pos_weight - 1) y) softplus(-x).
function Tensor.binary_crossentropy_logits(x, y, opts)
  check_same("binary_crossentropy_logits", x, y)
  opts = opts or {}
  local xf = float_of(x)
  local sp = Tensor.softplus(-xf)
  local l
  if opts.pos_weight ~= nil then
    l = (1 - y) * xf + ((opts.pos_weight - 1) * y + 1) * sp
  else
    l = (1 - y) * xf + sp
  end
  if opts.weight ~= nil then l = l * opts.weight end
  return reduce_loss("binary_crossentropy_logits", l, opts.reduction)
end

-- Mean squared error; x and y must broadcast.
function Tensor.mse(x, y, opts)
  check_tensor(x, "mse", "the input")
  if not is_tensor(y) and type(y) ~= "number" then error("mse: target must be a tensor or a number, got " .. type(y), 2) end
  if is_tensor(y) and not broadcast_shapes(x.shape, y.shape) then
    error(string.format("mse: input %s and target %s do not broadcast", shape_str(x.shape), shape_str(y.shape)), 2)
  end
  local d = float_of(x) - y
  return reduce_loss("mse", d * d, opts and opts.reduction)
end

return Tensor
