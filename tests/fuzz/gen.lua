-- The fuzzer's graph generator. It builds a random program step by step on the reference
-- device, reading each new tensor's shape and dtype back from the library, and keeps for
-- every node what model.lua knows of its values, so that it only generates ops whose results
-- are defined (see docs/testing.md for the list of what is avoided and how).
--
-- generate(mg, seed, opts) -> gen, where gen.prog is the program (program.lua), gen.nodes the
-- tensors built on REF (node id -> tensor) and gen.info the model's info per node id.
local here = ...
local P = here.program
local Mdl = here.model

local M = {}

local CAP = 4096   -- most elements of any node (keeps REF fast)
local MAXDIM = 4

local G = {}
G.__index = G

local function numel(s)
  local n = 1
  for i = 1, #s do n = n * s[i] end
  return n
end

local function copy(t)
  local r = {}
  for i = 1, #t do r[i] = t[i] end
  return r
end

-- the broadcast shape of a and b, or nil
local function broadcast(a, b)
  local n = math.max(#a, #b)
  local s = {}
  for i = 1, n do
    local x, y = a[#a - n + i] or 1, b[#b - n + i] or 1
    if x ~= y and x ~= 1 and y ~= 1 then return nil end
    s[i] = x == 1 and y or x
  end
  return s
end

-- ---- dtypes and data ----
local DTYPES = {
  { 30, "float32" }, { 15, "int32" }, { 8, "float16" }, { 5, "bfloat16" }, { 5, "float64" },
  { 8, "int8" }, { 8, "uint8" }, { 4, "int16" }, { 5, "int64" }, { 4, "uint32" }, { 8, "bool" },
}

function G:dtype()
  return self.mg[self.rng:weighted(DTYPES)]
end

-- Host values for a tensor of dtype dt: floats are dyadic (k/4, or finer where the dtype has
-- the bits), so they are exact in dt; ints are small or span the whole range; a few floats
-- are inf, -inf, NaN or -0.
function G:values(dt, n)
  local r = self.rng
  local flat = {}
  if dt.is_bool then
    for i = 1, n do flat[i] = r:chance(0.5) end
    return flat
  end
  if dt.is_float then
    local scale, kmax = 4, 16
    if r:chance(0.25) then
      if dt.name == "float32" or dt.name == "float64" then scale, kmax = 64, 4096
      elseif dt.name == "float16" then scale, kmax = 16, 256 end
    end
    local specials = r:chance(0.1)
    for i = 1, n do
      local v = r:int(-kmax, kmax) / scale
      if specials and r:chance(0.2) then v = r:pick({ math.huge, -math.huge, 0 / 0, -0.0 }) end
      flat[i] = v
    end
    return flat
  end
  local lo, hi
  local wide = r:chance(0.3)
  if dt.is_unsigned then
    lo, hi = 0, wide and Mdl.int_max[dt.name] or 15
  else
    local big = math.min(Mdl.int_max[dt.name], 2 ^ 40)
    lo, hi = wide and -big or -8, wide and big - 1 or 8
  end
  for i = 1, n do flat[i] = r:int(lo, hi) end
  return flat
end

-- a number to combine with a tensor of dtype dt
function G:scalar(dt)
  local r = self.rng
  if dt.is_float and r:chance(0.03) then return r:pick({ math.huge, -math.huge }) end
  if dt.is_float or r:chance(0.15) then
    return r:pick({ 0, 1, -1, 2, 0.5, -0.25, 1.5, 3.75, -2.5, 10 })
  end
  if dt.is_unsigned or dt.is_bool then return r:int(0, 7) end
  return r:int(-4, 7)
end

function G:shape()
  local r = self.rng
  local nd = r:weighted({ { 1, 0 }, { 3, 1 }, { 4, 2 }, { 3, 3 }, { 2, 4 } })
  local s = {}
  for i = 1, nd do s[i] = r:weighted({ { 3, 1 }, { 2, 2 }, { 2, 3 }, { 2, 4 }, { 1, 5 }, { 1, 6 }, { 1, 7 } }) end
  if nd > 0 and r:chance(0.04) then s[r:int(1, nd)] = 0 end
  return s
end

-- ---- recording steps ----
-- Runs step on REF; keeps it when info_of(tensor) gives an info and the result is small.
function G:add(step, info_of)
  local id = self.next_id
  step.out = id
  step.nargs = step.nargs or (step.args and #step.args) or 0
  P.exec(self.mg, step, self.nodes, "REF")
  local t = self.nodes[id]
  local shape = t.shape
  local info = numel(shape) <= CAP and info_of(t)
  if not info then
    self.nodes[id] = nil
    return nil
  end
  if info.dt ~= t.dtype then
    error(string.format("fuzz model: predicted dtype %s for %s, the library made %s", info.dt.name, P.step_code(step), t.dtype.name), 0)
  end
  self.next_id = id + 1
  self.steps[#self.steps + 1] = step
  self.info[id], self.shapes[id] = info, shape
  self.pool[#self.pool + 1] = id
  return id
end

function G:input(shape, dt)
  dt = dt or self:dtype()
  local r = self.rng
  if r:chance(0.1) and numel(shape) > 0 then
    local v = self:values(dt, 1)[1]
    return self:add({ full = { shape = copy(shape), dtype = dt, value = v } }, function()
      return Mdl.of_data(dt, { v })
    end)
  end
  local flat = self:values(dt, numel(shape))
  return self:add({ input = { shape = copy(shape), dtype = dt, flat = flat } }, function()
    return Mdl.of_data(dt, flat)
  end)
end

-- t_x:fn(args...); info_of(t) gives the result's info (or nil to drop it)
-- (nargs: the argument count when args has holes, e.g. { nil, { keepdim = true } })
function G:call(x, fn, args, info_of, nargs)
  return self:add({ recv = x, fn = fn, args = args, nargs = nargs or #args }, info_of)
end

local function same_info(g, x) return function() return g.info[x] end end

-- ---- operands ----
-- A second operand for x: a number, a node of a shape that broadcasts with x's, or a new input.
-- Returns a number, or a ref and the node's id.
function G:partner(x)
  local r = self.rng
  local sx = self.shapes[x]
  if r:chance(0.3) then return self:scalar(self.info[x].dt) end
  if r:chance(0.6) then
    local cands = {}
    for _, id in ipairs(self.pool) do
      local b = broadcast(sx, self.shapes[id])
      if b and numel(b) <= CAP and #b <= MAXDIM then cands[#cands + 1] = id end
    end
    if #cands > 0 then
      local id = r:pick(cands)
      return P.ref(id), id
    end
  end
  local s = {}
  local drop = r:chance(0.3) and r:int(0, #sx) or 0
  for i = drop + 1, #sx do s[#s + 1] = r:chance(0.3) and 1 or sx[i] end
  local dt = r:chance(0.6) and self.info[x].dt or self:dtype()
  local id = self:input(s, dt)
  if not id then return self:scalar(self.info[x].dt) end
  return P.ref(id), id
end

-- the info of an argument (ref or number) once converted to dtype dt
function G:arg_info(a, dt)
  if P.is_ref(a) then return self.info[a.i] end
  return Mdl.of_data(dt, { a })
end

-- the dtype x and argument a share
function G:common(x, a)
  if P.is_ref(a) then return self.mg.dtypes.promote(self.info[x].dt, self.info[a.i].dt) end
  return Mdl.common(self.mg, self.info[x].dt, a, false)
end

-- ---- op makers: each takes a node id and returns a new node id or nil ----
local ops = {}

-- movement
function ops.reshape(g, x)
  local r = g.rng
  local s = g.shapes[x]
  local n = numel(s)
  local want = {}
  if n == 0 then
    local k = r:int(1, MAXDIM)
    for i = 1, k do want[i] = r:int(0, 4) end
    want[r:int(1, k)] = 0
  else
    local factors, m, p = {}, n, 2
    while m > 1 do
      if m % p == 0 then factors[#factors + 1] = p; m = m / p else p = p + 1 end
    end
    local k = r:int(n == 1 and 0 or 1, MAXDIM)
    for i = 1, k do want[i] = 1 end
    for _, f in ipairs(factors) do local i = r:int(1, k); want[i] = want[i] * f end
    if k > 0 and r:chance(0.2) then want[r:int(1, k)] = -1 end
  end
  return g:call(x, "reshape", { want }, same_info(g, x))
end

function ops.permute(g, x)
  local n = #g.shapes[x]
  if n < 2 then return nil end
  local perm = {}
  for i = 1, n do perm[i] = i end
  g.rng:shuffle(perm)
  if g.rng:chance(0.2) then perm[1] = perm[1] - n - 1 end  -- a negative dim
  return g:call(x, "permute", { perm }, same_info(g, x))
end

function ops.transpose(g, x)
  local n = #g.shapes[x]
  if n < 2 then return nil end
  return g:call(x, "transpose", { g.rng:int(1, n), g.rng:int(1, n) }, same_info(g, x))
end

function ops.expand(g, x)
  local r = g.rng
  local s = g.shapes[x]
  local want, changed = {}, false
  local lead = (#s < MAXDIM and r:chance(0.4)) and r:int(1, MAXDIM - #s) or 0
  for i = 1, lead do want[i] = r:int(1, 4) end
  for i = 1, #s do
    local v = s[i]
    if v == 1 and r:chance(0.7) then v = r:int(2, 5); changed = true end
    want[lead + i] = (v == s[i] and r:chance(0.3)) and -1 or v
  end
  if lead == 0 and not changed then return nil end
  return g:call(x, "expand", { want }, same_info(g, x))
end

function ops.pad(g, x)
  local r = g.rng
  local s = g.shapes[x]
  if #s == 0 then return nil end
  local spec = {}
  local mode = r:weighted({ { 8, "constant" }, { 1, "reflect" }, { 1, "replicate" }, { 1, "circular" } })
  for i = 1, #s do
    local n = s[i]
    local a, b = r:int(0, 2), r:int(0, 2)
    if mode == "constant" then
      if r:chance(0.15) and n >= 2 then a = -1 end
      if r:chance(0.15) and n >= 3 then b = -1 end
    elseif mode == "reflect" then
      a, b = math.max(0, math.min(a, n - 1)), math.max(0, math.min(b, n - 1))
    elseif mode == "replicate" then
      if n == 0 then a, b = 0, 0 end
    else
      a, b = math.min(a, n), math.min(b, n)
    end
    spec[i] = (a == 0 and b == 0 and r:chance(0.5)) and {} or { a, b }
  end
  local opts = nil
  local value = 0
  if mode ~= "constant" then opts = { mode = mode }
  elseif r:chance(0.3) then value = g:scalar(g.info[x].dt); opts = { value = value } end
  return g:call(x, "pad", { spec, opts }, function(t)
    local xi = g.info[x]
    if value == 0 then return xi end
    -- where(mask, padded, value): the value joins in x's dtype (or promotes it)
    return Mdl.where(g.mg, Mdl.int_info(g.mg.bool, 1), xi, g:arg_info(value, t.dtype), t.dtype)
  end, opts and 2 or 1)
end

function ops.shrink(g, x)
  local r = g.rng
  local s = g.shapes[x]
  if #s == 0 then return nil end
  local spec = {}
  for i = 1, #s do
    local n = s[i]
    if r:chance(0.3) or n == 0 then spec[i] = {}
    else
      local a = r:int(1, n)
      local b = r:chance(0.1) and a - 1 or r:int(a, n)
      if r:chance(0.2) then a = a - n - 1 end
      if r:chance(0.2) and b >= 1 then b = b - n - 1 end
      spec[i] = { a, b }
    end
  end
  return g:call(x, "shrink", { spec }, same_info(g, x))
end

function ops.flip(g, x)
  local r = g.rng
  local n = #g.shapes[x]
  if n == 0 then return nil end
  local dims = {}
  for i = 1, n do if r:chance(0.5) then dims[#dims + 1] = r:chance(0.2) and i - n - 1 or i end end
  if #dims == 0 then dims[1] = r:int(1, n) end
  return g:call(x, "flip", { dims }, same_info(g, x))
end

function ops.unsqueeze(g, x)
  local n = #g.shapes[x]
  if n >= MAXDIM then return nil end
  return g:call(x, "unsqueeze", { g.rng:int(1, n + 1) }, same_info(g, x))
end

function ops.contiguous(g, x)
  return g:call(x, "contiguous", {}, same_info(g, x))
end

-- elementwise: unary
local UNARY = {
  -- name, weight, float result (the operand goes to the default float if it is not a float)
  { "neg", 3 }, { "abs", 2 }, { "relu", 2 }, { "square", 1 }, { "sign", 1 },
  { "floor", 1 }, { "ceil", 1 }, { "round", 1 }, { "trunc", 1 },
  { "logical_not", 1, "bool" }, { "bitwise_not", 1, "int" }, { "isnan", 1, "bool" }, { "isinf", 1, "bool" },
  { "isfinite", 1, "bool" },
  { "exp2", 2, "float" }, { "log2", 2, "float" }, { "sqrt", 2, "float" }, { "sin", 2, "float" },
  { "reciprocal", 2, "float" }, { "exp", 1, "float" }, { "log", 1, "float" }, { "cos", 1, "float" },
  { "sigmoid", 1, "float" }, { "tanh", 1, "float" },
}
local UNARY_W = {}
for _, u in ipairs(UNARY) do UNARY_W[#UNARY_W + 1] = { u[2], u } end

function ops.unary(g, x)
  local u = g.rng:weighted(UNARY_W)
  local name, kind = u[1], u[3]
  local xi = g.info[x]
  if kind == "int" and xi.dt.is_float then return nil end
  return g:call(x, name, {}, function(t)
    local dt = t.dtype
    if kind == "bool" then
      -- logical_not compares with 0 first; isnan & co read floats as they are
      if name == "logical_not" and xi.dt.is_float and not xi.exact then return nil end
      return Mdl.int_info(dt, 1)
    end
    -- int operands of float ops go to the default float; relu of a bool is an int32...
    local operand = Mdl.convert(xi, dt)
    if not operand then return nil end
    return Mdl.unary[name](dt, operand)
  end)
end

-- elementwise: binary
local BINARY = {
  { 4, "add" }, { 3, "sub" }, { 4, "mul" }, { 2, "maximum" }, { 2, "minimum" }, { 2, "div" },
  { 2, "idiv" }, { 2, "mod" }, { 1, "fmod" }, { 2, "pow" }, { 1, "lt" }, { 1, "le" }, { 1, "gt" },
  { 1, "ge" }, { 1, "eq" }, { 1, "ne" }, { 2, "bitwise" }, { 2, "shift" }, { 1, "logical" },
}

-- x op a, where the model's rule is `rule` in common dtype `dt`
local function binary_info(g, rule, x, a, swap)
  return function(t)
    local dt = g:common(x, a)
    local xi, ai = g.info[x], g:arg_info(a, dt)
    if swap then xi, ai = ai, xi end
    if rule == "div" then
      -- true division: both operands go to the result's float dtype
      local cx, ca = Mdl.convert(xi, t.dtype), Mdl.convert(ai, t.dtype)
      if not cx or not ca then return nil end
      return Mdl.binary.div(t.dtype, cx, ca)
    end
    return Mdl.binop(g.mg, rule, xi, ai, dt)
  end
end

-- an integer divisor that is never 0: y | 1 (or a nonzero number)
function G:divisor(x)
  local a = self:partner(x)
  if P.is_ref(a) then
    if self.info[a.i].dt.is_float then return self.rng:pick({ 1, 2, 3, -3, 5, -1 }) end
    local id = self:call(a.i, "bitwise_or", { 1 }, function(t)
      local r = Mdl.int_info(t.dtype, Mdl.int_max[t.dtype.name])
      r.nonzero = true
      return r
    end)
    return id and P.ref(id) or 3
  end
  if type(a) ~= "number" or a ~= math.floor(a) or a == 0 or math.abs(a) == math.huge then return 3 end
  return a
end

-- a shift amount (0 .. width-1) or integer exponent (0 .. 3): y & mask, or a number
function G:small_amount(x, mask)
  local a = self:partner(x)
  if P.is_ref(a) then
    local dt = self.info[a.i].dt
    if dt.is_float or dt.is_bool then return self.rng:int(0, mask) end
    local m = math.min(mask, Mdl.int_bits(dt) - 1)
    local id = self:call(a.i, "bitwise_and", { m }, function(t) return Mdl.int_info(t.dtype, m, true) end)
    return id and P.ref(id) or 1
  end
  return self.rng:int(0, mask)
end

function ops.binary(g, x)
  local r = g.rng
  local op = r:weighted(BINARY)
  local xi = g.info[x]
  local dt = xi.dt
  if op == "idiv" then
    if dt.is_float or dt.is_bool then return nil end
    local a = g:divisor(x)
    local mode = r:pick({ "trunc", "floor" })
    return g:call(x, "div", { a, { rounding_mode = mode } }, binary_info(g, "idiv", x, a))
  elseif op == "mod" or op == "fmod" then
    if dt.is_bool then return nil end
    local a
    if dt.is_float then a = g:partner(x) else a = g:divisor(x) end
    if not dt.is_float and P.is_ref(a) and g.info[a.i].dt.is_float then return nil end
    return g:call(x, op, { a }, binary_info(g, "mod", x, a))
  elseif op == "pow" then
    if dt.is_bool then return nil end
    if not dt.is_float then
      local a = g:small_amount(x, 3)
      if P.is_ref(a) and g.info[a.i].dt.is_float then return nil end
      return g:call(x, "pow", { a }, binary_info(g, "pow", x, a))
    end
    local a = g:partner(x)
    if not P.is_ref(a) then a = r:pick({ 0, 1, 2, 3, 0.5, -1, -2, 1.5 }) end
    return g:call(x, "pow", { a }, binary_info(g, "pow", x, a))
  elseif op == "shift" then
    if dt.is_float or dt.is_bool then return nil end
    local a = g:small_amount(x, Mdl.int_bits(dt) - 1)
    if P.is_ref(a) then
      local pdt = g.mg.dtypes.promote(dt, g.info[a.i].dt)
      if pdt.is_float then return nil end
    end
    local name = r:pick({ "lshift", "rshift" })
    return g:call(x, name, { a }, binary_info(g, name, x, a))
  elseif op == "bitwise" then
    if dt.is_float then return nil end
    local a = g:partner(x)
    if P.is_ref(a) and g.info[a.i].dt.is_float then return nil end
    if type(a) == "number" and (a ~= math.floor(a) or math.abs(a) == math.huge) then return nil end
    local name = r:pick({ "bitwise_and", "bitwise_or", "bitwise_xor" })
    return g:call(x, name, { a }, binary_info(g, name, x, a))
  elseif op == "logical" then
    local a = g:partner(x)
    local name = r:pick({ "logical_and", "logical_or" })
    return g:call(x, name, { a }, function(t)
      -- each side is compared with 0 first
      if xi.dt.is_float and not xi.exact then return nil end
      if P.is_ref(a) and g.info[a.i].dt.is_float and not g.info[a.i].exact then return nil end
      return Mdl.int_info(t.dtype, 1)
    end)
  end
  local a = g:partner(x)
  -- a rounded dividend: a divisor without zeros (the model refuses the others)
  if op == "div" and dt.is_float and not xi.exact and not (P.is_ref(a) and g.info[a.i].nonzero) then
    a = r:pick({ 2, -0.5, 3, 1.25, -4 })
  end
  if op == "sub" and (dt.is_bool or (P.is_ref(a) and g.info[a.i].dt.is_bool)) then return nil end
  -- sometimes the number comes first: T.sub(2, x)
  if not P.is_ref(a) and (op == "sub" or op == "div") and r:chance(0.4) then
    return g:add({ static = true, fn = op, args = { a, P.ref(x) } }, binary_info(g, op, x, a, true))
  end
  return g:call(x, op, { a }, binary_info(g, op, x, a))
end

function ops.where(g, x)
  local r = g.rng
  local s = g.shapes[x]
  local c
  local pick = r:int(1, 3)
  if pick == 1 then
    -- a bool node that broadcasts with x
    local cands = {}
    for _, id in ipairs(g.pool) do
      local b = broadcast(s, g.shapes[id])
      if g.info[id].dt.is_bool and b and numel(b) <= CAP and #b <= MAXDIM then cands[#cands + 1] = id end
    end
    if #cands > 0 then c = r:pick(cands) end
  elseif pick == 2 and g.info[x].exact then
    c = g:call(x, r:pick({ "lt", "gt", "ne" }), { g:scalar(g.info[x].dt) }, function(t) return Mdl.int_info(t.dtype, 1) end)
  end
  if not c then
    local cs = {}
    for i = 1, #s do cs[i] = r:chance(0.3) and 1 or s[i] end
    c = g:input(cs, g.mg.bool)
    if not c then return nil end
  end
  local a = g:partner(x)
  local bs = broadcast(s, g.shapes[c])
  if P.is_ref(a) then bs = bs and broadcast(bs, g.shapes[a.i]) end
  if not bs or numel(bs) > CAP or #bs > MAXDIM then a = g:scalar(g.info[x].dt) end
  local args = r:chance(0.5) and { P.ref(x), a } or { a, P.ref(x) }
  return g:call(c, "where", args, function(t)
    local dt = t.dtype
    local ai = P.is_ref(args[1]) and g.info[args[1].i] or g:arg_info(args[1], dt)
    local bi = P.is_ref(args[2]) and g.info[args[2].i] or g:arg_info(args[2], dt)
    return Mdl.where(g.mg, g.info[c], ai, bi, dt)
  end)
end

-- casts
function ops.cast(g, x)
  local r = g.rng
  local dt = g:dtype()
  local xi = g.info[x]
  if xi.dt.is_float and not dt.is_float and not dt.is_bool and dt.is_unsigned and not xi.nonneg then
    x = g:call(x, "abs", {}, function(t) return Mdl.unary.abs(t.dtype, xi) end)
    if not x then return nil end
    xi = g.info[x]
  end
  return g:call(x, "cast", { dt }, function(t) return Mdl.convert(xi, t.dtype) end)
end

local BITCASTS = {
  int8 = { "uint8" }, uint8 = { "int8" }, int32 = { "uint32", "float32" }, uint32 = { "int32" },
  float32 = { "int32", "uint32" }, float16 = { "int16" }, int16 = { "float16" },
}
function ops.bitcast(g, x)
  local xi = g.info[x]
  local to = BITCASTS[xi.dt.name]
  if not to then return nil end
  local dt = g.mg[g.rng:pick(to)]
  -- float bits: exact values only (no NaN payloads, no -0 of unknown sign); int bits as
  -- floats could be anything (NaN payloads, subnormals), so only to integers
  if xi.dt.is_float and (g.no_float_bitcast or not xi.exact or xi.special or xi.zsign) then return nil end
  if dt.is_float then return nil end
  return g:call(x, "bitcast", { dt }, function(t) return Mdl.int_info(t.dtype, Mdl.int_max[t.dtype.name]) end)
end

-- reductions
local function reduce_dims(g, s)
  local r = g.rng
  local n = #s
  if n == 0 or r:chance(0.25) then return nil, numel(s) end
  if r:chance(0.55) then
    local d = r:int(1, n)
    return r:chance(0.2) and d - n - 1 or d, s[d]
  end
  local dims, count = {}, 1
  for i = 1, n do if r:chance(0.5) then dims[#dims + 1] = i; count = count * s[i] end end
  if #dims == 0 then dims[1] = 1; count = s[1] end
  return dims, count
end

function ops.reduce(g, x)
  local r = g.rng
  local s = g.shapes[x]
  local op = r:weighted({ { 4, "sum" }, { 3, "max" }, { 2, "min" }, { 1, "prod" }, { 1, "mean" } })
  local dims, n = reduce_dims(g, s)
  local args = { dims }
  if r:chance(0.5) then args[2] = { keepdim = true } end
  local xi = g.info[x]
  return g:call(x, op, args, function(t) return Mdl.reduce(op, xi, n, t.dtype) end, args[2] and 2 or 1)
end

function ops.cumsum(g, x)
  local s = g.shapes[x]
  if #s == 0 then return nil end
  local d = g.rng:int(1, #s)
  local xi = g.info[x]
  return g:call(x, "cumsum", { d }, function(t) return Mdl.reduce("sum", xi, s[d], t.dtype) end)
end

function ops.argmax(g, x)
  local s = g.shapes[x]
  local xi = g.info[x]
  if #s == 0 or (xi.dt.is_float and not xi.exact) then return nil end
  local d = g.rng:int(1, #s)
  if s[d] == 0 then return nil end
  local args = { d }
  if g.rng:chance(0.3) then args[2] = { keepdim = true } end
  return g:call(x, g.rng:pick({ "argmax", "argmin" }), args, function(t) return Mdl.int_info(t.dtype, s[d], true) end)
end

function ops.softmax(g, x)
  local s = g.shapes[x]
  if #s == 0 then return nil end
  local d = g.rng:int(1, #s)
  local log = g.rng:chance(0.4)
  local xi = g.info[x]
  return g:call(x, log and "log_softmax" or "softmax", { d }, function(t)
    return Mdl.softmax(xi, s[d], t.dtype, log)
  end)
end

function ops.matmul(g, x)
  local r = g.rng
  local s = g.shapes[x]
  if #s == 0 then return nil end
  local k = s[#s]
  local y
  local cands = {}
  for _, id in ipairs(g.pool) do
    local t = g.shapes[id]
    if #t == 2 and t[1] == k then cands[#cands + 1] = id end
  end
  if #cands > 0 and r:chance(0.5) then y = r:pick(cands)
  else
    local ys = r:chance(0.2) and { k } or { k, r:int(1, 5) }
    y = g:input(ys, r:chance(0.7) and g.info[x].dt or g:dtype())
    if not y then return nil end
  end
  local xi, yi = g.info[x], g.info[y]
  return g:call(x, "matmul", { P.ref(y) }, function(t)
    local dt = t.dtype
    if not dt.is_float then
      if dt.is_bool then return Mdl.int_info(dt, 1) end
      return Mdl.int_info(dt, xi.m * yi.m * k)
    end
    return Mdl.matmul(g.mg, xi, yi, k, dt)
  end)
end

-- realize a node now: later ops read it as a buffer
function ops.realize(g, x)
  if g.steps[#g.steps] and g.steps[#g.steps].fn == "realize" then return nil end
  local step = { recv = x, fn = "realize", args = {}, nargs = 0 }
  P.exec(g.mg, step, g.nodes, "REF")
  g.steps[#g.steps + 1] = step
  return x
end

local OPS = {
  { 3, "reshape" }, { 2, "permute" }, { 1, "transpose" }, { 2, "expand" }, { 2, "pad" }, { 2, "shrink" },
  { 2, "flip" }, { 1, "unsqueeze" }, { 1, "contiguous" }, { 6, "unary" }, { 9, "binary" }, { 2, "where" },
  { 2, "cast" }, { 1, "bitcast" }, { 4, "reduce" }, { 1, "cumsum" }, { 1, "argmax" }, { 1, "softmax" },
  { 1, "matmul" }, { 1, "realize" },
}

-- ---- a whole program ----
-- holder.g is set to the generator state at once, so a caller can print what was built
-- before an error.
-- opts.no_float_bitcast: no bitcast of float bits (--model-check widens floats to float64,
-- which changes their bits).
function M.generate(mg, seed, holder, opts)
  local g = setmetatable({
    mg = mg, rng = P.rng(seed), steps = {}, nodes = {}, info = {}, shapes = {}, pool = {}, next_id = 1,
    no_float_bitcast = opts and opts.no_float_bitcast,
  }, G)
  if holder then holder.g = g end
  local r = g.rng
  local ninputs = r:int(1, 3)
  for _ = 1, ninputs do g:input(g:shape()) end
  local nops = r:weighted({ { 2, r:int(1, 4) }, { 5, r:int(5, 12) }, { 2, r:int(13, 25) } })
  local made, last = 0, nil
  for _ = 1, nops * 4 do
    if made >= nops then break end
    -- mostly extend the newest result, sometimes an older node (it then has two consumers)
    local x = (last and r:chance(0.7)) and last or r:pick(g.pool)
    local op = r:weighted(OPS)
    local y = ops[op](g, x)
    if y then made, last = made + 1, y end
  end
  -- outputs: every node that nothing reads (inputs aside), the newest ones if there are many;
  -- sometimes also a node that others read (an output that is also an intermediate)
  local read, outputs = {}, {}
  for _, st in ipairs(g.steps) do
    for _, j in ipairs(P.reads(st)) do read[j] = true end
  end
  for i = #g.steps, 1, -1 do
    local st = g.steps[i]
    if st.out and not st.input and not st.full and not read[st.out] and #outputs < 4 then
      outputs[#outputs + 1] = st.out
    end
  end
  if #outputs == 0 then outputs[1] = g.pool[#g.pool] end
  if r:chance(0.2) then
    local o = r:pick(g.pool)
    local dup = false
    for _, v in ipairs(outputs) do dup = dup or v == o end
    if not dup then outputs[#outputs + 1] = o end
  end
  g.prog = { steps = g.steps, outputs = outputs, seed = seed, joint = r:chance(0.7) }
  return g
end

M.CAP = CAP
return M
