-- Processing ops: matmul, linear, einsum, conv2d, conv_transpose2d, pooling, interpolate,
-- norms, dropout, attention, one_hot, sequential and the losses. Expected values are worked
-- out by hand, or computed here by plain Lua loops over nested tables (the definitions, written
-- independently of ops_nn.lua: e.g. conv_transpose2d as a scatter, not a flipped convolution).
-- Inputs are small multiples of 1/2, so the float32 sums are exact.
local mg = require("moongrad")
local Tensor = mg.Tensor

-- ---- helpers: deterministic data, nested tables ----
local function gen(seed)
  local s = seed
  return function()
    s = (s * 1103515245 + 12345) % 2147483648
    return (math.floor(s / 65536) % 9 - 4) * 0.5  -- -2, -1.5, ..., 2
  end
end

local function make(shape, f, d)
  d = d or 1
  local r = {}
  for i = 1, shape[d] do
    if d == #shape then r[i] = f() else r[i] = make(shape, f, d + 1) end
  end
  return r
end

local function zeros(shape) return make(shape, function() return 0 end) end
local function data(shape, seed) return make(shape, gen(seed)) end

-- ---- reference implementations ----
local function matmul_ref(a, b)  -- 2-D
  local r = {}
  for i = 1, #a do
    r[i] = {}
    for j = 1, #b[1] do
      local s = 0
      for k = 1, #b do s = s + a[i][k] * b[k][j] end
      r[i][j] = s
    end
  end
  return r
end

-- conv2d by its definition. pads: {{top, bottom}, {left, right}}.
local function conv2d_ref(x, w, b, stride, pads, dil, groups)
  local N, C, H, W = #x, #x[1], #x[1][1], #x[1][1][1]
  local CO, CG, KH, KW = #w, #w[1], #w[1][1], #w[1][1][1]
  local OH = math.floor((H + pads[1][1] + pads[1][2] - dil[1] * (KH - 1) - 1) / stride[1]) + 1
  local OW = math.floor((W + pads[2][1] + pads[2][2] - dil[2] * (KW - 1) - 1) / stride[2]) + 1
  local per = CO / groups
  local out = zeros({ N, CO, OH, OW })
  for n = 1, N do for co = 1, CO do for oy = 1, OH do for ox = 1, OW do
    local s = b and b[co] or 0
    local g = math.floor((co - 1) / per)
    for ci = 1, CG do
      local c = g * CG + ci
      for ky = 1, KH do for kx = 1, KW do
        local iy = (oy - 1) * stride[1] - pads[1][1] + (ky - 1) * dil[1]
        local ix = (ox - 1) * stride[2] - pads[2][1] + (kx - 1) * dil[2]
        if iy >= 0 and iy < H and ix >= 0 and ix < W then
          s = s + x[n][c][iy + 1][ix + 1] * w[co][ci][ky][kx]
        end
      end end
    end
    out[n][co][oy][ox] = s
  end end end end
  return out
end

-- conv_transpose2d as a scatter: every input element adds its weighted kernel to the output.
local function conv_transpose2d_ref(x, w, b, stride, pad, outpad, dil, groups)
  local N, CI, H, W = #x, #x[1], #x[1][1], #x[1][1][1]
  local COG, KH, KW = #w[1], #w[1][1], #w[1][1][1]
  local OH = (H - 1) * stride[1] - 2 * pad[1] + dil[1] * (KH - 1) + outpad[1] + 1
  local OW = (W - 1) * stride[2] - 2 * pad[2] + dil[2] * (KW - 1) + outpad[2] + 1
  local CO = COG * groups
  local out = zeros({ N, CO, OH, OW })
  for n = 1, N do for ci = 1, CI do for iy = 1, H do for ix = 1, W do
    local g = math.floor((ci - 1) / (CI / groups))
    for col = 1, COG do
      local co = g * COG + col
      for ky = 1, KH do for kx = 1, KW do
        local oy = (iy - 1) * stride[1] - pad[1] + (ky - 1) * dil[1]
        local ox = (ix - 1) * stride[2] - pad[2] + (kx - 1) * dil[2]
        if oy >= 0 and oy < OH and ox >= 0 and ox < OW then
          out[n][co][oy + 1][ox + 1] = out[n][co][oy + 1][ox + 1] + x[n][ci][iy][ix] * w[ci][col][ky][kx]
        end
      end end
    end
  end end end end
  if b then
    for n = 1, N do for co = 1, CO do for i = 1, OH do for j = 1, OW do
      out[n][co][i][j] = out[n][co][i][j] + b[co]
    end end end end
  end
  return out
end

-- pooling over the last two dims of a {N, C, H, W} table; kind "max" or "avg"
local function pool_ref(x, kind, k, s, p, d, count_pad)
  local N, C, H, W = #x, #x[1], #x[1][1], #x[1][1][1]
  local OH = math.floor((H + 2 * p[1] - d[1] * (k[1] - 1) - 1) / s[1]) + 1
  local OW = math.floor((W + 2 * p[2] - d[2] * (k[2] - 1) - 1) / s[2]) + 1
  local out = zeros({ N, C, OH, OW })
  for n = 1, N do for c = 1, C do for oy = 1, OH do for ox = 1, OW do
    local acc, cnt = kind == "max" and -math.huge or 0, 0
    for ky = 1, k[1] do for kx = 1, k[2] do
      local iy = (oy - 1) * s[1] - p[1] + (ky - 1) * d[1]
      local ix = (ox - 1) * s[2] - p[2] + (kx - 1) * d[2]
      if iy >= 0 and iy < H and ix >= 0 and ix < W then
        local v = x[n][c][iy + 1][ix + 1]
        if kind == "max" then acc = math.max(acc, v) else acc = acc + v end
        cnt = cnt + 1
      end
    end end
    if kind == "avg" then acc = acc / (count_pad and k[1] * k[2] or cnt) end
    out[n][c][oy][ox] = acc
  end end end end
  return out
end

-- torch's source index for output index o (0-based) of a dim resized from n_in to n_out
local function src_nearest(o, n_in, n_out, scale, exact)
  local v = exact and math.floor((o + 0.5) * scale) or math.floor(o * scale)
  return math.min(v, n_in - 1)
end
local function src_linear(o, n_in, n_out, scale, align)
  local src
  if align then src = n_out > 1 and o * (n_in - 1) / (n_out - 1) or 0
  else src = math.max((o + 0.5) * scale - 0.5, 0) end
  local i0 = math.min(math.floor(src), n_in - 1)
  return i0, math.min(i0 + 1, n_in - 1), src - i0
end

-- 2-D resize of a {N, C, H, W} table
local function interp2d_ref(x, OH, OW, mode, align, sh, sw)
  local N, C, H, W = #x, #x[1], #x[1][1], #x[1][1][1]
  sh, sw = sh or H / OH, sw or W / OW
  local out = zeros({ N, C, OH, OW })
  for n = 1, N do for c = 1, C do for oy = 0, OH - 1 do for ox = 0, OW - 1 do
    local v
    if mode == "nearest" or mode == "nearest-exact" then
      local iy = src_nearest(oy, H, OH, sh, mode == "nearest-exact")
      local ix = src_nearest(ox, W, OW, sw, mode == "nearest-exact")
      v = x[n][c][iy + 1][ix + 1]
    else
      local y0, y1, ly = src_linear(oy, H, OH, sh, align)
      local x0, x1, lx = src_linear(ox, W, OW, sw, align)
      local X = x[n][c]
      v = (1 - ly) * ((1 - lx) * X[y0 + 1][x0 + 1] + lx * X[y0 + 1][x1 + 1])
        + ly * ((1 - lx) * X[y1 + 1][x0 + 1] + lx * X[y1 + 1][x1 + 1])
    end
    out[n][c][oy + 1][ox + 1] = v
  end end end end
  return out
end

local function softmax_row(r)
  local m = -math.huge
  for _, v in ipairs(r) do m = math.max(m, v) end
  local s, e = 0, {}
  for i, v in ipairs(r) do e[i] = math.exp(v - m); s = s + e[i] end
  for i = 1, #e do e[i] = e[i] / s end
  return e
end

-- attention for one head: q {L, E}, k {S, E}, v {S, F}
local function attention_ref(q, k, v, causal)
  local out = {}
  for i = 1, #q do
    local sc = {}
    for j = 1, #k do
      local s = 0
      for e = 1, #q[1] do s = s + q[i][e] * k[j][e] end
      sc[j] = (causal and j > i) and -math.huge or s / math.sqrt(#q[1])
    end
    local p = softmax_row(sc)
    out[i] = {}
    for f = 1, #v[1] do
      local s = 0
      for j = 1, #k do s = s + p[j] * v[j][f] end
      out[i][f] = s
    end
  end
  return out
end

local T = function(tbl) return Tensor(tbl, { dtype = mg.float32 }) end

return {
  -- ---- WINDOW, the primitive under pooling and convolution ----
  ["window: sliding windows of the last dims, and clear errors for bad triples"] = function(t)
    local movement = require("moongrad.tensor").movement
    local x = Tensor({ { 1, 2, 3, 4, 5 }, { 6, 7, 8, 9, 10 } }, { dtype = mg.float32 })
    -- k=2, stride 2, dilation 2 over 5: windows start at 0 and 2 and hold positions {0, 2}, {2, 4}
    t.eq(movement("window", x, { 2, 2, 2 }):totable(), { { { 1, 3 }, { 3, 5 } }, { { 6, 8 }, { 8, 10 } } })
    t.eq(movement("window", x, { 2, 1, 1, 3, 1, 1 }).shape, { 1, 3, 2, 3 })
    t.raises(function() movement("window", x, { 3, 1, 3 }) end, "does not fit in a dim of size 5")
    t.raises(function() movement("window", x, { 2, 0, 1 }) end, "at least 1")
    t.raises(function() movement("window", x, { 2, 1 }) end, "triple")
    t.raises(function() movement("window", x, { 1, 1, 1, 1, 1, 1, 1, 1, 1 }) end, "more windowed dims")
  end,

  -- ---- matmul, linear ----
  ["matmul 2-D, 1-D and batched with broadcasting"] = function(t)
    local a, b = data({ 2, 3 }, 1), data({ 3, 4 }, 2)
    t.eq(T(a):matmul(T(b)):totable(), matmul_ref(a, b))
    t.eq(T(a):dot(T(b)):totable(), matmul_ref(a, b))
    t.eq(Tensor{{1, 2}, {3, 4}}:matmul(Tensor{{5, 6}, {7, 8}}):totable(), {{19, 22}, {43, 50}})
    t.eq(Tensor{{1, 2}, {3, 4}}:matmul(Tensor{{5, 6}, {7, 8}}).dtype, mg.int32)
    -- 1-D: dot product, vector @ matrix, matrix @ vector, vector @ batch
    local v = Tensor{1, 2, 3}
    local d = v:matmul(Tensor{4, 5, 6})
    t.eq(d.shape, {})
    t.eq(d:item(), 32)
    t.eq(v:matmul(Tensor{{1, 0}, {0, 1}, {1, 1}}):totable(), {4, 5})
    t.eq(Tensor{{1, 0, 1}, {0, 1, 1}}:matmul(v):totable(), {4, 5})
    local bm = data({ 2, 3, 4 }, 3)
    local r = T{1, -1, 2}:matmul(T(bm))
    t.eq(r.shape, {2, 4})
    for i = 1, 2 do t.eq(r:totable()[i], matmul_ref({{1, -1, 2}}, bm[i])[1]) end
    local r2 = T(bm):transpose(-2, -1):matmul(T{1, -1, 2})
    t.eq(r2.shape, {2, 4})
    t.eq(r2:totable(), r:totable())
    -- batch dims broadcast: {2, 1, 2, 3} @ {3, 3, 2} -> {2, 3, 2, 2}
    local A, B = data({ 2, 1, 2, 3 }, 4), data({ 3, 3, 2 }, 5)
    local R = T(A):matmul(T(B))
    t.eq(R.shape, {2, 3, 2, 2})
    local got = R:totable()
    for i = 1, 2 do for j = 1, 3 do t.eq(got[i][j], matmul_ref(A[i][1], B[j])) end end
  end,

  ["matmul and linear errors name the op and the shapes"] = function(t)
    t.raises(function() return Tensor.zeros(2, 3):matmul(Tensor.zeros(4, 5)) end,
      "matmul: cannot multiply {2, 3} by {4, 5}: inner dims 3 and 4 differ", "exact message")
    t.raises(function() return Tensor.zeros(3):matmul(Tensor.zeros(4)) end, "matmul: cannot multiply {3} by {4}")
    t.raises(function() return Tensor.zeros(2, 2, 3):matmul(Tensor.zeros(3, 3, 4)) end,
      "matmul: batch dims of {2, 2, 3} and {3, 3, 4} do not broadcast")
    t.raises(function() return Tensor.zeros(2):matmul(Tensor(1)) end, "matmul: both arguments need at least 1 dim")
    t.raises(function() return Tensor.zeros(2):matmul(3) end, "matmul: the second argument must be a tensor")
    t.raises(function() return Tensor.zeros(2, 3):linear(Tensor.zeros(4, 5)) end,
      "linear: weight {4, 5} expects 5 input features, got {2, 3}")
    t.raises(function() return Tensor.zeros(2, 3):linear(Tensor.zeros(4, 3), Tensor.zeros(3)) end,
      "linear: bias must be {4} for weight {4, 3}, got {3}")
  end,

  ["linear uses torch's layout (weight is out x in)"] = function(t)
    local x = Tensor{{1, 2, 3}, {0, -1, 2}}
    local w = Tensor{{1, 0, 0}, {1, 1, 1}}
    t.eq(x:linear(w):totable(), {{1, 6}, {0, 1}})
    t.eq(x:linear(w, Tensor{10, 20}):totable(), {{11, 26}, {10, 21}})
    t.eq(Tensor{1, 2, 3}:linear(w):totable(), {1, 6})
  end,

  -- ---- einsum ----
  ["einsum: products, transposes, traces, diagonals, batches"] = function(t)
    local a, b = data({ 2, 3 }, 6), data({ 3, 4 }, 7)
    local ta, tb = T(a), T(b)
    t.eq(Tensor.einsum("ij,jk->ik", ta, tb):totable(), matmul_ref(a, b))
    t.eq(Tensor.einsum("ij,jk", ta, tb):totable(), matmul_ref(a, b), "implicit output")
    t.eq(Tensor.einsum("ij, jk -> ik", { ta, tb }):totable(), matmul_ref(a, b), "spaces, a list of operands")
    t.eq(Tensor.einsum("ij->ji", ta):totable(), ta:transpose(1, 2):totable())
    t.eq(Tensor.einsum("ji", ta):totable(), ta:transpose(1, 2):totable(), "implicit output sorts the letters")
    local m = Tensor{{1, 2, 3}, {4, 5, 6}, {7, 8, 9}}
    t.eq(Tensor.einsum("ii->", m):item(), 15)
    t.eq(Tensor.einsum("ii", m):item(), 15)
    t.eq(Tensor.einsum("ii->i", m):totable(), {1, 5, 9})
    t.eq(Tensor.einsum("ij->", m):item(), 45)
    t.eq(Tensor.einsum("ij->j", m):totable(), {12, 15, 18})
    t.eq(Tensor.einsum("i,j->ij", Tensor{1, 2}, Tensor{3, 4, 5}):totable(), {{3, 4, 5}, {6, 8, 10}})
    t.eq(Tensor.einsum("i,i->", Tensor{1, 2, 3}, Tensor{4, 5, 6}):item(), 32)
    t.eq(Tensor.einsum("ij,ij->i", m, m):totable(), {14, 77, 194})
    -- batched matmul, and the same with an ellipsis that broadcasts
    local A, B = data({ 2, 2, 3 }, 8), data({ 2, 3, 2 }, 9)
    local R = Tensor.einsum("bij,bjk->bik", T(A), T(B)):totable()
    for i = 1, 2 do t.eq(R[i], matmul_ref(A[i], B[i])) end
    local E = Tensor.einsum("...ij,jk->...ik", T(A), tb):totable()
    for i = 1, 2 do t.eq(E[i], matmul_ref(A[i], b)) end
    -- three operands; a letter repeated in one operand and shared with another
    local c = data({ 4, 2 }, 10)
    t.eq(Tensor.einsum("ij,jk,kl->il", ta, tb, T(c)):totable(), matmul_ref(matmul_ref(a, b), c))
    local d = Tensor.einsum("iij,j->i", T{{{1, 2}, {3, 4}}, {{5, 6}, {7, 8}}}, T{1, 10})
    t.eq(d:totable(), {21, 87})  -- (1 + 20), (7 + 80)
    -- batch of traces
    local bt = Tensor{{{1, 2}, {3, 4}}, {{5, 6}, {7, 8}}}
    t.eq(Tensor.einsum("bii->b", bt):totable(), {5, 13})
    t.eq(Tensor.einsum("bij->bji", bt):totable(), {{{1, 3}, {2, 4}}, {{5, 7}, {6, 8}}})
  end,

  ["einsum errors name the formula and the shapes"] = function(t)
    local a = Tensor.zeros(2, 3)
    t.raises(function() return Tensor.einsum("ij,jk->ik", a) end, "einsum: formula 'ij,jk%->ik' has 2 operand%(s%), got 1 tensor")
    t.raises(function() return Tensor.einsum("ijk->i", a) end, "einsum: term 'ijk' has 3 letter%(s%) for operand 1 of shape {2, 3}")
    t.raises(function() return Tensor.einsum("ij,jk->ik", a, Tensor.zeros(4, 2)) end, "einsum: letter 'j' is 3 in one operand and 4 in operand 2")
    t.raises(function() return Tensor.einsum("ij->iz", a) end, "einsum: output letter 'z'")
    t.raises(function() return Tensor.einsum("ij->ii", a) end, "einsum: output letter 'i' appears twice")
    t.raises(function() return Tensor.einsum("ii->i", a) end, "einsum: letter 'i' repeats in operand 1 with sizes 2 and 3")
    t.raises(function() return Tensor.einsum("i1->i", a) end, "einsum: bad character '1'")
  end,

  -- ---- conv2d ----
  ["conv2d against loops: stride, padding, dilation, groups, bias"] = function(t)
    local cases = {
      { x = { 1, 2, 5, 5 }, w = { 3, 2, 3, 3 }, bias = true },
      { x = { 1, 2, 5, 5 }, w = { 2, 2, 3, 3 }, stride = 2, padding = 1 },
      { x = { 1, 2, 5, 5 }, w = { 2, 2, 2, 2 }, dilation = 2 },
      { x = { 1, 2, 6, 5 }, w = { 2, 2, 3, 2 }, stride = 2, dilation = 2, padding = 2, bias = true },
      { x = { 1, 4, 5, 5 }, w = { 4, 2, 3, 3 }, groups = 2, bias = true },
      { x = { 1, 4, 5, 5 }, w = { 4, 1, 2, 3 }, groups = 4 },                  -- depthwise
      { x = { 1, 2, 5, 6 }, w = { 2, 2, 3, 3 }, stride = { 2, 1 }, padding = { { 1, 0 }, { 0, 2 } }, dilation = { 1, 2 } },
      { x = { 2, 1, 7, 7 }, w = { 1, 1, 1, 1 }, stride = 3 },                  -- stride > kernel
      { x = { 2, 3, 4, 4 }, w = { 2, 3, 2, 2 }, padding = "same", bias = true }, -- asymmetric "same"
      { x = { 1, 2, 5, 5 }, w = { 2, 2, 3, 3 }, padding = "valid", stride = { 1, 2 } },
      { x = { 1, 2, 6, 7 }, w = { 2, 2, 1, 2 }, stride = { 4, 6 }, dilation = 2, padding = { 0, 1 } },
    }
    for n, c in ipairs(cases) do
      local x, w = data(c.x, 100 + n), data(c.w, 200 + n)
      local b = c.bias and data({ c.w[1] }, 300 + n) or nil
      local function two(v, def) v = v or def; return type(v) == "table" and v or { v, v } end
      local pads
      if c.padding == "same" then
        local th, tw = c.w[3] - 1, c.w[4] - 1  -- torch: the odd one out goes after
        pads = { { math.floor(th / 2), th - math.floor(th / 2) }, { math.floor(tw / 2), tw - math.floor(tw / 2) } }
      elseif c.padding == "valid" then
        pads = { { 0, 0 }, { 0, 0 } }
      elseif type(c.padding) == "table" and type(c.padding[1]) == "table" then
        pads = c.padding
      else
        local p = two(c.padding, 0)
        pads = { { p[1], p[1] }, { p[2], p[2] } }
      end
      local want = conv2d_ref(x, w, b, two(c.stride, 1), pads, two(c.dilation, 1), c.groups or 1)
      local got = T(x):conv2d(T(w), b and T(b), { stride = c.stride, padding = c.padding, dilation = c.dilation, groups = c.groups })
      t.eq(got:totable(), want, "case " .. n)
    end
  end,

  ["conv2d by hand, unbatched input, and 1-D through a 3-D weight"] = function(t)
    -- a 3x3 input with a 2x2 kernel of ones sums each 2x2 block
    local x = Tensor{{{{1, 2, 3}, {4, 5, 6}, {7, 8, 9}}}}
    t.eq(x:conv2d(Tensor.ones(1, 1, 2, 2)):totable(), {{{{12, 16}, {24, 28}}}})
    t.eq(x:conv2d(Tensor.ones(1, 1, 2, 2), Tensor{0.5}, { stride = 2, padding = 1 }):totable(),
      {{{{1.5, 5.5}, {11.5, 28.5}}}})
    local un = Tensor{{{1, 2, 3}, {4, 5, 6}, {7, 8, 9}}}
    t.eq(un:conv2d(Tensor.ones(1, 1, 2, 2)):totable(), {{{12, 16}, {24, 28}}})
    -- 1-D: {1, 1, 5} with kernel {1, -1} (a difference), dilation 2
    t.eq(Tensor{{{1, 2, 4, 8, 16}}}:conv2d(Tensor{{{1, -1}}}):totable(), {{{-1, -2, -4, -8}}})
    t.eq(Tensor{{{1, 2, 4, 8, 16}}}:conv2d(Tensor{{{1, -1}}}, { dilation = 2 }):totable(), {{{-3, -6, -12}}})
  end,

  ["conv2d errors name the op and the shapes"] = function(t)
    local x = Tensor.zeros(1, 4, 5, 5)
    t.raises(function() return x:conv2d(Tensor.zeros(8, 3, 3, 3)) end,
      "conv2d: weight {8, 3, 3, 3} expects 3 input channels, got 4 in {1, 4, 5, 5}", "exact message")
    t.raises(function() return x:conv2d(Tensor.zeros(3, 2, 3, 3), { groups = 2 }) end,
      "conv2d: weight {3, 2, 3, 3} has 3 output channels, not divisible by 2 groups")
    t.raises(function() return x:conv2d(Tensor.zeros(2, 4, 7, 7)) end, "conv2d: input {1, 4, 5, 5} %(padded by 0%+0%) is smaller than the kernel 7")
    t.raises(function() return Tensor.zeros(4, 5):conv2d(Tensor.zeros(2, 4, 3, 3)) end,
      "conv2d: input {4, 5} must have 3 or 4 dims for weight {2, 4, 3, 3}")
    t.raises(function() return x:conv2d(Tensor.zeros(2, 4, 3, 3), Tensor.zeros(3)) end, "conv2d: bias must be {2}")
    t.raises(function() return x:conv2d(Tensor.zeros(2, 4, 3, 3), { stride = 0 }) end, "conv2d: stride must be integers >= 1, got 0")
    t.raises(function() return x:conv2d(Tensor.zeros(2, 4, 3, 3), { padding = { 1, 2, 3 } }) end,
      "conv2d: padding must be a number or a list of 2 numbers")
    t.raises(function() return x:conv2d(Tensor.zeros(2, 4, 3, 3), { padding = "same", stride = 2 }) end,
      "conv2d: padding \"same\" needs stride 1")
    t.raises(function() return x:conv2d(Tensor.zeros(2, 4)) end, "conv2d: weight must have at least 3 dims")
  end,

  -- ---- conv_transpose2d ----
  ["conv_transpose2d against a scatter loop"] = function(t)
    local cases = {
      { x = { 1, 2, 3, 3 }, w = { 2, 3, 3, 3 }, bias = true },
      { x = { 1, 2, 3, 3 }, w = { 2, 1, 3, 3 }, stride = 2 },
      { x = { 1, 2, 3, 4 }, w = { 2, 2, 3, 3 }, stride = 2, padding = 1, output_padding = 1 },
      { x = { 1, 1, 3, 3 }, w = { 1, 1, 2, 2 }, dilation = 2, padding = 1 },
      { x = { 2, 4, 2, 3 }, w = { 4, 1, 3, 2 }, groups = 2, stride = { 2, 1 }, bias = true },
      { x = { 1, 4, 3, 3 }, w = { 4, 2, 2, 2 }, groups = 4, stride = 3, padding = { 1, 0 }, output_padding = { 2, 1 } },
      { x = { 1, 2, 2, 2 }, w = { 2, 2, 3, 3 }, stride = 2, dilation = 2, padding = 2, output_padding = 1 },
    }
    for n, c in ipairs(cases) do
      local x, w = data(c.x, 400 + n), data(c.w, 500 + n)
      local g = c.groups or 1
      local b = c.bias and data({ c.w[2] * g }, 600 + n) or nil
      local function two(v, def) v = v or def; return type(v) == "table" and v or { v, v } end
      local want = conv_transpose2d_ref(x, w, b, two(c.stride, 1), two(c.padding, 0), two(c.output_padding, 0), two(c.dilation, 1), g)
      local got = T(x):conv_transpose2d(T(w), b and T(b), { stride = c.stride, padding = c.padding,
        output_padding = c.output_padding, dilation = c.dilation, groups = c.groups })
      t.eq(got:totable(), want, "case " .. n)
    end
  end,

  ["conv_transpose2d by hand and its errors"] = function(t)
    -- stride 2 with a 2x2 kernel of ones copies each input element into a 2x2 block
    t.eq(Tensor{{{{1, 2}, {3, 4}}}}:conv_transpose2d(Tensor.ones(1, 1, 2, 2), { stride = 2 }):totable(),
      {{{{1, 1, 2, 2}, {1, 1, 2, 2}, {3, 3, 4, 4}, {3, 3, 4, 4}}}})
    -- stride 1: the kernels overlap and add
    t.eq(Tensor{{{{1, 2}}}}:conv_transpose2d(Tensor{{{{1, 10}}}}):totable(), {{{{1, 12, 20}}}})
    t.eq(Tensor{{{1, 2}}}:conv_transpose2d(Tensor{{{{1, 10}}}}):totable(), {{{1, 12, 20}}}, "unbatched")
    local x = Tensor.zeros(1, 3, 4, 4)
    t.raises(function() return x:conv_transpose2d(Tensor.zeros(2, 3, 3, 3)) end,
      "conv_transpose2d: weight {2, 3, 3, 3} expects 2 input channels, got 3 in {1, 3, 4, 4}")
    t.raises(function() return x:conv_transpose2d(Tensor.zeros(3, 1, 3, 3), { stride = 2, output_padding = 2 }) end,
      "conv_transpose2d: output_padding 2 must be smaller than stride 2 or dilation 1")
    t.raises(function() return x:conv_transpose2d(Tensor.zeros(3, 1, 3, 3), { groups = 2 }) end,
      "conv_transpose2d: weight {3, 1, 3, 3} has 3 input channels, not divisible by 2 groups")
  end,

  -- ---- pooling ----
  ["max_pool2d and avg_pool2d by hand"] = function(t)
    local x = Tensor{{{{1, 2, 3, 4}, {5, 6, 7, 8}, {9, 10, 11, 12}, {13, 14, 15, 16}}}}
    t.eq(x:max_pool2d():totable(), {{{{6, 8}, {14, 16}}}})
    t.eq(x:avg_pool2d():totable(), {{{{3.5, 5.5}, {11.5, 13.5}}}})
    t.eq(x:max_pool2d(3, 1):totable(), {{{{11, 12}, {15, 16}}}})
    t.eq(x:max_pool2d(2, 1).shape, {1, 1, 3, 3})
    t.eq(x:max_pool2d().dtype, mg.int32)
    t.eq(Tensor{{-1, -2}, {-3, -4}}:max_pool2d(2, 1, { padding = 1 }):totable(),
      {{-1, -1, -2}, {-1, -1, -2}, {-3, -3, -4}}, "integer padding never wins")
    -- count_include_pad: a corner window of 2x2 with padding 1 holds one real element
    local ones = Tensor.ones(1, 1, 2, 2)
    t.eq(ones:avg_pool2d(2, 2, { padding = 1 }):totable(), {{{{0.25, 0.25}, {0.25, 0.25}}}})
    t.eq(ones:avg_pool2d(2, 2, { padding = 1, count_include_pad = false }):totable(), {{{{1, 1}, {1, 1}}}})
  end,

  ["pooling against loops: kernel, stride, padding, dilation"] = function(t)
    local cases = {
      { k = { 2, 2 }, s = { 2, 2 }, p = { 0, 0 }, d = { 1, 1 } },
      { k = { 3, 3 }, s = { 2, 2 }, p = { 1, 1 }, d = { 1, 1 } },
      { k = { 3, 2 }, s = { 1, 2 }, p = { 1, 0 }, d = { 1, 1 } },
      { k = { 2, 2 }, s = { 1, 1 }, p = { 0, 1 }, d = { 2, 2 } },
      { k = { 1, 2 }, s = { 3, 3 }, p = { 0, 1 }, d = { 1, 1 } },
      { k = { 2, 3 }, s = { 3, 1 }, p = { 1, 1 }, d = { 2, 1 } },
      { k = { 1, 2 }, s = { 4, 6 }, p = { 0, 1 }, d = { 2, 2 } },  -- stride > d*k + 1: rows padded
    }
    local x = data({ 2, 2, 6, 7 }, 700)
    for n, c in ipairs(cases) do
      local opts = { padding = c.p, dilation = c.d }
      t.eq(T(x):max_pool2d(c.k, c.s, opts):totable(), pool_ref(x, "max", c.k, c.s, c.p, c.d), "max case " .. n)
      t.allclose(T(x):avg_pool2d(c.k, c.s, opts):totable(), pool_ref(x, "avg", c.k, c.s, c.p, c.d, true), 1e-6, "avg case " .. n)
      opts.count_include_pad = false
      t.allclose(T(x):avg_pool2d(c.k, c.s, opts):totable(), pool_ref(x, "avg", c.k, c.s, c.p, c.d, false), 1e-6, "avg no pad case " .. n)
    end
  end,

  ["pooling errors"] = function(t)
    local x = Tensor.zeros(1, 1, 4, 4)
    t.raises(function() return x:max_pool2d(2, 2, { padding = 2 }) end, "max_pool2d: padding 2 must be at most half the kernel size 2")
    t.raises(function() return x:avg_pool2d(5) end, "avg_pool2d: input {1, 1, 4, 4} %(padded by 0%) is smaller than the kernel {5, 5}")
    t.raises(function() return Tensor.zeros(4):max_pool2d() end, "max_pool2d: input {4} needs at least 2 dims")
    t.raises(function() return x:max_pool2d(2, 2, { ceil_mode = true }) end, "max_pool2d: ceil_mode is not supported")
    t.raises(function() return x:max_pool2d(0) end, "max_pool2d: kernel size must be integers >= 1")
  end,

  -- ---- interpolate ----
  ["interpolate: torch's bilinear values by hand"] = function(t)
    local x = Tensor{{{{1, 2}, {3, 4}}}}
    t.allclose(x:interpolate({ 4, 4 }, { mode = "bilinear" }):totable(),
      {{{{1, 1.25, 1.75, 2}, {1.5, 1.75, 2.25, 2.5}, {2.5, 2.75, 3.25, 3.5}, {3, 3.25, 3.75, 4}}}}, 1e-6)
    t.allclose(x:interpolate(4, { mode = "bilinear", align_corners = true }):totable(),
      {{{{1, 4 / 3, 5 / 3, 2}, {5 / 3, 2, 7 / 3, 8 / 3}, {7 / 3, 8 / 3, 3, 10 / 3}, {3, 10 / 3, 11 / 3, 4}}}}, 1e-6)
    t.eq(x:interpolate({ scale_factor = 2 }):totable(), {{{{1, 1, 2, 2}, {1, 1, 2, 2}, {3, 3, 4, 4}, {3, 3, 4, 4}}}})
    t.eq(x:interpolate({ scale_factor = 2 }).dtype, mg.int32)
    -- 1-D linear on {N, C, L}
    t.allclose(Tensor{{{0, 10}}}:interpolate(5, { mode = "linear", align_corners = true }):totable(), {{{0, 2.5, 5, 7.5, 10}}}, 1e-6)
    t.allclose(Tensor{{{0, 10}}}:interpolate(4, { mode = "linear" }):totable(), {{{0, 2.5, 7.5, 10}}}, 1e-6)
  end,

  ["interpolate against loops: nearest, nearest-exact, bilinear, up and down"] = function(t)
    local x = data({ 1, 2, 3, 5 }, 800)
    local tx = T(x)
    for _, mode in ipairs({ "nearest", "nearest-exact", "bilinear" }) do
      for _, size in ipairs({ { 6, 10 }, { 2, 3 }, { 5, 7 }, { 1, 1 }, { 3, 5 } }) do
        local want = interp2d_ref(x, size[1], size[2], mode, false)
        t.allclose(tx:interpolate(size, { mode = mode }):totable(), want, 1e-6, mode .. " " .. size[1] .. "x" .. size[2])
      end
    end
    for _, size in ipairs({ { 6, 10 }, { 2, 3 }, { 4, 4 }, { 1, 2 } }) do
      t.allclose(tx:interpolate(size, { mode = "bilinear", align_corners = true }):totable(),
        interp2d_ref(x, size[1], size[2], "bilinear", true), 1e-6, "align_corners " .. size[1] .. "x" .. size[2])
    end
    -- a scale factor uses 1/scale (torch), not in/out: 3 * 1.5 -> 4 rows with ratio 2/3
    t.allclose(tx:interpolate({ scale_factor = 1.5, mode = "bilinear" }):totable(),
      interp2d_ref(x, 4, 7, "bilinear", false, 1 / 1.5, 1 / 1.5), 1e-6, "scale 1.5")
    t.allclose(tx:interpolate({ scale_factor = { 1.5, 0.5 } }):totable(),
      interp2d_ref(x, 4, 2, "nearest", false, 1 / 1.5, 2), 1e-6, "scale {1.5, 0.5}")
  end,

  ["interpolate keeps inf and NaN where they are"] = function(t)
    local r = Tensor{{{1, math.huge, 0 / 0}}}:interpolate(6):totable()[1][1]
    t.eq({ r[1], r[2], r[3], r[4] }, { 1, 1, math.huge, math.huge })
    t.truthy(r[5] ~= r[5] and r[6] ~= r[6])
  end,

  ["interpolate errors"] = function(t)
    local x = Tensor.zeros(1, 1, 2, 2)
    t.raises(function() return x:interpolate(4, { mode = "cubic" }) end, "interpolate: mode must be")
    t.raises(function() return x:interpolate(4, { align_corners = true }) end, "interpolate: align_corners only goes with the linear modes")
    t.raises(function() return x:interpolate() end, "interpolate: give a size or {scale_factor = ...}")
    t.raises(function() return x:interpolate(4, { scale_factor = 2 }) end, "interpolate: give a size or a scale_factor, not both")
    t.raises(function() return x:interpolate({ 1, 2, 3, 4, 5 }) end, "interpolate: cannot resize 5 dims of {1, 1, 2, 2}")
    t.raises(function() return x:interpolate(0) end, "interpolate: size must be integers >= 1")
  end,

  -- ---- norms, dropout ----
  ["layernorm, rmsnorm, batchnorm by hand"] = function(t)
    local x = Tensor{{1, 2, 3, 4}, {2, 2, 2, 2}}
    local s = 1 / math.sqrt(1.25 + 1e-5)
    t.allclose(x:layernorm():totable(), {{-1.5 * s, -0.5 * s, 0.5 * s, 1.5 * s}, {0, 0, 0, 0}}, 1e-6)
    t.allclose(x:layernorm(4, { eps = 0 }):totable()[1], {-1.5 / math.sqrt(1.25), -0.5 / math.sqrt(1.25), 0.5 / math.sqrt(1.25), 1.5 / math.sqrt(1.25)}, 1e-6)
    t.allclose(x:layernorm({ eps = 0, weight = Tensor{1, 1, 2, 2}, bias = Tensor{0, 0, 0, 1} }):totable()[1],
      {-1.5 / math.sqrt(1.25), -0.5 / math.sqrt(1.25), 1 / math.sqrt(1.25), 3 / math.sqrt(1.25) + 1}, 1e-6)
    -- over the last two dims: mean 2.5, variance 1.25
    local y = Tensor{{{1, 2}, {3, 4}}}
    local m, v = 2.5, 1.25
    t.allclose(y:layernorm({ 2, 2 }, { eps = 0 }):totable(), {{{(1 - m) / math.sqrt(v), (2 - m) / math.sqrt(v)}, {(3 - m) / math.sqrt(v), (4 - m) / math.sqrt(v)}}}, 1e-6)
    t.raises(function() return x:layernorm(3) end, "layernorm: normalized shape {3} does not match the last dims of {2, 4}")
    t.raises(function() return x:layernorm(4, { weight = Tensor{1, 2} }) end, "layernorm: weight must be {4}, got {2}")
    -- rms of {3, 4} is sqrt(12.5)
    local r = 1 / math.sqrt(12.5 + 1e-6)
    t.allclose(Tensor{3, 4}:rmsnorm():totable(), {3 * r, 4 * r}, 1e-6)
    t.allclose(Tensor{3, 4}:rmsnorm({ eps = 0, weight = Tensor{2, 0.5} }):totable(), {6 / math.sqrt(12.5), 2 / math.sqrt(12.5)}, 1e-6)
    -- batchnorm over dim 2: (x - mean) * weight * invstd + bias
    local bx = Tensor{{1, 2}, {3, 4}}
    t.eq(bx:batchnorm(Tensor{1, 3}, Tensor{0, 1}, Tensor{1, 2}, Tensor{2, 0.5}):totable(), {{0, 1}, {4, 4}})
    t.eq(bx:batchnorm(nil, nil, Tensor{1, 2}, Tensor{2, 0.5}):totable(), {{0, 0}, {4, 1}})
    local img = Tensor{{{{1, 2}}, {{3, 5}}}}  -- {1, 2, 1, 2}
    t.eq(img:batchnorm(nil, Tensor{10, 20}, Tensor{1, 3}, Tensor{1, 2}):totable(), {{{{10, 11}}, {{20, 24}}}})
    t.raises(function() return bx:batchnorm(nil, nil, Tensor{1, 2, 3}, Tensor{1, 1}) end, "batchnorm: mean must be {2} for input {2, 2}, got {3}")
  end,

  ["dropout zeroes with probability p and scales the rest"] = function(t)
    local x = Tensor.ones(2000)
    t.eq(x:dropout(0):totable(), x:totable())
    t.eq(x:dropout(0.5, { training = false }):totable(), x:totable())
    t.eq(Tensor{1, 2}:dropout(1):totable(), {0, 0})
    mg.manual_seed(7)
    local v = x:dropout(0.25):totable()
    local zeros = 0
    for _, e in ipairs(v) do
      t.truthy(e == 0 or math.abs(e - 4 / 3) < 1e-6, "0 or 1/(1-p)")
      if e == 0 then zeros = zeros + 1 end
    end
    t.truthy(zeros > 400 and zeros < 600, "about a quarter dropped: " .. zeros)
    mg.manual_seed(7)
    t.eq(x:dropout(0.25):totable(), v, "repeats with the seed")
    t.raises(function() return x:dropout(1.5) end, "dropout: p must be in %[0, 1%], got 1.5")
  end,

  -- ---- attention ----
  ["scaled_dot_product_attention: plain, causal, masks, batches"] = function(t)
    local q, k, v = data({ 3, 2 }, 900), data({ 4, 2 }, 901), data({ 4, 3 }, 902)
    t.allclose(T(q):scaled_dot_product_attention(T(k), T(v)):totable(), attention_ref(q, k, v, false), 1e-6)
    local kq = data({ 3, 2 }, 903)
    local vq = data({ 3, 3 }, 904)
    local causal = T(q):scaled_dot_product_attention(T(kq), T(vq), { is_causal = true }):totable()
    t.allclose(causal, attention_ref(q, kq, vq, true), 1e-6)
    t.allclose(causal[1], vq[1], 1e-6, "the first query sees only the first key")
    -- the same causal mask given as a bool tensor, and as an additive float mask
    local bm = Tensor{{true, false, false}, {true, true, false}, {true, true, true}}
    t.allclose(T(q):scaled_dot_product_attention(T(kq), T(vq), { mask = bm }):totable(), causal, 1e-6)
    local fm = T{{0, -math.huge, -math.huge}, {0, 0, -math.huge}, {0, 0, 0}}
    t.allclose(T(q):scaled_dot_product_attention(T(kq), T(vq), { mask = fm }):totable(), causal, 1e-6)
    -- batch and heads {2, 2, L, E}
    local Q, K, V = data({ 2, 2, 3, 2 }, 905), data({ 2, 2, 3, 2 }, 906), data({ 2, 2, 3, 4 }, 907)
    local got = T(Q):scaled_dot_product_attention(T(K), T(V), { is_causal = true }):totable()
    for i = 1, 2 do for h = 1, 2 do t.allclose(got[i][h], attention_ref(Q[i][h], K[i][h], V[i][h], true), 1e-6) end end
    -- by hand: equal scores average the values
    t.allclose(Tensor{{1, 0}}:scaled_dot_product_attention(Tensor{{0, 1}, {0, 2}}, Tensor{{1, 2}, {3, 6}}):totable(), {{2, 4}}, 1e-6)
    t.raises(function() return T(q):scaled_dot_product_attention(T(data({ 4, 3 }, 1)), T(v)) end,
      "scaled_dot_product_attention: q {3, 2} and k {4, 3} differ in the last dim")
    t.raises(function() return T(q):scaled_dot_product_attention(T(k), T(data({ 5, 3 }, 1))) end,
      "scaled_dot_product_attention: k {4, 2} and v {5, 3} differ in sequence length")
    t.raises(function() return T(q):scaled_dot_product_attention(T(k), T(v), { mask = Tensor.ones(2, 2) }) end,
      "scaled_dot_product_attention: mask {2, 2} does not broadcast to the scores {3, 4}")
  end,

  -- ---- one_hot, sequential ----
  ["one_hot uses 1-based classes"] = function(t)
    t.eq(Tensor{1, 3, 2}:one_hot(3):totable(), {{1, 0, 0}, {0, 0, 1}, {0, 1, 0}})
    t.eq(Tensor{{2}, {1}}:one_hot(2):totable(), {{{0, 1}}, {{1, 0}}})
    t.eq(Tensor{0, 4}:one_hot(3):totable(), {{0, 0, 0}, {0, 0, 0}}, "out of range: a row of zeros")
    t.eq(Tensor{1, 4}:one_hot():totable(), {{1, 0, 0, 0}, {0, 0, 0, 1}}, "n read from the data")
    t.eq(Tensor{1}:one_hot(2).dtype, mg.int32)
    t.raises(function() return Tensor{1.0, 2.5}:one_hot(3) end, "one_hot: needs integer class indices %(1%-based%), got float32 {2}")
    t.raises(function() return Tensor{1}:one_hot(0) end, "one_hot: number of classes must be an integer >= 1")
  end,

  ["sequential applies the layers in order"] = function(t)
    local r = Tensor{1, 2}:sequential({ function(x) return x + 1 end, function(x) return x * 10 end, Tensor.relu })
    t.eq(r:totable(), {20, 30})
    local callable = setmetatable({}, { __call = function(_, x) return x - 5 end })
    t.eq(Tensor{1}:sequential({ callable }):totable(), {-4})
    t.eq(Tensor{1}:sequential({}):totable(), {1})
    t.raises(function() return Tensor{1}:sequential({ 3 }) end, "sequential: layer 1 is a number, not callable")
  end,

  -- ---- losses ----
  ["cross_entropy by hand: labels, probabilities, smoothing, weights, reductions"] = function(t)
    local x = Tensor{{1, 2, 3}, {1, 1, 1}}
    local l1, l2 = 0.40760596444437977, math.log(3)  -- log(1 + e^-1 + e^-2), log 3
    t.near(x:cross_entropy(Tensor{3, 2}):item(), (l1 + l2) / 2, 1e-6)
    t.near(x:cross_entropy(Tensor{3, 2}, { reduction = "sum" }):item(), l1 + l2, 1e-6)
    t.allclose(x:cross_entropy(Tensor{3, 2}, { reduction = "none" }):totable(), {l1, l2}, 1e-6)
    t.near(Tensor{1, 2, 3}:cross_entropy(Tensor(3)):item(), l1, 1e-6, "1-D logits, 0-d label")
    -- label smoothing 0.1: 0.9 * nll + 0.1 * mean(-log p) = nll + 0.1 * 1 for the first row
    t.near(Tensor{{1, 2, 3}}:cross_entropy(Tensor{3}, { label_smoothing = 0.1 }):item(), l1 + 0.1, 1e-6)
    -- probabilities: -(0.5 log p2 + 0.5 log p3) = l1 + 0.5
    t.near(Tensor{{1, 2, 3}}:cross_entropy(Tensor{{0, 0.5, 0.5}}):item(), l1 + 0.5, 1e-6)
    -- class weights: sum w_y l / sum w_y
    t.near(x:cross_entropy(Tensor{3, 2}, { weight = Tensor{1, 1, 3} }):item(), (3 * l1 + l2) / 4, 1e-6)
    -- ignore_index: the ignored label does not count in the mean
    t.near(x:cross_entropy(Tensor{3, 2}, { ignore_index = 2 }):item(), l1, 1e-6)
    -- {N, C, d}: classes in dim 2
    local img = Tensor{{{1, 1}, {2, 1}, {3, 1}}}  -- {1, 3, 2}: two positions
    t.near(img:cross_entropy(Tensor{{3, 2}}):item(), (l1 + l2) / 2, 1e-6)
    t.eq(img:cross_entropy(Tensor{{3, 2}}, { reduction = "none" }).shape, {1, 2})
  end,

  ["cross_entropy errors name the shapes"] = function(t)
    local x = Tensor.zeros(2, 3)
    t.raises(function() return x:cross_entropy(Tensor{1, 2, 3}) end, "cross_entropy: target {3} does not match input {2, 3} %(expected {2}%)")
    t.raises(function() return x:cross_entropy(Tensor.zeros(2, 4)) end, "cross_entropy: probability target {2, 4} does not match input {2, 3}")
    t.raises(function() return x:cross_entropy(Tensor{1, 2}, { reduction = "avg" }) end, "cross_entropy: reduction must be")
    t.raises(function() return x:cross_entropy(Tensor{1, 2}, { weight = Tensor{1, 2} }) end, "cross_entropy: weight must be {3}")
  end,

  ["sparse_categorical_crossentropy, nll_loss by hand"] = function(t)
    local x = Tensor{{1, 2, 3}, {1, 1, 1}}
    local l1, l2 = 0.40760596444437977, math.log(3)
    t.near(x:sparse_categorical_crossentropy(Tensor{3, 2}):item(), (l1 + l2) / 2, 1e-6)
    t.near(x:sparse_categorical_crossentropy(Tensor{3, 2}, { ignore_index = 3 }):item(), l2, 1e-6)
    t.near(Tensor{{1, 2, 3}}:sparse_categorical_crossentropy(Tensor{3}, { label_smoothing = 0.1 }):item(), l1 + 0.1, 1e-6)
    -- classes in the last dim of a 3-D input
    local y = Tensor{{{1, 2, 3}, {1, 1, 1}}}
    t.near(y:sparse_categorical_crossentropy(Tensor{{3, 2}}):item(), (l1 + l2) / 2, 1e-6)
    t.raises(function() return x:sparse_categorical_crossentropy(Tensor{1.5, 2}) end, "sparse_categorical_crossentropy: labels must be integer")
    t.raises(function() return x:sparse_categorical_crossentropy(Tensor{1}) end, "sparse_categorical_crossentropy: target {1} does not match input {2, 3}")
    -- nll_loss takes log-probabilities
    local lp = Tensor{{-1, -2, -3}, {-0.5, -0.25, -4}}
    t.near(lp:nll_loss(Tensor{2, 1}):item(), 1.25, 1e-6)
    t.near(lp:nll_loss(Tensor{2, 1}, { weight = Tensor{1, 2, 3} }):item(), 1.5, 1e-6)  -- (2*2 + 1*0.5) / 3
    t.near(lp:nll_loss(Tensor{2, 1}, { ignore_index = 1 }):item(), 2, 1e-6)
    t.near(lp:nll_loss(Tensor{2, 1}, { reduction = "sum" }):item(), 2.5, 1e-6)
    t.raises(function() return lp:nll_loss(Tensor{2}) end, "nll_loss: target {1} does not match input {2, 3} %(expected {2}%)")
  end,

  ["binary cross-entropy and mse by hand"] = function(t)
    local p, y = Tensor{0.5, 0.25}, Tensor{1.0, 0.0}
    t.near(p:binary_crossentropy(y):item(), (math.log(2) + -math.log(0.75)) / 2, 1e-6)
    t.allclose(Tensor{0.0, 1.0}:binary_crossentropy(Tensor{1.0, 0.0}, { reduction = "none" }):totable(), {100, 100}, 1e-6, "logs clamped at -100")
    t.allclose(Tensor{0, 2, -30}:binary_crossentropy_logits(Tensor{1.0, 0.0, 1.0}, { reduction = "none" }):totable(),
      {math.log(2), 2.1269280110429727, 30}, 1e-6)
    t.near(Tensor{0.0}:binary_crossentropy_logits(Tensor{1.0}, { pos_weight = 2 }):item(), 2 * math.log(2), 1e-6)
    t.near(Tensor{100.0}:binary_crossentropy_logits(Tensor{0.0}):item(), 100, 1e-6)
    t.near(Tensor{1, 2, 3}:mse(Tensor{1, 1, 1}):item(), 5 / 3, 1e-6)
    t.near(Tensor{1, 2, 3}:mse(Tensor{1, 1, 1}, { reduction = "sum" }):item(), 5, 1e-6)
    t.eq(Tensor{1, 2, 3}:mse(Tensor{1, 1, 1}, { reduction = "none" }):totable(), {0, 1, 4})
    t.near(Tensor{{1, 2}, {3, 4}}:mse(Tensor{1, 2}):item(), 2, 1e-6, "broadcasts")
    t.raises(function() return p:binary_crossentropy(Tensor{1, 0, 1}) end, "binary_crossentropy: target {3} does not match input {2}")
    t.raises(function() return p:binary_crossentropy_logits(Tensor{1}) end, "binary_crossentropy_logits: target {1} does not match input {2}")
    t.raises(function() return Tensor{1, 2, 3}:mse(Tensor{1, 2}) end, "mse: input {3} and target {2} do not broadcast")
  end,

  ["private softmax helpers are stable"] = function(t)
    t.allclose(Tensor{1000, 1000}:_softmax():totable(), {0.5, 0.5}, 1e-6)
    t.allclose(Tensor{{0, math.log(3)}}:_softmax(2):totable(), {{0.25, 0.75}}, 1e-6)
    t.allclose(Tensor{1000, 0}:_log_softmax():totable(), {0, -1000}, 1e-6)
  end,
}
