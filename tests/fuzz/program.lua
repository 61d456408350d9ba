-- The fuzzer's programs: a random number generator, and a program as data (a list of steps)
-- that can be built on any device and printed as the Lua code that builds it.
--
-- A step is one of
--   { out = k, input = { shape = {...}, dtype = dt, flat = {...} } }   -- Tensor(nested, ...)
--   { out = k, full = { shape = {...}, dtype = dt, value = v } }       -- Tensor.full(...)
--   { out = k, recv = j, fn = "name", args = {...}, nargs = n }       -- t_k = t_j:name(args)
--   { out = k, static = true, fn = "name", args = {...}, nargs = n }  -- t_k = T.name(args)
--   { recv = j, fn = "realize", args = {}, nargs = 0 }                -- t_j:realize()
-- where an argument is a Lua value (number, boolean, string, dtype, table of those) or
-- program.ref(i), which stands for node t_i. A program also lists its outputs (node ids).
local bit = require("bit")
local band, bxor, rshift, tobit = bit.band, bit.bxor, bit.rshift, bit.tobit

local M = {}

-- ---- random numbers: a counter hashed by a 32-bit mixer (same stream on every platform) ----
local function mul32(a, b)
  local alo, ahi = band(a, 0xffff), rshift(a, 16)
  local blo, bhi = band(b, 0xffff), rshift(b, 16)
  return tobit(alo * blo + tobit((ahi * blo + alo * bhi) * 65536))
end

local function mix(x)
  x = bxor(x, rshift(x, 16)); x = mul32(x, 0x7feb352d)
  x = bxor(x, rshift(x, 15)); x = mul32(x, tobit(0x846ca68b))
  return bxor(x, rshift(x, 16))
end

local Rng = {}
Rng.__index = Rng

function M.rng(seed)
  local lo = seed % 4294967296
  local hi = math.floor(seed / 4294967296) % 4294967296
  return setmetatable({ c = mix(bxor(tobit(lo), mix(tobit(hi) + 0x1234567))) }, Rng)
end

-- uniform in [0, 1)
function Rng:float()
  self.c = tobit(self.c + 0x6d2b79f5)
  local v = mix(self.c)
  if v < 0 then v = v + 4294967296 end
  return v / 4294967296
end
-- integer in [a, b]
function Rng:int(a, b) return a + math.floor(self:float() * (b - a + 1)) end
function Rng:chance(p) return self:float() < p end
function Rng:pick(list) return list[self:int(1, #list)] end
-- list of { weight, value }: one value, with probability proportional to its weight
function Rng:weighted(list)
  local total = 0
  for i = 1, #list do total = total + list[i][1] end
  local r = self:float() * total
  for i = 1, #list do
    r = r - list[i][1]
    if r < 0 then return list[i][2] end
  end
  return list[#list][2]
end
function Rng:shuffle(list)
  for i = #list, 2, -1 do
    local j = self:int(1, i)
    list[i], list[j] = list[j], list[i]
  end
  return list
end

-- ---- wall-clock seconds (monotonic), for time budgets ----
local ffi = require("ffi")
pcall(ffi.cdef, "typedef struct { long sec; long nsec; } moongrad_fuzz_timespec;"
  .. " int clock_gettime(int clk, moongrad_fuzz_timespec* ts);")
local ts = ffi.new("moongrad_fuzz_timespec")
function M.now()
  ffi.C.clock_gettime(1, ts)  -- CLOCK_MONOTONIC
  return tonumber(ts.sec) + tonumber(ts.nsec) * 1e-9
end

-- ---- node references inside step arguments ----
local Ref = {}
function M.ref(i) return setmetatable({ i = i }, Ref) end
function M.is_ref(v) return getmetatable(v) == Ref end

-- ---- building a program on a device ----
local function nest(flat, shape)
  if #shape == 0 then return flat[1] end
  local pos = 0
  local function build(d)
    local r = {}
    for i = 1, shape[d] do
      if d == #shape then pos = pos + 1; r[i] = flat[pos] else r[i] = build(d + 1) end
    end
    return r
  end
  return build(1)
end

local function resolve(v, nodes)
  if M.is_ref(v) then
    local t = nodes[v.i]
    if t == nil then error("program: node t" .. v.i .. " used before it is made", 0) end
    return t
  end
  return v
end

local function has_zero(shape)
  for i = 1, #shape do if shape[i] == 0 then return true end end
  return false
end

-- Runs one step on device dev; nodes[k] receives the tensor made by step k.
function M.exec(mg, step, nodes, dev)
  local T = mg.Tensor
  if step.input then
    local s = step.input
    if has_zero(s.shape) then
      nodes[step.out] = T.zeros(s.shape, { dtype = s.dtype, device = dev })
    else
      nodes[step.out] = T(nest(s.flat, s.shape), { dtype = s.dtype, device = dev })
    end
    return
  end
  if step.full then
    local s = step.full
    nodes[step.out] = T.full(s.shape, s.value, { dtype = s.dtype, device = dev })
    return
  end
  local args = {}
  for i = 1, step.nargs do args[i] = resolve(step.args[i], nodes) end
  local r
  if step.static then
    r = T[step.fn](unpack(args, 1, step.nargs))
  else
    local recv = resolve(M.ref(step.recv), nodes)
    r = recv[step.fn](recv, unpack(args, 1, step.nargs))
  end
  if step.out then nodes[step.out] = r end
end

-- Builds the whole program on dev; returns the node table.
function M.build(mg, prog, dev)
  local nodes = {}
  for _, step in ipairs(prog.steps) do M.exec(mg, step, nodes, dev) end
  return nodes
end

-- ---- printing a program as Lua ----
local function num(v)
  if v ~= v then return "0/0" end
  if v == math.huge then return "1/0" end
  if v == -math.huge then return "-1/0" end
  if v == 0 and 1 / v < 0 then return "-0.0" end
  if v == math.floor(v) and math.abs(v) < 2 ^ 53 then return string.format("%d", v) end
  return string.format("%.17g", v)
end
M.num = num

local function is_dtype(v) return type(v) == "table" and v.name and v.itemsize and v.id end

local function value(v)
  local tv = type(v)
  if M.is_ref(v) then return "t" .. v.i end
  if tv == "number" then return num(v) end
  if tv == "string" then return string.format("%q", v) end
  if tv == "boolean" or tv == "nil" then return tostring(v) end
  if is_dtype(v) then return "mg." .. v.name end
  if tv == "table" then
    local parts = {}
    for i = 1, #v do parts[i] = value(v[i]) end
    local keys = {}
    for k in pairs(v) do
      if type(k) ~= "number" or k < 1 or k > #v or k ~= math.floor(k) then keys[#keys + 1] = k end
    end
    table.sort(keys)
    for _, k in ipairs(keys) do parts[#parts + 1] = k .. " = " .. value(v[k]) end
    return "{" .. table.concat(parts, ", ") .. "}"
  end
  return tostring(v)
end
M.value = value

function M.step_code(step)
  if step.input then
    local s = step.input
    local opts = "{dtype = mg." .. s.dtype.name .. ", device = dev}"
    if has_zero(s.shape) then return string.format("local t%d = T.zeros(%s, %s)", step.out, value(s.shape), opts) end
    return string.format("local t%d = T(%s, %s)", step.out, value(nest(s.flat, s.shape)), opts)
  end
  if step.full then
    local s = step.full
    return string.format("local t%d = T.full(%s, %s, {dtype = mg.%s, device = dev})", step.out, value(s.shape), value(s.value), s.dtype.name)
  end
  local args = {}
  for i = 1, step.nargs do args[i] = value(step.args[i]) end
  local call
  if step.static then call = string.format("T.%s(%s)", step.fn, table.concat(args, ", "))
  else call = string.format("t%d:%s(%s)", step.recv, step.fn, table.concat(args, ", ")) end
  if step.out then return string.format("local t%d = %s", step.out, call) end
  return call
end

-- The ids of the nodes each step reads.
local function reads(step)
  local r = {}
  if step.recv then r[#r + 1] = step.recv end
  local function walk(v)
    if M.is_ref(v) then r[#r + 1] = v.i
    elseif type(v) == "table" and not is_dtype(v) then for _, x in pairs(v) do walk(x) end end
  end
  for i = 1, step.nargs or 0 do walk(step.args[i]) end
  return r
end

M.reads = reads

-- The program cut down to what `outputs` need (and the realize() calls on those nodes).
function M.slice(prog, outputs)
  local need = {}
  for _, o in ipairs(outputs) do need[o] = true end
  local keep = {}
  for i = #prog.steps, 1, -1 do
    local step = prog.steps[i]
    local target = step.out or step.recv
    if need[target] then
      keep[i] = true
      for _, j in ipairs(reads(step)) do need[j] = true end
    end
  end
  local steps = {}
  for i = 1, #prog.steps do if keep[i] then steps[#steps + 1] = prog.steps[i] end end
  return { steps = steps, outputs = outputs, seed = prog.seed }
end

-- A script that builds the program on `dev` and prints each output.
function M.code(prog, dev)
  local lines = {
    "local mg = require(\"moongrad\")",
    "local T = mg.Tensor",
    string.format("local dev = arg and arg[1] or %q", dev),
  }
  for _, step in ipairs(prog.steps) do lines[#lines + 1] = M.step_code(step) end
  local outs = {}
  for i, o in ipairs(prog.outputs) do outs[i] = "t" .. o end
  lines[#lines + 1] = "mg.realize(" .. table.concat(outs, ", ") .. ")"
  for _, o in ipairs(outs) do lines[#lines + 1] = string.format("print(%q, %s)", o, o) end
  return table.concat(lines, "\n")
end

return M
