-- mg.state: safetensors round trips for every dtype (bit-exact), a file laid out by hand,
-- and one crafted bad file for each check of docs/state.md. Also the JSON reader/writer.
local ffi = require("ffi")
local mg = require("moongrad")
local core = require("moongrad.core")
local json = require("moongrad.json")
local Tensor = mg.Tensor
local state = mg.state

-- The bytes of a tensor exactly as its buffer holds them (no conversion to Lua numbers).
local function raw(t)
  local n = t:numel() * t.dtype.itemsize
  local buf = ffi.new("uint8_t[?]", math.max(n, 1))
  assert(core.C.mg_tensor_copyout(core.ctx, t.h, buf, n) == 0, "copyout failed")
  return ffi.string(buf, n)
end

local function tmpfile()
  local p = os.tmpname()
  return p
end

local function write_file(path, bytes)
  local f = assert(io.open(path, "wb"))
  f:write(bytes)
  f:close()
end

local function read_file(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

-- little-endian bytes of an unsigned integer (exact below 2^53)
local function le(n, width)
  local b = {}
  for i = 1, width do b[i] = string.char(n % 256); n = math.floor(n / 256) end
  return table.concat(b)
end

-- A safetensors file from a header text and data bytes.
local function st_bytes(header, data)
  return le(#header, 8) .. header .. (data or "")
end

-- Writes a crafted file, runs safe_load on it, returns the error (which must name the file).
local function load_error(t, bytes, pattern)
  local path = tmpfile()
  write_file(path, bytes)
  local err = t.raises(function() state.safe_load(path) end, pattern)
  os.remove(path)
  t.truthy(err:find(path, 1, true), "error names the file: " .. err)
  t.truthy(err:find("safe_load", 1, true), "error names the op: " .. err)
  return err
end

-- One tensor per dtype, from bit patterns that include the awkward values: extremes of
-- every integer width, NaN (with a payload and negative), +-inf, -0, subnormals, max.
local function every_dtype()
  local function from(ctype, dt, values, shape)
    local arr = ffi.new(ctype .. "[?]", #values, values)
    return Tensor.from_ptr(arr, shape or { #values }, dt)
  end
  local u64 = function(hi, lo) return ffi.new("uint64_t", hi) * 4294967296ULL + lo end
  return {
    bool = from("uint8_t", mg.bool, { 1, 0, 0, 1, 1, 0 }, { 2, 3 }),
    i8 = from("int8_t", mg.int8, { -128, 127, 0, -1, 5 }),
    u8 = from("uint8_t", mg.uint8, { 0, 255, 1, 128 }),
    i16 = from("int16_t", mg.int16, { -32768, 32767, 0, -1 }),
    u16 = from("uint16_t", mg.uint16, { 0, 65535, 256 }),
    i32 = from("int32_t", mg.int32, { -2147483648, 2147483647, 0, -1 }, { 2, 2 }),
    u32 = from("uint32_t", mg.uint32, { 0, 4294967295, 65536 }),
    i64 = from("int64_t", mg.int64, { -9223372036854775807LL - 1, 9223372036854775807LL, 0, -1, 2 ^ 53 + 1 }),
    u64 = from("uint64_t", mg.uint64, { 0, 18446744073709551615ULL, u64(1, 5) }),
    -- float16 bits: NaN, -NaN with payload, inf, -inf, -0, smallest subnormal, max, 1
    f16 = from("uint16_t", mg.float16, { 0x7e00, 0xfe01, 0x7c00, 0xfc00, 0x8000, 0x0001, 0x7bff, 0x3c00 }),
    bf16 = from("uint16_t", mg.bfloat16, { 0x7fc0, 0xffc1, 0x7f80, 0xff80, 0x8000, 0x0001, 0x7f7f, 0x3f80 }),
    f32 = from("uint32_t", mg.float32, { 0x7fc00000, 0xffc00123, 0x7f800000, 0xff800000, 0x80000000, 0x00000001, 0x7f7fffff, 0x3fc00000 }),
    f64 = from("uint64_t", mg.float64, { u64(0x7ff80000, 0), u64(0xfff80000, 77), u64(0x7ff00000, 0), u64(0xfff00000, 0),
                                         u64(0x80000000, 0), u64(0, 1), u64(0x7fefffff, 0xffffffff), u64(0x3ff80000, 0) }),
  }
end

return {
  ["safe_save/safe_load round-trip every dtype bit for bit"] = function(t)
    local src = every_dtype()
    local path = tmpfile()
    state.safe_save(src, path)
    local got, second = state.safe_load(path)
    t.eq(second, nil, "safe_load returns one value")
    t.eq(state.safe_metadata(path), {})
    os.remove(path)
    local n = 0
    for name, x in pairs(src) do
      n = n + 1
      local y = got[name]
      t.truthy(y, "tensor " .. name .. " is in the file")
      t.eq(y.dtype, x.dtype, name)
      t.eq(y.shape, x.shape, name)
      t.eq(raw(y), raw(x), name .. " bytes")
    end
    for name in pairs(got) do t.truthy(src[name], "no extra tensor " .. name) end
    t.eq(n, 13, "every dtype of API.md")
  end,

  ["float specials and integer extremes read back as values"] = function(t)
    local path = tmpfile()
    state.safe_save(every_dtype(), path)
    local got = state.safe_load(path)
    os.remove(path)
    for _, name in ipairs({ "f16", "bf16", "f32", "f64" }) do
      local v = got[name]:tolist()
      t.truthy(v[1] ~= v[1] and v[2] ~= v[2], name .. " NaN")
      t.eq(v[3], math.huge, name .. " inf")
      t.eq(v[4], -math.huge, name .. " -inf")
      t.eq(1 / v[5], -math.huge, name .. " -0 keeps its sign")
      t.truthy(v[6] > 0 and v[6] < 1e-7, name .. " subnormal")
    end
    t.eq(got.f16:tolist()[7], 65504)
    t.eq(got.f32:tolist()[8], 1.5)
    t.eq(got.bool:totable(), { { true, false, false }, { true, true, false } })
    t.eq(got.i8:tolist(), { -128, 127, 0, -1, 5 })
    t.eq(got.u32:tolist(), { 0, 4294967295, 65536 })
    t.eq(got.i32:totable(), { { -2147483648, 2147483647 }, { 0, -1 } })
  end,

  ["scalars, empty tensors, lazy views and metadata round-trip"] = function(t)
    local path = tmpfile()
    local view = Tensor.arange(6):reshape(2, 3).T            -- lazy, not contiguous
    state.safe_save({
      scalar = Tensor(3.25),
      empty = Tensor.zeros(0, 3),
      view = view,
      ["name with \"quotes\", \\ and ünïcode"] = Tensor({ 1, 2 }, { dtype = mg.int16 }),
      n = Tensor{ 5 },   -- JSON arrays carry a field n: an object with key "n" is still an object
      ["1"] = Tensor{ 6 },
    }, path, { format = "pt", note = "line\nbreak" })
    local got, meta = state.safe_load(path), state.safe_metadata(path)
    os.remove(path)
    t.eq(got.scalar.shape, {})
    t.eq(got.scalar:item(), 3.25)
    t.eq(got.empty.shape, { 0, 3 })
    t.eq(got.view:totable(), { { 0, 3 }, { 1, 4 }, { 2, 5 } })
    t.eq(got["name with \"quotes\", \\ and ünïcode"]:tolist(), { 1, 2 })
    t.eq(got.n:tolist(), { 5 })
    t.eq(got["1"]:tolist(), { 6 })
    t.eq(meta, { format = "pt", note = "line\nbreak" })
  end,

  ["an empty table saves a valid file"] = function(t)
    local path = tmpfile()
    state.safe_save({}, path)
    local got = state.safe_load(path)
    os.remove(path)
    t.eq(next(got), nil)
  end,

  ["the file has the standard layout: aligned header, tensors widest first"] = function(t)
    local path = tmpfile()
    state.safe_save({ a = Tensor({ 1, 2, 3 }, { dtype = mg.uint8 }), b = Tensor({ 1.5 }, { dtype = mg.float64 }),
                      c = Tensor({ 7 }, { dtype = mg.int32 }) }, path)
    local bytes = read_file(path)
    os.remove(path)
    local n = 0
    for i = 8, 1, -1 do n = n * 256 + bytes:byte(i) end
    t.eq((8 + n) % 8, 0, "data starts 8-aligned")
    local header = json.decode(bytes:sub(9, 8 + n))
    t.eq(header.b.data_offsets, { 0, 8, n = 2 })
    t.eq(header.c.data_offsets, { 8, 12, n = 2 })
    t.eq(header.a.data_offsets, { 12, 15, n = 2 })
    t.eq(header.a.dtype, "U8")
    t.eq(header.b.shape, { 1, n = 1 })
    t.eq(#bytes, 8 + n + 15)
    t.eq(bytes:sub(8 + n + 1, 8 + n + 8), "\0\0\0\0\0\0\248\63", "1.5 as little-endian float64")
    t.eq(bytes:sub(-3), "\1\2\3")
  end,

  ["a file written by hand reads as the format says"] = function(t)
    -- keys in any order, newlines and a space-padded header are all legal
    local header = '{"w": {"shape": [2], "dtype": "F32", "data_offsets": [0, 8]},\n'
      .. ' "__metadata__": {"format": "pt"},\n'
      .. ' "i": {"data_offsets": [8, 14], "dtype": "I16", "shape": [1, 3]},\n'
      .. ' "s": {"dtype": "BF16", "shape": [], "data_offsets": [14, 16]}}'
    header = header .. string.rep(" ", 11)
    local data = "\0\0\128\63" .. "\0\0\32\192"  -- float32 1.0, -2.5
      .. "\1\0" .. "\254\255" .. "\44\1"           -- int16 1, -2, 300
      .. "\64\64"                                  -- bfloat16 3.0 (0x4040)
    local path = tmpfile()
    write_file(path, st_bytes(header, data))
    local got, meta = state.safe_load(path), state.safe_metadata(path)
    os.remove(path)
    t.eq(got.w.dtype, mg.float32)
    t.eq(got.w:tolist(), { 1, -2.5 })
    t.eq(got.i.dtype, mg.int16)
    t.eq(got.i:totable(), { { 1, -2, 300 } })
    t.eq(got.s.dtype, mg.bfloat16)
    t.eq(got.s:item(), 3)
    t.eq(meta, { format = "pt" })
  end,

  ["safe_load puts tensors on opts.device"] = function(t)
    local path = tmpfile()
    state.safe_save({ x = Tensor{ 1, 2 } }, path)
    local got = state.safe_load(path, { device = "REF" })
    os.remove(path)
    t.eq(got.x.device, "REF")
    t.eq(got.x:tolist(), { 1, 2 })
  end,

  ["bad: the file is missing, empty, a directory or shorter than 8 bytes"] = function(t)
    t.raises(function() state.safe_load("/nonexistent/dir/x.safetensors") end, "safe_load: '/nonexistent/dir/x.safetensors': cannot open")
    load_error(t, "", "the file is 0 bytes, shorter than the 8%-byte header length")
    load_error(t, "\2\0\0\0\0", "the file is 5 bytes, shorter than the 8%-byte header length")
    t.raises(function() state.safe_load("/tmp") end, "safe_load: '/tmp': ")
    t.raises(function() state.safe_load(nil) end, "safe_load: path must be a string")
  end,

  ["bad: safe_metadata runs the same checks"] = function(t)
    local path = tmpfile()
    write_file(path, st_bytes('{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}', "\0\0\0\0"))
    t.raises(function() state.safe_metadata(path) end, "safe_metadata: '" .. path:gsub("%p", "%%%0") .. "': tensor \"a\": data_offsets")
    os.remove(path)
  end,

  ["bad: header length past the file or absurdly large"] = function(t)
    load_error(t, le(100, 8) .. "{}", "header length 100 is larger than the file %(10 bytes, so at most 2%)")
    load_error(t, le(2 ^ 40, 8) .. "{}", "header length 1099511627776 is larger than the limit of 100000000 bytes")
    load_error(t, string.rep("\255", 8) .. "{}", "header length 18446744073709551615 is larger than the limit")
    load_error(t, le(100000001, 8) .. "{}", "is larger than the limit")
  end,

  ["bad: the header is not JSON, or not an object"] = function(t)
    load_error(t, st_bytes('{"a": '), "the header is not valid JSON %(at byte 7: expected a JSON value, found the end")
    load_error(t, st_bytes('{"a": {}} x'), "not valid JSON %(at byte 11: unexpected 'x' after the JSON value")
    load_error(t, st_bytes('{"a\1": 1}'), "not valid JSON .*control character")
    load_error(t, st_bytes("\0\0\0\0"), "not valid JSON")
    load_error(t, st_bytes('[1, 2]'), "the header is not a JSON object")
    load_error(t, st_bytes('"x"'), "the header is not a JSON object")
    load_error(t, st_bytes('{"__metadata__": {"a": 1}}'), "__metadata__ value of \"a\" is not a string")
    load_error(t, st_bytes('{"__metadata__": [1]}'), "__metadata__ is not a JSON object")
    load_error(t, st_bytes('{"a": 1}'), "entry \"a\" is not a JSON object")
    load_error(t, st_bytes(string.rep("[", 1000) .. string.rep("]", 1000)), "nested deeper than 128")
  end,

  ["bad: unknown dtype, or an entry with a missing or unknown key"] = function(t)
    load_error(t, st_bytes('{"a": {"dtype": "F8_E4M3", "shape": [1], "data_offsets": [0, 1]}}', "\0"),
      "tensor \"a\" has unsupported dtype \"F8_E4M3\" %(expected one of BOOL")
    load_error(t, st_bytes('{"a": {"dtype": "f32", "shape": [1], "data_offsets": [0, 4]}}', "\0\0\0\0"), "unsupported dtype \"f32\"")
    load_error(t, st_bytes('{"a": {"shape": [1], "data_offsets": [0, 4]}}', "\0\0\0\0"), "entry \"a\" has no dtype string")
    load_error(t, st_bytes('{"a": {"dtype": "F32", "data_offsets": [0, 4]}}', "\0\0\0\0"), "tensor \"a\" has no shape array")
    load_error(t, st_bytes('{"a": {"dtype": "F32", "shape": [1]}}', "\0\0\0\0"), "data_offsets nil, expected %[begin, end%]")
    load_error(t, st_bytes('{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4], "x": 1}}', "\0\0\0\0"),
      "entry \"a\" has an unknown key \"x\"")
  end,

  ["bad: shape with negative, fractional or non-number dims"] = function(t)
    local function shape(s) return st_bytes('{"a": {"dtype": "U8", "shape": ' .. s .. ', "data_offsets": [0, 4]}}', "\0\0\0\0") end
    load_error(t, shape('{"n": 1, "1": 4}'), "tensor \"a\" has no shape array")
    load_error(t, shape("[-1, -4]"), "tensor \"a\" has shape %[%-1, %-4%]: dim 1 is not an integer >= 0")
    load_error(t, shape("[2, 1.5]"), "shape %[2, 1.5%]: dim 2 is not an integer >= 0")
    load_error(t, shape('["4"]'), "shape %[\"4\"%]: dim 1 is not an integer")
    load_error(t, shape("[null]"), "dim 1 is not an integer")
    load_error(t, shape("[1e300, 1e300]"), "dim 1 is not an integer")
    load_error(t, shape("4"), "has no shape array")
  end,

  ["bad: data_offsets out of the file, wrong size, overlapping or not covering the data"] = function(t)
    local function one(off, data)
      return st_bytes('{"a": {"dtype": "F32", "shape": [2], "data_offsets": ' .. off .. '}}', data)
    end
    local eight = string.rep("\0", 8)
    load_error(t, one("[0, 100]", eight), "data_offsets %[0, 100%] past the end of the data %(8 bytes after the header%)")
    load_error(t, one("[8, 16]", eight), "past the end of the data")
    load_error(t, one("[0, 4]", eight), "data_offsets %[0, 4%] hold 4 bytes, its shape %[2%] of F32 needs 8")
    load_error(t, one("[4, 0]", eight), "with end before begin")
    load_error(t, one("[-8, 0]", eight), "expected %[begin, end%], integers >= 0")
    load_error(t, one("[0]", eight), "expected %[begin, end%]")
    load_error(t, one("[0, 8.5]", eight), "expected %[begin, end%]")
    load_error(t, one("[0, 8]", eight .. "\0"), "bytes %[8, 9%) at the end of the data belong to no tensor")
    load_error(t, one("[4, 12]", string.rep("\0", 12)), "bytes %[0, 4%) of the data belong to no tensor %(a gap before \"a\"%)")
    load_error(t, st_bytes('{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},'
      .. ' "b": {"dtype": "I32", "shape": [2], "data_offsets": [4, 12]}}', string.rep("\0", 12)),
      "tensors \"a\" and \"b\" overlap %(bytes %[0, 8%) and %[4, 12%)%)")
    load_error(t, st_bytes('{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},'
      .. ' "b": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}', eight), "overlap")
  end,

  ["bad: duplicate names, repeated keys, BOOL bytes other than 0 and 1"] = function(t)
    local e = '{"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}'
    load_error(t, st_bytes('{"a": ' .. e .. ', "a": ' .. e .. '}', "\0"), "the header names \"a\" twice")
    load_error(t, st_bytes('{"a": {"dtype": "U8", "dtype": "U8", "shape": [1], "data_offsets": [0, 1]}}', "\0"),
      "repeats key \"dtype\"")
    load_error(t, st_bytes('{"a": {"dtype": "BOOL", "shape": [3], "data_offsets": [0, 3]}}', "\1\0\2"),
      "BOOL tensor \"a\" holds byte 2 at element 3 %(expected 0 or 1%)")
  end,

  ["bad: random corruptions of a valid file load or raise a safe_load error, never crash"] = function(t)
    local path = tmpfile()
    state.safe_save({ a = Tensor{ { 1.5, 2 }, { 3, 4 } }, b = Tensor({ 1, 2, 3 }, { dtype = mg.int16 }),
                      c = Tensor({ true, false }) }, path, { k = "v" })
    local good = read_file(path)
    local seed = 12345
    local function rnd(n)  -- a small LCG: the same cases on every run
      seed = (seed * 1103515245 + 12345) % 2147483648
      return seed % n + 1
    end
    local loaded, refused = 0, 0
    for _ = 1, 400 do
      local bytes = good
      for _ = 1, rnd(3) do
        local at, how = rnd(#bytes), rnd(4)
        if how == 1 then     -- change a byte (mostly in the header, where the checks are)
          at = rnd(math.min(#bytes, 140))
          bytes = bytes:sub(1, at - 1) .. string.char(rnd(256) - 1) .. bytes:sub(at + 1)
        elseif how == 2 then -- cut the file
          bytes = bytes:sub(1, at - 1)
        elseif how == 3 then -- drop a byte
          bytes = bytes:sub(1, at - 1) .. bytes:sub(at + 1)
        else                 -- add a byte
          bytes = bytes:sub(1, at) .. string.char(rnd(256) - 1) .. bytes:sub(at + 1)
        end
      end
      write_file(path, bytes)
      local ok, err = pcall(state.safe_load, path)
      if ok then
        loaded = loaded + 1
      else
        refused = refused + 1
        t.truthy(tostring(err):find("safe_load: '" .. path, 1, true), "error names the op and the file: " .. tostring(err))
      end
    end
    os.remove(path)
    t.truthy(refused > 300, "most corruptions are refused (" .. refused .. " of 400)")
  end,

  ["bad: safe_save arguments"] = function(t)
    local path = tmpfile()
    t.raises(function() state.safe_save({ a = 1 }, path) end, "safe_save: \"a\" is a number, expected a Tensor")
    t.raises(function() state.safe_save({ a = { b = Tensor{ 1 } } }, path) end, "nested tables are not walked")
    t.raises(function() state.safe_save({ Tensor{ 1 } }, path) end, "tensor names must be strings, got the number key 1")
    t.raises(function() state.safe_save({ __metadata__ = Tensor{ 1 } }, path) end, "reserved")
    t.raises(function() state.safe_save(Tensor{ 1 }, path) end, "expected a table name %-> Tensor")
    t.raises(function() state.safe_save({}, path, { a = 1 }) end, "metadata must map strings to strings")
    t.raises(function() state.safe_save({}, nil) end, "path must be a non%-empty string")
    t.raises(function() state.safe_save({ a = Tensor{ 1 } }, "/nonexistent/dir/x.st") end,
      "safe_save: '/nonexistent/dir/x.st': cannot create")
    os.remove(path)
  end,

  ["safe_save replaces a file only once it is complete"] = function(t)
    local path = tmpfile()
    state.safe_save({ a = Tensor{ 1 } }, path)
    state.safe_save({ b = Tensor{ 2, 3 } }, path)
    local got = state.safe_load(path)
    os.remove(path)
    t.eq(got.a, nil)
    t.eq(got.b:tolist(), { 2, 3 })
  end,

  ["json: decode values, escapes and surrogate pairs; encode round-trips"] = function(t)
    local v = json.decode(' {"a": [1, -2.5e3, 0, true, false, null, "x"], "b": {}, "c": "\\u00e9\\ud83d\\ude00\\n\\"\\/"} ')
    t.eq(v.a.n, 7)
    t.eq(v.a[1], 1)
    t.eq(v.a[2], -2500)
    t.eq(v.a[4], true)
    t.eq(v.a[5], false)
    t.eq(v.a[6], nil)
    t.eq(v.a[7], "x")
    t.eq(v.c, "\195\169\240\159\152\128\n\"/")
    t.eq(json.decode(json.encode({ x = { 1, 2, 3 }, y = "q\"\\\1", z = {} })), { x = { 1, 2, 3, n = 3 }, y = "q\"\\\1", z = { n = 0 } })
    t.eq(json.encode({ b = 1, a = { 2 ^ 40, 0.5 } }), '{"a":[1099511627776,0.5],"b":1}')
    t.eq(json.encode(json.decode('{"n": [1, null, {"n": 2}]}')), '{"n":[1,null,{"n":2}]}')
    t.raises(function() json.decode("01") end, "at byte 2")
    t.raises(function() json.decode("1.") end, "expected a digit after '.'")
    t.raises(function() json.decode('"\\ud800"') end, "without its low surrogate")
    t.raises(function() json.decode('"\\x"') end, "unknown escape")
    t.raises(function() json.decode('"abc') end, "unterminated string")
    t.raises(function() json.decode("{1: 2}") end, "expected a string key")
    t.raises(function() json.decode("tru") end, "expected a JSON value")
    t.raises(function() json.encode({ 0 / 0 }) end, "no JSON form")
  end,
}
