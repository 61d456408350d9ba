-- GGUF files (llama.cpp's model format), read by mg.state.gguf_load. Layout, little-endian:
--   "GGUF", version (uint32: 2 or 3), tensor count (uint64), metadata count (uint64)
--   metadata: key (string), value type (uint32), value   [string = uint64 length + bytes;
--             array = element type (uint32) + count (uint64) + elements]
--   tensor infos: name (string), n_dims (uint32), dims (uint64 each, fastest-varying first),
--             ggml type (uint32), offset (uint64, from the start of the data)
--   the data, from the next multiple of general.alignment (default 32) after the infos.
-- Every count, length and offset is checked against the bytes the file has before anything is
-- allocated or read: a truncated or hostile file is an error naming the byte where it went wrong.
local ffi = require("ffi")
local T = require("moongrad.tensor")
local dtypes = require("moongrad.dtypes")
local sys = require("moongrad.sys")

local Tensor = T.Tensor
local M = {}

local MAX_DIMS = 8
local MAX_DEPTH = 4  -- arrays of arrays
local MAX_EXACT = 2 ^ 53

-- metadata value types: reader name and size in bytes (0: variable)
local value_types = {
  [0] = { "uint8_t", 1 }, [1] = { "int8_t", 1 }, [2] = { "uint16_t", 2 }, [3] = { "int16_t", 2 },
  [4] = { "uint32_t", 4 }, [5] = { "int32_t", 4 }, [6] = { "float", 4 }, [7] = { "bool", 1 },
  [8] = { "string", 8 }, [9] = { "array", 12 }, [10] = { "uint64_t", 8 }, [11] = { "int64_t", 8 },
  [12] = { "double", 8 },
}

-- ggml tensor types read here: plain dtypes, and two block-quantized ones (dequantized to
-- float32): blocks of 32 values, a float16 scale d, then the quants (Q8_0: int8 q, value
-- d*q; Q4_0: 16 bytes, element i in the low nibble of byte i, element 16+i in the high one,
-- value d*(q-8)).
local plain = { [0] = dtypes.float32, [1] = dtypes.float16, [24] = dtypes.int8, [25] = dtypes.int16,
  [26] = dtypes.int32, [27] = dtypes.int64, [28] = dtypes.float64, [30] = dtypes.bfloat16 }
local quant = { [2] = { name = "Q4_0", block = 18 }, [8] = { name = "Q8_0", block = 34 } }
local type_names = { [0] = "F32", [1] = "F16", [2] = "Q4_0", [3] = "Q4_1", [6] = "Q5_0", [7] = "Q5_1",
  [8] = "Q8_0", [9] = "Q8_1", [10] = "Q2_K", [11] = "Q3_K", [12] = "Q4_K", [13] = "Q5_K", [14] = "Q6_K",
  [15] = "Q8_K", [24] = "I8", [25] = "I16", [26] = "I32", [27] = "I64", [28] = "F64", [30] = "BF16" }

-- float16 bits -> number
local function half(bits)
  local s = bit.band(bit.rshift(bits, 15), 1) == 1 and -1 or 1
  local e, m = bit.band(bit.rshift(bits, 10), 31), bit.band(bits, 1023)
  if e == 0 then return s * m * 2 ^ -24 end
  if e == 31 then return m == 0 and s * math.huge or 0 / 0 end
  return s * (1 + m / 1024) * 2 ^ (e - 15)
end

-- A bounds-checked little-endian reader over the mapped bytes.
local Reader = {}
Reader.__index = Reader

local function reader(m, fail)
  return setmetatable({ p = m.ptr, size = m.size, pos = 0, fail = fail }, Reader)
end

function Reader:bad(what) self.fail(string.format("byte %.0f: %s", self.pos, what)) end
function Reader:need(n, what)
  if n > self.size - self.pos then self:bad("the file ends inside " .. what .. " (truncated?)") end
end
function Reader:scalar(ct, n, what)
  self:need(n, what)
  local v = ffi.cast(ct .. "*", ffi.cast("const uint8_t*", self.p) + self.pos)[0]
  self.pos = self.pos + n
  return v
end
function Reader:u32(what) return tonumber(self:scalar("uint32_t", 4, what)) end
-- a uint64 count or size, as a Lua number (exact below 2^53; larger ones are refused)
function Reader:u64(what)
  local v = self:scalar("uint64_t", 8, what)
  if v >= 2 ^ 53 then self:bad(what .. " is " .. tostring(v):gsub("ULL$", "") .. ", too large") end
  return tonumber(v)
end
function Reader:str(what)
  local n = self:u64(what .. "'s length")
  self:need(n, what)
  local s = ffi.string(ffi.cast("const char*", self.p) + self.pos, n)
  self.pos = self.pos + n
  return s
end

-- 64-bit integers beyond 2^53 stay int64/uint64 cdata (a Lua number would round them).
local function number_of(v)
  if type(v) == "cdata" then
    if v > -MAX_EXACT and v < MAX_EXACT then return tonumber(v) end
    return v
  end
  return v
end

function Reader:value(vt, what, depth)
  local t = value_types[vt]
  if not t then self:bad(what .. " has unknown value type " .. vt .. " (expected 0 to 12)") end
  local kind, size = t[1], t[2]
  if kind == "string" then return self:str(what) end
  if kind == "bool" then
    local b = self:scalar("uint8_t", 1, what)
    if b > 1 then self:bad(what .. " is a bool holding " .. b .. " (expected 0 or 1)") end
    return b == 1
  end
  if kind == "array" then
    if depth >= MAX_DEPTH then self:bad(what .. ": arrays nested more than " .. MAX_DEPTH .. " deep") end
    local et = self:u32(what .. "'s element type")
    local n = self:u64(what .. "'s element count")
    local et_info = value_types[et]
    if not et_info then self:bad(what .. " has unknown element type " .. et .. " (expected 0 to 12)") end
    -- every element takes at least its fixed size: a count the file cannot hold is refused
    -- before a table of that size is made
    if n * et_info[2] > self.size - self.pos then
      self:bad(string.format("%s claims %.0f elements, more than the %.0f bytes left can hold", what, n, self.size - self.pos))
    end
    local arr = { n = n }
    for i = 1, n do arr[i] = self:value(et, what .. "[" .. i .. "]", depth + 1) end
    return arr
  end
  local v = self:scalar(kind, size, what)
  if kind == "float" or kind == "double" then return tonumber(v) end
  return number_of(v)
end

-- Dequantizes n values of a block-quantized tensor at src into a new float32 buffer.
local function dequantize(q, src, n)
  local out = ffi.new("float[?]", math.max(n, 1))
  local u8 = ffi.cast("const uint8_t*", src)
  for b = 0, n / 32 - 1 do
    local base = u8 + b * q.block
    local d = half(base[0] + base[1] * 256)
    local o = b * 32
    if q.name == "Q8_0" then
      local qs = ffi.cast("const int8_t*", base + 2)
      for i = 0, 31 do out[o + i] = d * qs[i] end
    else
      for i = 0, 15 do
        local byte = base[2 + i]
        out[o + i] = d * (bit.band(byte, 15) - 8)
        out[o + 16 + i] = d * (bit.rshift(byte, 4) - 8)
      end
    end
  end
  return out
end

local function parse_and_load(m, path, device)
  local function fail(what) sys.fail("gguf_load", path, what) end
  if m.size < 24 then fail("the file is " .. m.size .. " bytes, shorter than a GGUF header (24)") end
  local r = reader(m, fail)
  if ffi.string(m.ptr, 4) ~= "GGUF" then fail("no GGUF magic at the start (not a GGUF file)") end
  r.pos = 4
  local version = r:u32("the version")
  if version ~= 2 and version ~= 3 then fail("GGUF version " .. version .. " is not supported (expected 2 or 3)") end
  local n_tensors = r:u64("the tensor count")
  local n_kv = r:u64("the metadata count")
  -- a key-value pair takes at least 12 bytes, a tensor info at least 24
  if n_kv * 12 + n_tensors * 24 > m.size - r.pos then
    fail(string.format("the header claims %.0f metadata entries and %.0f tensors, more than the file (%.0f bytes) can hold",
      n_kv, n_tensors, m.size))
  end
  local metadata = {}
  for i = 1, n_kv do
    local key = r:str("metadata key " .. i)
    if metadata[key] ~= nil then r:bad("metadata key \"" .. key .. "\" appears twice") end
    metadata[key] = r:value(r:u32("the value type of \"" .. key .. "\""), "metadata \"" .. key .. "\"", 0)
  end
  local alignment = metadata["general.alignment"] or 32
  if type(alignment) ~= "number" or alignment < 1 or alignment ~= math.floor(alignment) or alignment > 2 ^ 20 then
    fail("general.alignment is " .. tostring(alignment) .. ", expected an integer from 1 to 2^20")
  end

  local infos, seen = {}, {}
  for i = 1, n_tensors do
    local name = r:str("tensor " .. i .. "'s name")
    if seen[name] then r:bad("tensor \"" .. name .. "\" appears twice") end
    seen[name] = true
    local nd = r:u32("the dims of \"" .. name .. "\"")
    if nd > MAX_DIMS then r:bad("tensor \"" .. name .. "\" has " .. nd .. " dims, at most " .. MAX_DIMS .. " are supported") end
    local dims, numel = {}, 1
    for j = 1, nd do
      dims[j] = r:u64("dim " .. j .. " of \"" .. name .. "\"")
      numel = numel * dims[j]
      if numel >= MAX_EXACT then r:bad("tensor \"" .. name .. "\" has more than 2^53 elements") end
    end
    local gt = r:u32("the type of \"" .. name .. "\"")
    local offset = r:u64("the offset of \"" .. name .. "\"")
    local dt, q = plain[gt], quant[gt]
    if not dt and not q then
      r:bad(string.format("tensor \"%s\" has ggml type %d%s, which gguf_load does not read (it reads F32, F16, BF16, F64, I8-I64, Q8_0, Q4_0)",
        name, gt, type_names[gt] and " (" .. type_names[gt] .. ")" or ""))
    end
    if q and numel % 32 ~= 0 then r:bad(string.format("%s tensor \"%s\" has %.0f values, not whole blocks of 32", q.name, name, numel)) end
    if offset % alignment ~= 0 then r:bad(string.format("tensor \"%s\" starts at offset %.0f, not a multiple of the alignment %d", name, offset, alignment)) end
    local shape = {}
    for j = 1, nd do shape[j] = dims[nd + 1 - j] end  -- GGUF lists the fastest-varying dim first
    infos[i] = { name = name, shape = shape, numel = numel, dt = dt, q = q, offset = offset,
      nbytes = q and numel / 32 * q.block or numel * dt.itemsize }
  end
  local data = math.ceil(r.pos / alignment) * alignment
  local out = {}
  for _, e in ipairs(infos) do
    local first = data + e.offset
    if first + e.nbytes > m.size then
      fail(string.format("tensor \"%s\" needs bytes [%.0f, %.0f), past the end of the file (%.0f bytes)", e.name, first, first + e.nbytes, m.size))
    end
    local src = m.ptr + first
    local ok, t
    if e.q then
      local vals = dequantize(e.q, src, e.numel)
      ok, t = pcall(Tensor.from_ptr, vals, e.shape, dtypes.float32, { device = device })
    else
      ok, t = pcall(Tensor.from_ptr, src, e.shape, e.dt, { device = device })
    end
    if not ok then fail("cannot make tensor \"" .. e.name .. "\": " .. tostring(t)) end
    out[e.name] = t
  end
  return out, metadata
end

-- gguf_load(path, opts) -> tensors (name -> Tensor), metadata (key -> value: numbers, strings,
-- booleans, arrays as tables with n; 64-bit integers past 2^53 as int64/uint64 cdata).
-- opts.device: where the tensors go. Q8_0 and Q4_0 tensors arrive dequantized as float32.
function M.gguf_load(path, opts)
  if type(path) ~= "string" then error("gguf_load: path must be a string, got " .. type(path), 2) end
  local device = opts and opts.device or ""
  if type(device) ~= "string" then error("gguf_load: opts.device must be a string, got " .. type(device), 2) end
  local ok, m = pcall(sys.map_file, path, "gguf_load")
  if not ok then error(m, 2) end
  local ok2, tensors, metadata = pcall(parse_and_load, m, path, device)
  m:close()
  if not ok2 then error(tensors, 2) end
  return tensors, metadata
end

M.half = half
return M
