-- mg.state: tensors to and from files. safetensors (https://huggingface.co/docs/safetensors):
--   8 bytes: N, the header's length, little-endian unsigned
--   N bytes: a JSON object { name = { dtype = "F32", shape = {..}, data_offsets = {begin, end} },
--            "__metadata__" = { string = string } (optional) }, may be padded with spaces
--   the data: every tensor's bytes, row-major, little-endian, at [begin, end) of this region.
-- Reading maps the file (mmap) and hands each tensor's bytes straight to the engine, which
-- copies them once into a device buffer. docs/state.md lists what is checked.
local ffi = require("ffi")
local T = require("moongrad.tensor")
local dtypes = require("moongrad.dtypes")
local json = require("moongrad.json")
local sys = require("moongrad.sys")
local core = require("moongrad.core")

local C, ctx = core.C, core.ctx
local Tensor = T.Tensor

local M = {}

-- safetensors dtype codes <-> moongrad dtypes
local codes = {
  BOOL = dtypes.bool, I8 = dtypes.int8, I16 = dtypes.int16, I32 = dtypes.int32, I64 = dtypes.int64,
  U8 = dtypes.uint8, U16 = dtypes.uint16, U32 = dtypes.uint32, U64 = dtypes.uint64,
  F16 = dtypes.float16, BF16 = dtypes.bfloat16, F32 = dtypes.float32, F64 = dtypes.float64,
}
local code_of = {}
for code, dt in pairs(codes) do code_of[dt] = code end
M.dtype_codes = codes

local MAX_HEADER = 100 * 1000 * 1000  -- 100 MB, safetensors' own limit
local MAX_DIMS = 64
local MAX_EXACT = 2 ^ 53              -- integers past this are not exact as Lua numbers

local function is_int(v) return type(v) == "number" and v == math.floor(v) and v >= 0 and v <= MAX_EXACT end

local function list_str(a)
  local parts = {}
  for i = 1, (a.n or #a) do
    local v = a[i]
    parts[i] = type(v) == "number" and (v == math.floor(v) and math.abs(v) <= MAX_EXACT and string.format("%.0f", v) or tostring(v))
      or type(v) == "string" and string.format("%q", v) or (v == nil or v == json.null) and "null" or tostring(v)
  end
  return "[" .. table.concat(parts, ", ") .. "]"
end

local is_array, is_object = json.is_array, json.is_object

-- One header entry, checked: returns { name, dt, shape, begin, finish }.
local function check_entry(name, e, data_size, fail)
  if not is_object(e) then fail("entry \"" .. name .. "\" is not a JSON object") end
  for k in pairs(e) do
    if k ~= "dtype" and k ~= "shape" and k ~= "data_offsets" then
      fail("entry \"" .. name .. "\" has an unknown key \"" .. tostring(k) .. "\" (expected dtype, shape, data_offsets)")
    end
  end
  local code = e.dtype
  if type(code) ~= "string" then fail("entry \"" .. name .. "\" has no dtype string") end
  local dt = codes[code]
  if not dt then
    fail("tensor \"" .. name .. "\" has unsupported dtype \"" .. code .. "\" (expected one of BOOL, I8, I16, I32, I64, U8, U16, U32, U64, F16, BF16, F32, F64)")
  end
  local shape = e.shape
  if not is_array(shape) then fail("tensor \"" .. name .. "\" has no shape array") end
  if shape.n > MAX_DIMS then fail("tensor \"" .. name .. "\" has " .. shape.n .. " dims, at most " .. MAX_DIMS .. " are supported") end
  local numel = 1
  for i = 1, shape.n do
    if not is_int(shape[i]) then
      fail("tensor \"" .. name .. "\" has shape " .. list_str(shape) .. ": dim " .. i .. " is not an integer >= 0 (and below 2^53)")
    end
    numel = numel * shape[i]
  end
  local off = e.data_offsets
  if not is_array(off) or off.n ~= 2 or not is_int(off[1]) or not is_int(off[2]) then
    fail("tensor \"" .. name .. "\" has data_offsets " .. (is_array(off) and list_str(off) or tostring(off))
      .. ", expected [begin, end], integers >= 0")
  end
  local b, f = off[1], off[2]
  if f < b then fail("tensor \"" .. name .. "\" has data_offsets " .. list_str(off) .. " with end before begin") end
  if f > data_size then
    fail(string.format("tensor \"%s\" has data_offsets %s past the end of the data (%.0f bytes after the header)",
      name, list_str(off), data_size))
  end
  local need = numel * dt.itemsize
  if need ~= f - b then
    fail(string.format("tensor \"%s\": data_offsets %s hold %.0f bytes, its shape %s of %s needs %.0f",
      name, list_str(off), f - b, list_str(shape), code, need))
  end
  local s = {}
  for i = 1, shape.n do s[i] = shape[i] end
  return { name = name, dt = dt, shape = s, begin = b, finish = f, code = code }
end

-- The tensors' byte ranges must tile the data region: no overlap, no gap, nothing after.
local function check_layout(entries, data_size, fail)
  local sorted = {}
  for i, e in ipairs(entries) do sorted[i] = e end
  table.sort(sorted, function(x, y)
    if x.begin ~= y.begin then return x.begin < y.begin end
    if x.finish ~= y.finish then return x.finish < y.finish end
    return x.name < y.name
  end)
  local pos, prev = 0, nil
  for _, e in ipairs(sorted) do
    if e.begin < pos then
      fail(string.format("tensors \"%s\" and \"%s\" overlap (bytes [%.0f, %.0f) and [%.0f, %.0f))",
        prev.name, e.name, prev.begin, prev.finish, e.begin, e.finish))
    elseif e.begin > pos then
      fail(string.format("bytes [%.0f, %.0f) of the data belong to no tensor (a gap before \"%s\")", pos, e.begin, e.name))
    end
    pos, prev = e.finish, e
  end
  if pos ~= data_size then
    fail(string.format("bytes [%.0f, %.0f) at the end of the data belong to no tensor", pos, data_size))
  end
end

-- Checks the mapped file; returns its tensors (unless header_only) and its metadata.
local function parse_and_load(m, path, device, op, header_only)
  local function fail(what) sys.fail(op, path, what) end
  if m.size < 8 then fail("the file is " .. m.size .. " bytes, shorter than the 8-byte header length") end
  local p = m.ptr
  local n = ffi.new("uint64_t", 0)
  for i = 7, 0, -1 do n = n * 256 + p[i] end
  if n > MAX_HEADER then
    fail("header length " .. tostring(n):gsub("ULL$", "") .. " is larger than the limit of " .. MAX_HEADER .. " bytes")
  end
  n = tonumber(n)
  if 8 + n > m.size then
    fail(string.format("header length %d is larger than the file (%.0f bytes, so at most %.0f)", n, m.size, m.size - 8))
  end
  local text = ffi.string(p + 8, n)
  local ok, header = pcall(json.decode, text, function(key, depth, pos)
    if depth == 1 then fail("the header names \"" .. key .. "\" twice (at byte " .. pos .. " of the header)") end
    fail("the header repeats key \"" .. key .. "\" in one object (at byte " .. pos .. " of the header)")
  end)
  if not ok then
    if header:find("^" .. op .. ": ") then error(header, 0) end
    fail("the header is not valid JSON (" .. header .. ")")
  end
  if not is_object(header) then fail("the header is not a JSON object") end

  local meta = header.__metadata__
  local metadata = {}
  if meta ~= nil then
    if not is_object(meta) then fail("__metadata__ is not a JSON object") end
    for k, v in pairs(meta) do
      if type(v) ~= "string" then fail("__metadata__ value of \"" .. k .. "\" is not a string") end
      metadata[k] = v
    end
  end

  local data_size = m.size - 8 - n
  local names = {}
  for name in pairs(header) do
    if name ~= "__metadata__" then names[#names + 1] = name end
  end
  table.sort(names)
  local entries = {}
  for i, name in ipairs(names) do entries[i] = check_entry(name, header[name], data_size, fail) end
  check_layout(entries, data_size, fail)
  if header_only then return nil, metadata end

  local data = p + 8 + n
  local out = {}
  for _, e in ipairs(entries) do
    local src = data + e.begin
    if e.dt == dtypes.bool then
      for i = 0, e.finish - e.begin - 1 do
        if src[i] > 1 then
          fail(string.format("BOOL tensor \"%s\" holds byte %d at element %d (expected 0 or 1)", e.name, src[i], i + 1))
        end
      end
    end
    local ok2, t = pcall(Tensor.from_ptr, src, e.shape, e.dt, { device = device })
    if not ok2 then fail("cannot make tensor \"" .. e.name .. "\": " .. tostring(t)) end
    out[e.name] = t
  end
  return out, metadata
end

local function read_file(op, path, opts, header_only)
  if type(path) ~= "string" then error(op .. ": path must be a string, got " .. type(path), 3) end
  local device = opts and opts.device or ""
  if type(device) ~= "string" then error(op .. ": opts.device must be a string, got " .. type(device), 3) end
  local ok, m = pcall(sys.map_file, path, op)
  if not ok then error(m, 3) end
  local ok2, tensors, metadata = pcall(parse_and_load, m, path, device, op, header_only)
  m:close()
  if not ok2 then error(tensors, 3) end
  return tensors, metadata
end

-- safe_load(path, opts) -> { name = Tensor }. opts.device: where the tensors go (the default
-- device if absent). One return value, so that nn.load_state_dict(model, safe_load(path))
-- passes no extra argument.
function M.safe_load(path, opts)
  local tensors = read_file("safe_load", path, opts, false)
  return tensors
end

-- safe_metadata(path) -> the file's __metadata__ (a table string -> string, empty if none),
-- after the same checks as safe_load (no tensor is made).
function M.safe_metadata(path)
  local _, metadata = read_file("safe_metadata", path, nil, true)
  return metadata
end

-- safe_save(tensors, path, metadata): tensors is a flat table name -> Tensor (names are
-- strings; "__metadata__" is reserved); metadata an optional table string -> string. The
-- file is written beside path and renamed over it when complete.
function M.safe_save(tensors, path, metadata)
  local function bad(what) error("safe_save: " .. what, 3) end
  if type(path) ~= "string" or path == "" then bad("path must be a non-empty string, got " .. tostring(path)) end
  if type(tensors) ~= "table" or T.is_tensor(tensors) then bad("expected a table name -> Tensor, got " .. type(tensors)) end
  local list = {}
  for name, t in pairs(tensors) do
    if type(name) ~= "string" then bad("tensor names must be strings, got the " .. type(name) .. " key " .. tostring(name)) end
    if name == "__metadata__" then bad("\"__metadata__\" is reserved for metadata and cannot name a tensor") end
    if not T.is_tensor(t) then
      bad("\"" .. name .. "\" is a " .. type(t) .. ", expected a Tensor (a flat table name -> Tensor; nested tables are not walked)")
    end
    list[#list + 1] = { name = name, t = t, dt = t.dtype, shape = t.shape }
  end
  if metadata ~= nil then
    if type(metadata) ~= "table" then bad("metadata must be a table string -> string, got " .. type(metadata)) end
    for k, v in pairs(metadata) do
      if type(k) ~= "string" or type(v) ~= "string" then
        bad("metadata must map strings to strings, got " .. type(k) .. " -> " .. type(v))
      end
    end
  end
  -- Widest dtypes first, then by name: with the data region starting 8-aligned, every tensor
  -- starts at a multiple of its itemsize (safetensors' own writer orders them this way).
  table.sort(list, function(a, b)
    if a.dt.itemsize ~= b.dt.itemsize then return a.dt.itemsize > b.dt.itemsize end
    return a.name < b.name
  end)
  local header, pos = {}, 0
  for _, e in ipairs(list) do
    local nbytes = T.numel(e.shape) * e.dt.itemsize
    e.begin, e.nbytes = pos, nbytes
    header[e.name] = { dtype = code_of[e.dt], shape = e.shape, data_offsets = { pos, pos + nbytes } }
    pos = pos + nbytes
  end
  if metadata and next(metadata) then header.__metadata__ = metadata end
  local text = next(header) and json.encode(header) or "{}"
  text = text .. string.rep(" ", (8 - (8 + #text) % 8) % 8)

  -- one schedule for everything that is still lazy, in batches (unpack has a limit)
  for i = 1, #list, 512 do
    local batch = {}
    for j = i, math.min(i + 511, #list) do batch[#batch + 1] = list[j].t end
    local ok, err = pcall(T.realize, unpack(batch))
    if not ok then bad("cannot compute the tensors to save: " .. tostring(err)) end
  end

  local okw, w = pcall(sys.open_write, path, "safe_save")
  if not okw then error(w, 2) end
  local ok, err = pcall(function()
    local len = {}
    local n = #text
    for i = 1, 8 do len[i] = string.char(n % 256); n = math.floor(n / 256) end
    w:write(table.concat(len), 8)
    w:write(text, #text)
    for _, e in ipairs(list) do
      if e.nbytes > 0 then
        local buf = sys.alloc(e.nbytes)
        local status = C.mg_tensor_copyout(ctx, e.t.h, buf, e.nbytes)
        if status ~= 0 then
          sys.fail("safe_save", path, "cannot read tensor \"" .. e.name .. "\": " .. ffi.string(C.mg_last_error(ctx)))
        end
        w:write(buf, e.nbytes)
      end
    end
  end)
  if not ok then
    w:abort()
    error(err, 2)
  end
  w:commit()
end

-- gguf_load(path, opts) -> tensors, metadata: llama.cpp's GGUF files (gguf.lua).
M.gguf_load = require("moongrad.gguf").gguf_load

return M
