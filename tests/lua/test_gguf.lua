-- mg.state.gguf_load: files written here byte by byte (a small GGUF writer), read back with
-- their metadata of every value type, plain and quantized tensors, and one crafted bad file
-- per check (truncations at every byte included).
local mg = require("moongrad")
local state = mg.state

local tmp = os.getenv("TMPDIR") or "/tmp"
local function path_of(name) return string.format("%s/moongrad_test_%d_%s.gguf", tmp, os.time(), name) end

-- ---- writer ----
local function le(v, n)  -- n-byte little-endian unsigned (v < 2^53)
  local b = {}
  for i = 1, n do b[i] = string.char(v % 256); v = math.floor(v / 256) end
  return table.concat(b)
end
local function str(s) return le(#s, 8) .. s end
local function f32(x) local f = require("ffi").new("float[1]", x); return require("ffi").string(f, 4) end
local function f64(x) local f = require("ffi").new("double[1]", x); return require("ffi").string(f, 8) end
local function i32(x) return le(x < 0 and x + 2 ^ 32 or x, 4) end

-- header + metadata (list of raw {key, type, bytes}) + tensor infos + aligned data
local function gguf(opts)
  local parts = { "GGUF", le(opts.version or 3, 4), le(#opts.tensors, 8), le(#opts.kv, 8) }
  for _, kv in ipairs(opts.kv) do parts[#parts + 1] = str(kv[1]) .. le(kv[2], 4) .. kv[3] end
  local data, offs = {}, {}
  local pos = 0
  for i, t in ipairs(opts.tensors) do
    pos = math.ceil(pos / 32) * 32
    offs[i] = pos
    data[#data + 1] = { pos = pos, bytes = t.bytes }
    pos = pos + #t.bytes
  end
  for i, t in ipairs(opts.tensors) do
    local dims = {}
    for j = #t.shape, 1, -1 do dims[#dims + 1] = le(t.shape[j], 8) end  -- fastest-varying first
    parts[#parts + 1] = str(t.name) .. le(#t.shape, 4) .. table.concat(dims) .. le(t.type, 4) .. le(t.offset or offs[i], 8)
  end
  local head = table.concat(parts)
  local body = {}
  local at = 0
  for _, d in ipairs(data) do
    body[#body + 1] = string.rep("\0", d.pos - at) .. d.bytes
    at = d.pos + #d.bytes
  end
  return head .. string.rep("\0", (32 - #head % 32) % 32) .. table.concat(body)
end

local function write(name, bytes)
  local p = path_of(name)
  local f = assert(io.open(p, "wb"))
  f:write(bytes)
  f:close()
  return p
end

local function floats(list) local b = {} for i, x in ipairs(list) do b[i] = f32(x) end return table.concat(b) end

-- a Q8_0 block: scale 0.5 (float16 0x3800), quants -16..15
local function q8_block()
  local b = { le(0x3800, 2) }
  for i = 0, 31 do b[#b + 1] = string.char((i - 16) % 256) end
  return table.concat(b)
end
-- a Q4_0 block: scale 2 (0x4000); byte i holds element i (low) = i and element 16+i (high) = 15-i
local function q4_block()
  local b = { le(0x4000, 2) }
  for i = 0, 15 do b[#b + 1] = string.char(i + 16 * (15 - i)) end
  return table.concat(b)
end

local function good_file()
  return gguf({
    kv = {
      { "general.name", 8, str("tiny") },
      { "u8", 0, le(200, 1) }, { "i8", 1, le(256 - 5, 1) }, { "u16", 2, le(60000, 2) }, { "i16", 3, le(65536 - 7, 2) },
      { "u32", 4, le(4000000000, 4) }, { "i32", 5, i32(-123456) }, { "f32", 6, f32(0.25) }, { "yes", 7, "\1" },
      { "u64", 10, le(2 ^ 40, 8) }, { "i64", 11, "\254" .. string.rep("\255", 7) }, { "big", 10, string.rep("\255", 8) }, { "f64", 12, f64(-1.5) },
      { "ids", 9, le(5, 4) .. le(3, 8) .. i32(1) .. i32(-2) .. i32(3) },
      { "words", 9, le(8, 4) .. le(2, 8) .. str("a") .. str("bc") },
    },
    tensors = {
      { name = "w", shape = { 2, 3 }, type = 0, bytes = floats({ 1, 2, 3, 4, 5, 6 }) },
      { name = "h", shape = { 2 }, type = 1, bytes = le(0x3c00, 2) .. le(0xc000, 2) },  -- 1, -2
      { name = "idx", shape = { 3 }, type = 26, bytes = i32(7) .. i32(-8) .. i32(9) },
      { name = "q8", shape = { 32 }, type = 8, bytes = q8_block() },
      { name = "q4", shape = { 2, 32 }, type = 2, bytes = q4_block() .. q4_block() },
    },
  })
end

local function raises_on(t, name, bytes, pattern)
  local p = write(name, bytes)
  local err = t.raises(function() state.gguf_load(p) end, pattern)
  os.remove(p)
  t.truthy(err:find("gguf_load", 1, true) and err:find(p, 1, true), "the error names the op and the file: " .. err)
end

return {
  ["gguf_load reads metadata of every type and F32, F16, I32, Q8_0, Q4_0 tensors"] = function(t)
    local p = write("good", good_file())
    local ts, meta = state.gguf_load(p)
    os.remove(p)
    t.eq(meta["general.name"], "tiny")
    t.eq({ meta.u8, meta.i8, meta.u16, meta.i16, meta.u32, meta.i32, meta.f32, meta.yes, meta.u64, meta.f64 },
      { 200, -5, 60000, -7, 4000000000, -123456, 0.25, true, 2 ^ 40, -1.5 })
    t.eq(meta.i64, -2)
    t.eq(type(meta.big), "cdata", "a uint64 past 2^53 stays exact")
    t.truthy(meta.big == 0xffffffffffffffffULL)
    t.eq({ meta.ids[1], meta.ids[2], meta.ids[3], meta.ids.n }, { 1, -2, 3, 3 })
    t.eq({ meta.words[1], meta.words[2] }, { "a", "bc" })
    t.eq(ts.w.shape, { 2, 3 })
    t.eq(ts.w:totable(), { { 1, 2, 3 }, { 4, 5, 6 } })
    t.eq(ts.h.dtype, mg.float16)
    t.eq(ts.h:totable(), { 1, -2 })
    t.eq(ts.idx:totable(), { 7, -8, 9 })
    local q8 = ts.q8:totable()
    for i = 1, 32 do t.eq(q8[i], 0.5 * (i - 17)) end
    local q4 = ts.q4:totable()
    t.eq(ts.q4.dtype, mg.float32)
    for r = 1, 2 do
      for i = 0, 15 do
        t.eq(q4[r][i + 1], 2 * (i - 8))
        t.eq(q4[r][17 + i], 2 * (15 - i - 8))
      end
    end
  end,

  ["gguf_load: a truncated file is an error at every length, never a crash"] = function(t)
    local bytes = good_file()
    local p = path_of("cut")
    for n = 0, #bytes - 1, 7 do
      local f = assert(io.open(p, "wb"))
      f:write(bytes:sub(1, n))
      f:close()
      local ok, err = pcall(state.gguf_load, p)
      t.truthy(not ok and tostring(err):find("gguf_load", 1, true), "cut at " .. n .. ": " .. tostring(err))
    end
    os.remove(p)
  end,

  ["gguf_load: bad magic, version, counts, types, offsets and values name what is wrong"] = function(t)
    local one = { { name = "w", shape = { 2 }, type = 0, bytes = floats({ 1, 2 }) } }
    raises_on(t, "magic", "GGUX" .. good_file():sub(5), "no GGUF magic")
    raises_on(t, "version", gguf({ version = 1, kv = {}, tensors = one }), "version 1 is not supported")
    raises_on(t, "counts", "GGUF" .. le(3, 4) .. le(2 ^ 40, 8) .. le(2 ^ 40, 8) .. string.rep("\0", 64), "more than the file")
    raises_on(t, "type", gguf({ kv = {}, tensors = { { name = "k", shape = { 32 }, type = 12, bytes = string.rep("\0", 144) } } }),
      "ggml type 12 %(Q4_K%)")
    raises_on(t, "blocks", gguf({ kv = {}, tensors = { { name = "q", shape = { 16 }, type = 8, bytes = q8_block() } } }),
      "not whole blocks of 32")
    raises_on(t, "past", gguf({ kv = {}, tensors = { { name = "w", shape = { 2 }, type = 0, bytes = floats({ 1, 2 }), offset = 4096 } } }),
      "past the end of the file")
    raises_on(t, "align", gguf({ kv = {}, tensors = { { name = "w", shape = { 2 }, type = 0, bytes = floats({ 1, 2 }), offset = 4 } } }),
      "not a multiple of the alignment")
    raises_on(t, "vtype", gguf({ kv = { { "x", 13, "" } }, tensors = one }), "unknown value type 13")
    raises_on(t, "bool", gguf({ kv = { { "b", 7, "\2" } }, tensors = one }), "bool holding 2")
    raises_on(t, "array", gguf({ kv = { { "a", 9, le(4, 4) .. le(2 ^ 50, 8) } }, tensors = one }), "claims")
    raises_on(t, "dup", gguf({ kv = { { "k", 4, le(1, 4) }, { "k", 4, le(2, 4) } }, tensors = one }), "appears twice")
    raises_on(t, "align_kv", gguf({ kv = { { "general.alignment", 4, le(0, 4) } }, tensors = one }), "general.alignment is 0")
    t.raises(function() state.gguf_load(tmp .. "/no/such/file.gguf") end, "cannot open")
    t.raises(function() state.gguf_load(42) end, "path must be a string")
  end,
}
