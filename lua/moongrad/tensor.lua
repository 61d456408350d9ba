-- Tensor: a cdata handle (struct mg_tensor*) with methods. This file holds the type, creation,
-- properties, the primitive ops with broadcasting and type promotion, and getting values out.
-- Composite ops live in ops_*.lua and install their methods on Tensor.
local ffi = require("ffi")
local core = require("moongrad.core")
local dtypes = require("moongrad.dtypes")
local V = require("moongrad.variable")
local C, ctx = core.C, core.ctx

local unpack = unpack or table.unpack
local Tensor = {}
local M = { Tensor = Tensor, dtypes = dtypes, C = C }

-- Lua-side fields of a tensor (grad, requires_grad), keyed weakly by the handle.
local fields = setmetatable({}, { __mode = "k" })
M.fields = fields

M.default_float = dtypes.float32

-- A Tensor is a struct cdata boxing the C handle. Not the bare pointer: LuaJIT does pointer
-- arithmetic on pointer cdata (x + 1 would move the pointer), while a struct's operators all go
-- to its metatype. The box's __gc (tensor_type.lua) releases the handle.
ffi.cdef("typedef struct moongrad_tensor { mg_tensor* h; } moongrad_tensor;")
local Box = ffi.typeof("moongrad_tensor")
M.Box = Box

local out = ffi.new("mg_tensor*[1]")
local scratch = ffi.new("int64_t[64]")  -- shapes and axes on their way to C (filled right before a call)
local MAXDIM = 64

-- ---- errors ----
local raise = core.raise
M.raise = raise

-- Handles are small to Lua's collector, but hold buffers and graphs in C++: when what the
-- context holds doubles since the last collection, collect, so dead tensors free their memory.
local made, held_after_collect = 0, 0
local NODE_BYTES = 256
local function maybe_collect()
  made = made + 1
  if made % 128 ~= 0 then return end
  local held = tonumber(C.mg_memory_used(ctx)) + tonumber(C.mg_live_nodes(ctx)) * NODE_BYTES
  if held > 2 * held_after_collect and held > 8 * 1024 * 1024 then
    collectgarbage()
    held_after_collect = tonumber(C.mg_memory_used(ctx)) + tonumber(C.mg_live_nodes(ctx)) * NODE_BYTES
  end
end

local function new(status)
  if status ~= 0 then raise(status, 3) end
  maybe_collect()
  return Box(out[0])
end
M.new = new

local function fill(list, what)
  local n = #list
  if n > MAXDIM then error(what .. ": more than " .. MAXDIM .. " dims", 3) end
  for i = 1, n do
    local d = list[i]
    scratch[i - 1] = V.is_variable(d) and d.dim or d
  end
  return scratch, n
end

local function is_tensor(x) return ffi.istype(Box, x) end
M.is_tensor = is_tensor

-- t itself when it is a float tensor, else t cast to the default float.
function M.float_of(t)
  if t.dtype.is_float then return t end
  return t:cast(M.default_float)
end

-- ---- shapes and arguments ----
local function shape_of(t)
  local n = C.mg_tensor_ndim(t.h)
  if n < 0 then error("tensor used after free()", 3) end
  local status = C.mg_tensor_shape(ctx, t.h, scratch, MAXDIM)
  if status ~= 0 then raise(status, 3) end
  local s = {}
  for i = 1, n do
    local d = scratch[i - 1]
    s[i] = d < 0 and V.from_dim(d) or tonumber(d)  -- a variable size is its Variable
  end
  return s
end
M.shape_of = shape_of

local function shape_str(s)
  local parts = {}
  for i = 1, #s do parts[i] = V.is_variable(s[i]) and s[i].name or tostring(s[i]) end
  return "{" .. table.concat(parts, ", ") .. "}"
end
M.shape_str = shape_str

local function has_variable(s)
  for i = 1, #s do if V.is_variable(s[i]) then return true end end
  return false
end
M.has_variable = has_variable

local function numel(s)
  local n = 1
  for i = 1, #s do n = n * s[i] end
  return n
end
M.numel = numel

-- Sizes given as varargs or one table; a trailing table after numbers is an options table.
local function sizes_and_opts(...)
  local a = ...
  if type(a) == "table" and not is_tensor(a) and not V.is_variable(a) then return a, select(2, ...) end
  local n = select("#", ...)
  local s, opts = {}, nil
  for i = 1, n do
    local v = select(i, ...)
    if type(v) == "table" and not V.is_variable(v) then opts = v else s[#s + 1] = v end
  end
  return s, opts
end
M.sizes_and_opts = sizes_and_opts

local function check_int(v, what, op)
  if type(v) ~= "number" or v ~= math.floor(v) then
    error(op .. ": " .. what .. " must be an integer, got " .. tostring(v), 4)
  end
  return v
end

-- A 1-based (or negative) dim to a 0-based axis.
local function axis(d, ndim, op)
  check_int(d, "dim", op)
  if d < 0 then d = d + ndim + 1 end
  if d < 1 or d > ndim then
    error(string.format("%s: dim %s out of range for a tensor of %d dims (expected 1..%d or -%d..-1)", op, tostring(select(1, d)), ndim, ndim, ndim), 4)
  end
  return d - 1
end
M.axis = axis

-- ---- creation ----
-- "" names the default device (a string, never nil: see from_list)
local function device_arg(opts) return opts and opts.device or "" end

-- Integers are int32, or int64 past its range; anything fractional (or past 2^53) is the
-- default float; booleans are bool.
local function dtype_of_table(flat)
  local dt = dtypes.int32
  for i = 1, #flat do
    local v = flat[i]
    if type(v) == "boolean" then
      if i == 1 then dt = dtypes.bool elseif dt ~= dtypes.bool then error("Tensor: mixes booleans and numbers", 4) end
    elseif type(v) == "number" then
      if dt == dtypes.bool and i > 1 then error("Tensor: mixes booleans and numbers", 4) end
      if dt == dtypes.bool then dt = dtypes.int32 end
      if v ~= math.floor(v) or v ~= v or v == math.huge or v == -math.huge or math.abs(v) > 2 ^ 53 then
        dt = M.default_float  -- fractional, or too big to be an exact integer
      elseif (v > 2147483647 or v < -2147483648) and dt == dtypes.int32 then
        dt = dtypes.int64
      end
    else
      error("Tensor: elements must be numbers or booleans, got " .. type(v), 4)
    end
  end
  return dt
end

-- Nested tables -> flat list and shape; every row must have the same length.
local function flatten_table(t)
  local shape, flat = {}, {}
  local node = t
  while type(node) == "table" and not is_tensor(node) do
    shape[#shape + 1] = #node
    node = node[1]
  end
  local function walk(x, d)
    if d > #shape then flat[#flat + 1] = x; return end
    if type(x) ~= "table" or #x ~= shape[d] then
      error("Tensor: ragged nested table: expected " .. shape[d] .. " elements at depth " .. d, 5)
    end
    for i = 1, #x do walk(x[i], d + 1) end
  end
  walk(t, 1)
  return flat, shape
end

-- Copies a flat Lua list into a new tensor of dtype dt.
local function from_list(flat, shape, dt, device)
  local host = dtypes[dt.host]
  local buf = ffi.new(host.ctype .. "[?]", math.max(#flat, 1))
  for i = 1, #flat do
    local v = flat[i]
    if type(v) == "boolean" then v = v and 1 or 0 end
    buf[i - 1] = (host == dtypes.bool and v ~= 0) and 1 or v
  end
  local p, n = fill(shape, "Tensor")
  local t = new(C.mg_tensor_from_host(ctx, buf, host.id, p, n, device or "", out))
  if host ~= dt then t = t:cast(dt) end
  return t
end
M.from_list = from_list

local function tensor_new(data, opts)
  opts = opts or {}
  if is_tensor(data) then return data:clone() end
  if type(data) == "number" or type(data) == "boolean" then
    local dt = opts.dtype and dtypes.get(opts.dtype) or dtype_of_table({ data })
    return from_list({ data }, {}, dt, device_arg(opts))
  end
  if type(data) ~= "table" then error("Tensor: expected a number, boolean or nested table, got " .. type(data), 3) end
  local flat, shape = flatten_table(data)
  local dt = opts.dtype and dtypes.get(opts.dtype) or dtype_of_table(flat)
  return from_list(flat, shape, dt, device_arg(opts))
end

local function full(shape, value, dt, device)
  dt = dtypes.get(dt)
  if type(value) == "boolean" then value = value and 1 or 0 end
  local p, n = fill(shape, "full")
  if dt.is_float then return new(C.mg_tensor_full(ctx, value, dt.id, p, n, device or "", out)) end
  return new(C.mg_tensor_full_int(ctx, value, dt.id, p, n, device or "", out))
end
M.full_raw = full

local function default_dtype_for(value)
  if type(value) == "boolean" then return dtypes.bool end
  return value == math.floor(value) and dtypes.int32 or M.default_float
end

function Tensor.full(shape, value, opts)
  opts = opts or {}
  local dt = opts.dtype and dtypes.get(opts.dtype) or default_dtype_for(value)
  return full(shape, value, dt, device_arg(opts))
end

function Tensor.zeros(...)
  local s, opts = sizes_and_opts(...)
  return full(s, 0, opts and opts.dtype or M.default_float, device_arg(opts))
end

function Tensor.ones(...)
  local s, opts = sizes_and_opts(...)
  return full(s, 1, opts and opts.dtype or M.default_float, device_arg(opts))
end

-- Uninitialised in torch; here zeros, so results are reproducible.
Tensor.empty = Tensor.zeros

local function like(x, opts)
  opts = opts or {}
  return x.shape, opts.dtype and dtypes.get(opts.dtype) or x.dtype, opts.device or x.device
end
function Tensor.zeros_like(x, opts) local s, dt, dev = like(x, opts); return full(s, 0, dt, dev) end
function Tensor.ones_like(x, opts) local s, dt, dev = like(x, opts); return full(s, 1, dt, dev) end
function Tensor.full_like(x, value, opts) local s, dt, dev = like(x, opts); return full(s, value, dt, dev) end

function Tensor.rand(...)
  local s, opts = sizes_and_opts(...)
  local dt = dtypes.get(opts and opts.dtype or M.default_float)
  local p, n = fill(s, "rand")
  if not dt.is_float then error("rand: dtype must be a float dtype, got " .. dt.name .. " (randint makes integers)", 2) end
  return new(C.mg_tensor_rand(ctx, dt.id, p, n, device_arg(opts), out))
end

function M.manual_seed(seed)
  check_int(seed, "seed", "manual_seed")
  local status = C.mg_manual_seed(ctx, seed)
  if status ~= 0 then raise(status, 2) end
end

-- Copies count elements of dtype from host memory at ptr.
function Tensor.from_ptr(ptr, shape, dt, opts)
  dt = dtypes.get(dt or M.default_float)
  if ptr == nil then error("from_ptr: pointer is NULL", 2) end
  local p, n = fill(shape, "from_ptr")
  return new(C.mg_tensor_from_host(ctx, ptr, dt.id, p, n, device_arg(opts), out))
end

function Tensor.from_string(bytes, dt, opts)
  dt = dtypes.get(dt or dtypes.uint8)
  if #bytes % dt.itemsize ~= 0 then
    error(string.format("from_string: %d bytes is not a whole number of %s elements (%d bytes each)", #bytes, dt.name, dt.itemsize), 2)
  end
  local count = #bytes / dt.itemsize
  scratch[0] = count
  return new(C.mg_tensor_from_host(ctx, bytes, dt.id, scratch, 1, device_arg(opts), out))
end

M.tensor_new = tensor_new

-- ---- properties ----
local props = {}
function props.shape(t) return shape_of(t) end
function props.ndim(t)
  local n = C.mg_tensor_ndim(t.h)
  if n < 0 then error("tensor used after free()", 3) end
  return n
end
function props.dtype(t)
  local d = dtypes.from_id(C.mg_tensor_dtype(t.h))
  if not d then error("tensor used after free()", 3) end
  return d
end
function props.device(t) return ffi.string(C.mg_tensor_device(t.h)) end
function props.grad(t) local f = fields[t]; return f and f.grad end
function props.requires_grad(t) local f = fields[t]; return (f and f.requires_grad) or false end
function props.T(t) return t:transpose(-2, -1) end
M.props = props

function Tensor.numel(t) return numel(shape_of(t)) end
function Tensor.size(t, d)
  local s = shape_of(t)
  if d == nil then return s end
  return s[axis(d, #s, "size") + 1]
end
function Tensor.dim(t) return props.ndim(t) end
function Tensor.element_size(t) return props.dtype(t).itemsize end

-- ---- primitives ----
local alu_ids = {
  exp2 = C.MG_OP_EXP2, log2 = C.MG_OP_LOG2, sin = C.MG_OP_SIN, sqrt = C.MG_OP_SQRT, reciprocal = C.MG_OP_RECIPROCAL,
  neg = C.MG_OP_NEG, trunc = C.MG_OP_TRUNC, add = C.MG_OP_ADD, sub = C.MG_OP_SUB, mul = C.MG_OP_MUL, fdiv = C.MG_OP_FDIV,
  idiv = C.MG_OP_IDIV, mod = C.MG_OP_MOD, max = C.MG_OP_MAX, pow = C.MG_OP_POW, cmplt = C.MG_OP_CMPLT, cmpne = C.MG_OP_CMPNE,
  cmpeq = C.MG_OP_CMPEQ, bit_and = C.MG_OP_AND, bit_or = C.MG_OP_OR, bit_xor = C.MG_OP_XOR, shl = C.MG_OP_SHL,
  shr = C.MG_OP_SHR, where = C.MG_OP_WHERE,
}
local srcs = ffi.new("mg_tensor*[3]")

-- The raw elementwise op: operands already share shape and dtype.
local function alu(op, a, b, c)
  srcs[0], srcs[1], srcs[2] = a.h, b and b.h, c and c.h
  local n = c and 3 or b and 2 or 1
  local status = C.mg_tensor_alu(ctx, alu_ids[op], srcs, n, out)
  srcs[0], srcs[1], srcs[2] = nil, nil, nil
  return new(status)
end
M.alu = alu

function Tensor.cast(t, dt)
  dt = dtypes.get(dt)
  return new(C.mg_tensor_cast(ctx, t.h, dt.id, out))
end

function Tensor.bitcast(t, dt)
  dt = dtypes.get(dt)
  return new(C.mg_tensor_bitcast(ctx, t.h, dt.id, out))
end

local move_ids = { reshape = C.MG_RESHAPE, expand = C.MG_EXPAND, permute = C.MG_PERMUTE, pad = C.MG_PAD, shrink = C.MG_SHRINK, flip = C.MG_FLIP, window = C.MG_WINDOW }
local function movement(op, t, arg)
  local p, n = fill(arg, op)
  return new(C.mg_tensor_movement(ctx, move_ids[op], t.h, p, n, out))
end
M.movement = movement

local reduce_ids = { sum = C.MG_REDUCE_SUM, prod = C.MG_REDUCE_PROD, max = C.MG_REDUCE_MAX }
-- Reduces over 0-based axes, keeping them as size 1.
local function reduce(op, t, axes)
  local p, n = fill(axes, op)
  return new(C.mg_tensor_reduce(ctx, reduce_ids[op], t.h, p, n, out))
end
M.reduce = reduce

-- ---- broadcasting and promotion ----
local function broadcast_shape(a, b, op)
  local n = math.max(#a, #b)
  local s = {}
  for i = 1, n do
    local x, y = a[#a - n + i] or 1, b[#b - n + i] or 1
    if x ~= y and x ~= 1 and y ~= 1 then
      error(string.format("%s: cannot broadcast %s with %s", op, shape_str(a), shape_str(b)), 4)
    end
    s[i] = (x == 1) and y or x
  end
  return s
end
M.broadcast_shape = broadcast_shape

-- Reshape with leading ones, then expand, to shape s.
local function broadcast_to(t, s)
  local ts = shape_of(t)
  if #ts == #s then
    local same = true
    for i = 1, #s do same = same and ts[i] == s[i] end
    if same then return t end
  end
  if #ts < #s then
    local r = {}
    for i = 1, #s - #ts do r[i] = 1 end
    for i = 1, #ts do r[#r + 1] = ts[i] end
    t = movement("reshape", t, r)
  end
  return movement("expand", t, s)
end
M.broadcast_to = broadcast_to

local function is_int_number(v) return type(v) == "number" and v == math.floor(v) and v == v end

-- One operand to dtype dt and shape s (no closure here: LuaJIT cannot compile closure creation).
local function conv_operand(x, dt, s, dev)
  if is_tensor(x) then
    if x.dtype ~= dt then x = x:cast(dt) end
    return broadcast_to(x, s)
  end
  return full(s, x, dt, dev)
end

-- Operands to tensors of one dtype and shape (tinygrad's rules: a number takes the tensor's
-- dtype, except a fractional number with an integer tensor, which goes to the default float).
local function operands(a, b, op, want_float)
  local ta, tb = is_tensor(a), is_tensor(b)
  if not ta and not tb then error(op .. ": expected a tensor operand", 3) end
  local t = ta and a or b
  local dt = t.dtype
  if ta and tb then
    local db = b.dtype
    -- the common case, without building shapes: same dtype and shape
    if dt == db and not (want_float and not dt.is_float) and C.mg_tensor_same_shape(a.h, b.h) ~= 0 then return a, b end
    dt = dtypes.promote(dt, db)
  else
    local v = b  -- not `ta and b or a`: b may be the literal false
    if not ta then v = a end
    if type(v) ~= "number" and type(v) ~= "boolean" then error(op .. ": expected a tensor or a number, got " .. type(v), 3) end
    if type(v) == "number" and not is_int_number(v) and not dt.is_float then dt = M.default_float end
    if type(v) == "number" and dt.is_bool then dt = is_int_number(v) and dtypes.int32 or M.default_float end
    if want_float and not dt.is_float then dt = M.default_float end
    -- a number beside a tensor of the final dtype: a constant of its shape, made in C
    if t.dtype == dt then
      if type(v) == "boolean" then v = v and 1 or 0 end
      local c = new(C.mg_tensor_full_like(ctx, v, dt.id, t.h, out))
      if ta then return a, c end
      return c, b
    end
  end
  if want_float and not dt.is_float then dt = M.default_float end
  local s = ta and tb and broadcast_shape(shape_of(a), shape_of(b), op) or shape_of(t)
  local dev = (not ta or not tb) and t.device or nil  -- only a number needs it
  return conv_operand(a, dt, s, dev), conv_operand(b, dt, s, dev)
end
M.operands = operands

local function binary(op, name, want_float)
  return function(a, b)
    local x, y = operands(a, b, name, want_float)
    return alu(op, x, y)
  end
end
M.binary = binary

Tensor.add = binary("add", "add")
Tensor.sub = binary("sub", "sub")
Tensor.mul = binary("mul", "mul")
Tensor.maximum = binary("max", "maximum")

-- Comparisons return bool tensors (Lua's == and < must return booleans, so these are methods).
local function compare(op, name, swap)
  return function(a, b)
    local x, y = operands(a, b, name)
    if swap then x, y = y, x end
    return alu(op, x, y)
  end
end
Tensor.lt = compare("cmplt", "lt")
Tensor.gt = compare("cmplt", "gt", true)
Tensor.eq = compare("cmpeq", "eq")
Tensor.ne = compare("cmpne", "ne")
function Tensor.le(a, b)
  local x, y = operands(a, b, "le")
  return alu("bit_or", alu("cmplt", x, y), alu("cmpeq", x, y))
end
function Tensor.ge(a, b)
  local x, y = operands(a, b, "ge")
  return alu("bit_or", alu("cmplt", y, x), alu("cmpeq", x, y))
end

function Tensor.where(cond, a, b)
  if not is_tensor(cond) then error("where: condition must be a tensor", 2) end
  if cond.dtype ~= dtypes.bool then cond = cond:ne(0) end
  local x, y = operands(a, b, "where")
  local s = broadcast_shape(shape_of(cond), shape_of(x), "where")
  x, y, cond = broadcast_to(x, s), broadcast_to(y, s), broadcast_to(cond, s)
  return alu("where", cond, x, y)
end

function Tensor.neg(t)
  if t.dtype == dtypes.bool then return t:logical_not() end
  return alu("neg", t)
end

-- ---- realizing and reading values ----
function Tensor.realize(t)
  out[0] = t.h
  local status = C.mg_realize(ctx, out, 1)
  out[0] = nil
  if status ~= 0 then raise(status, 2) end
  return t
end

function M.realize(...)
  local n = select("#", ...)
  local arr = ffi.new("mg_tensor*[?]", math.max(n, 1))
  for i = 1, n do
    local t = select(i, ...)
    if not is_tensor(t) then error("realize: argument " .. i .. " is not a tensor", 2) end
    arr[i - 1] = t.h
  end
  local status = C.mg_realize(ctx, arr, n)
  if status ~= 0 then raise(status, 2) end
  return ...
end

-- ---- gradients (src/tensor/gradient.cpp; docs/gradient.md) ----
-- Handles from mg_tensor_gradient, one per target; nil where loss does not depend on it.
local function raw_gradients(loss, targets, op)
  if not is_tensor(loss) then error(op .. ": the loss must be a tensor, got " .. type(loss), 3) end
  local n = #targets
  local arr = ffi.new("mg_tensor*[?]", math.max(n, 1))
  local res = ffi.new("mg_tensor*[?]", math.max(n, 1))
  for i = 1, n do
    if not is_tensor(targets[i]) then error(op .. ": argument " .. i .. " is not a tensor", 3) end
    arr[i - 1] = targets[i].h
  end
  local status = C.mg_tensor_gradient(ctx, loss.h, arr, n, res)
  if status ~= 0 then raise(status, 3) end
  local out = {}
  for i = 1, n do out[i] = res[i - 1] ~= nil and Box(res[i - 1]) or false end
  return out
end

-- loss:gradient(a, b, ...): d loss / d a, d loss / d b, ... as lazy tensors (zeros where loss
-- does not depend on the tensor).
function Tensor.gradient(loss, ...)
  local targets = { ... }
  local gs = raw_gradients(loss, targets, "gradient")
  for i, g in ipairs(gs) do
    if not g then gs[i] = Tensor.zeros_like(targets[i]) end
  end
  return unpack(gs, 1, #targets)
end

-- loss:backward(): .grad of every tensor with requires_grad that loss depends on, added to the
-- .grad it had. Returns loss.
function Tensor.backward(loss)
  local targets = {}
  for t, f in pairs(fields) do
    -- freed tensors (dtype raises) and integer ones take no gradient
    if f.requires_grad then
      local ok, dt = pcall(props.dtype, t)
      if ok and dt.is_float then targets[#targets + 1] = t end
    end
  end
  local gs = raw_gradients(loss, targets, "backward")
  for i, g in ipairs(gs) do
    if g then
      local f = fields[targets[i]]
      f.grad = f.grad and f.grad + g or g
    end
  end
  return loss
end

-- Values as a flat Lua list (float16/bfloat16 read through float32, int64 as Lua numbers).
local function values(t)
  if has_variable(shape_of(t)) then M.realize(t) end  -- its shape at the values bound now
  local dt = t.dtype
  local host = dtypes[dt.host]
  local src = host ~= dt and t:cast(host) or t
  local n = numel(shape_of(src))
  local buf = ffi.new(host.ctype .. "[?]", math.max(n, 1))
  local status = C.mg_tensor_copyout(ctx, src.h, buf, n * host.itemsize)
  if status ~= 0 then raise(status, 3) end
  local list = {}
  if host == dtypes.bool then
    for i = 1, n do list[i] = buf[i - 1] ~= 0 end
  else
    for i = 1, n do list[i] = tonumber(buf[i - 1]) end
  end
  return list
end
M.values = values

function Tensor.item(t)
  local s = shape_of(t)
  if numel(s) ~= 1 then error("item: tensor of shape " .. shape_str(s) .. " has " .. numel(s) .. " elements, expected 1", 2) end
  return values(t)[1]
end

function Tensor.totable(t)
  local v = values(t)
  local s = shape_of(t)
  if #s == 0 then return v[1] end
  local pos = 0
  local function build(d)
    local r = {}
    for i = 1, s[d] do
      if d == #s then pos = pos + 1; r[i] = v[pos] else r[i] = build(d + 1) end
    end
    return r
  end
  return build(1)
end

function Tensor.tolist(t) return values(t) end

function Tensor.ptr(t)
  local p = ffi.new("const void*[1]")
  local status = C.mg_tensor_ptr(ctx, t.h, p)
  if status ~= 0 then raise(status, 2) end
  return ffi.cast("const " .. t.dtype.ctype .. "*", p[0])
end

function Tensor.to(t, device)
  if type(device) ~= "string" then error("to: device must be a string like \"REF\", got " .. type(device), 2) end
  return new(C.mg_tensor_to(ctx, t.h, device, out))
end

function Tensor.contiguous(t) return new(C.mg_tensor_contiguous(ctx, t.h, out)) end
function Tensor.clone(t) return t:contiguous() end
function Tensor.detach(t) return new(C.mg_tensor_detach(ctx, t.h, out)) end

function Tensor.free(t)
  local status = C.mg_tensor_free(ctx, t.h)
  if status ~= 0 then raise(status, 2) end
end

-- x:assign(y): x takes y's value (shapes, dtypes and devices must match); returns x.
function Tensor.assign(x, y)
  if not is_tensor(y) then y = Tensor.full_like(x, y) end
  local status = C.mg_tensor_assign(ctx, x.h, y.h)
  if status ~= 0 then raise(status, 2) end
  return x
end

function Tensor.is_realized(t) return C.mg_tensor_is_realized(t.h) ~= 0 end

function M.memory_used() return tonumber(C.mg_memory_used(ctx)) end
function M.memory_peak() return tonumber(C.mg_memory_peak(ctx)) end
function M.live_tensors() return tonumber(C.mg_live_tensors(ctx)) end
function M.live_nodes() return tonumber(C.mg_live_nodes(ctx)) end
-- Counters of the compiler and executor: { kernels_run, kernels_compiled, copies,
-- schedules_made, schedule_cache_hits, backend_compiles, backend_cache_hits }.
function M.stats()
  local s = ffi.new("mg_stats")
  local status = C.mg_ctx_stats(ctx, s)
  if status ~= 0 then raise(status, 2) end
  return { kernels_run = tonumber(s.kernels_run), kernels_compiled = tonumber(s.kernels_compiled), copies = tonumber(s.copies),
           schedules_made = tonumber(s.schedules_made), schedule_cache_hits = tonumber(s.schedule_cache_hits),
           backend_compiles = tonumber(s.backend_compiles), backend_cache_hits = tonumber(s.backend_cache_hits) }
end
-- Per compiled kernel: milliseconds in codegen's passes and in the backend, as two lists.
function M.compile_times()
  local n = tonumber(C.mg_ctx_compile_times(ctx, nil, nil, 0))
  local p, b = ffi.new("double[?]", math.max(n, 1)), ffi.new("double[?]", math.max(n, 1))
  C.mg_ctx_compile_times(ctx, p, b, n)
  local passes, backend = {}, {}
  for i = 1, n do passes[i], backend[i] = p[i - 1], b[i - 1] end
  return passes, backend
end

return M
