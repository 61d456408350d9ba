-- mg.datasets: small standard data sets read from local files (nothing is downloaded).
-- fashion_mnist(dir, opts) reads the IDX files of Fashion-MNIST as Debian's
-- dataset-fashion-mnist installs them. docs/state.md lists what is checked.
local ffi = require("ffi")
local T = require("moongrad.tensor")
local dtypes = require("moongrad.dtypes")
local sys = require("moongrad.sys")

local Tensor = T.Tensor

local M = {}

M.FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
M.FASHION_MNIST_CLASSES = { "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                            "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot" }

local IMAGES_MAGIC, LABELS_MAGIC = 2051, 2049  -- 0x00000803 (uint8, 3 dims), 0x00000801 (uint8, 1 dim)
local ROWS, COLS = 28, 28
local OP = "fashion_mnist"

local function file_exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

-- A byte source over a whole file: the gzip stream of name.gz, or name itself when only the
-- uncompressed file is there. :read(dst, n) -> bytes read; :at_end(); :close().
local Plain = {}
Plain.__index = Plain
function Plain:read(dst, n)
  local k = math.min(n, self.m.size - self.pos)
  if k > 0 then ffi.copy(dst, self.m.ptr + self.pos, k) end
  self.pos = self.pos + k
  return k
end
function Plain:at_end() return self.pos >= self.m.size end
function Plain:close() self.m:close() end

local function open_source(dir, name)
  local gz, raw = dir .. "/" .. name .. ".gz", dir .. "/" .. name
  local path, zipped = gz, true
  if not file_exists(gz) then
    if not file_exists(raw) then
      sys.fail(OP, gz, "file not found (nor " .. raw .. "); install Debian's dataset-fashion-mnist or pass the directory that holds the IDX files")
    end
    path, zipped = raw, false
  end
  local m = sys.map_file(path, OP)
  if not zipped then return setmetatable({ m = m, pos = 0, max_output = m.size }, Plain), path end
  if m.size == 0 then
    m:close()
    sys.fail(OP, path, "the file is empty (expected gzip data)")
  end
  local ok, inf = pcall(sys.inflater, m.ptr, m.size, OP, path)
  if not ok then m:close(); error(inf, 0) end
  local close = inf.close
  -- the mapping must outlive the inflater, which reads from it
  function inf:close() close(self); m:close() end
  -- deflate expands at most about 1032:1, so a header promising more cannot be right
  inf.max_output = m.size * 1032 + 1024
  return inf, path
end

local function be32(b, at)
  return ((b[at] * 256 + b[at + 1]) * 256 + b[at + 2]) * 256 + b[at + 3]
end

-- Reads one IDX file: returns a malloc'ed buffer with the payload, its length, the header's
-- dims and the path read. magic and ndim are what the file must declare.
local function read_idx(dir, name, magic, ndim)
  local src, path = open_source(dir, name)
  local ok, a, b, c = pcall(function()
    local hlen = 4 + 4 * ndim
    local head = ffi.new("uint8_t[?]", hlen)
    local got = src:read(head, hlen)
    if got < hlen then
      sys.fail(OP, path, "truncated: " .. got .. " bytes, shorter than the " .. hlen .. "-byte IDX header")
    end
    local found = be32(head, 0)
    if found ~= magic then
      sys.fail(OP, path, string.format("bad magic number %d (0x%08x), expected %d (0x%08x): not an IDX %s file",
        found, found, magic, magic, ndim == 1 and "label" or "image"))
    end
    local dims, count = {}, 1
    for i = 1, ndim do
      dims[i] = be32(head, 4 * i)
      count = count * dims[i]
    end
    if ndim == 3 and (dims[2] ~= ROWS or dims[3] ~= COLS) then
      sys.fail(OP, path, string.format("images are %dx%d, expected %dx%d", dims[2], dims[3], ROWS, COLS))
    end
    if count > src.max_output - hlen then
      if getmetatable(src) == Plain then
        sys.fail(OP, path, string.format("truncated: %.0f bytes of data after the header, which promises %s (%.0f bytes)",
          src.m.size - hlen, table.concat(dims, "x"), count))
      end
      sys.fail(OP, path, string.format("the header promises %s (%.0f bytes), more than a file of this size can hold",
        table.concat(dims, "x"), count))
    end
    local okb, buf = pcall(sys.alloc, count)
    if not okb then sys.fail(OP, path, buf) end
    got = src:read(buf, count)
    if got < count then
      sys.fail(OP, path, string.format("truncated: %d bytes of data after the header, which promises %s (%d bytes)",
        got, table.concat(dims, "x"), count))
    end
    if not src:at_end() then
      sys.fail(OP, path, string.format("more data than the header's %s (%d bytes) promises", table.concat(dims, "x"), count))
    end
    return buf, count, dims
  end)
  src:close()
  if not ok then error(a, 0) end
  return a, b, c, path
end

local function load_split(dir, prefix, device)
  local img_name, lbl_name = prefix .. "-images-idx3-ubyte", prefix .. "-labels-idx1-ubyte"
  local img, _, idims, img_path = read_idx(dir, img_name, IMAGES_MAGIC, 3)
  local lbl, n, _, lbl_path = read_idx(dir, lbl_name, LABELS_MAGIC, 1)
  if idims[1] ~= n then
    sys.fail(OP, lbl_path, string.format("holds %d labels, but %s holds %d images", n, img_path, idims[1]))
  end
  -- labels 0..9 in the file, 1-based int32 here
  local labels = ffi.new("int32_t[?]", math.max(n, 1))
  for i = 0, n - 1 do
    local v = lbl[i]
    if v > 9 then
      sys.fail(OP, lbl_path, string.format("label %d of element %d is out of range (expected 0..9)", v, i + 1))
    end
    labels[i] = v + 1
  end
  local images = Tensor.from_ptr(img, { n, 1, ROWS, COLS }, dtypes.uint8, { device = device })
  return images, Tensor.from_ptr(labels, { n }, dtypes.int32, { device = device })
end

-- fashion_mnist(dir, opts) -> { train_images = uint8 {60000, 1, 28, 28}, train_labels = int32
-- {60000} (1-based classes, 1..10), test_images = uint8 {10000, 1, 28, 28}, test_labels =
-- int32 {10000}, classes = the ten class names }. dir defaults to Debian's install directory;
-- each file may be gzip-compressed (name.gz, preferred) or not (name). opts.device: where the
-- tensors go.
function M.fashion_mnist(dir, opts)
  if type(dir) == "table" and opts == nil then dir, opts = nil, dir end
  dir = dir or M.FASHION_MNIST_DIR
  if type(dir) ~= "string" then error(OP .. ": dir must be a string, got " .. type(dir), 2) end
  local device = opts and opts.device or ""
  if type(device) ~= "string" then error(OP .. ": opts.device must be a string, got " .. type(device), 2) end
  dir = dir:gsub("/+$", "")
  if dir == "" then dir = "/" end
  local ok, r = pcall(function()
    local d = {}
    d.train_images, d.train_labels = load_split(dir, "train", device)
    d.test_images, d.test_labels = load_split(dir, "t10k", device)
    d.classes = {}
    for i, c in ipairs(M.FASHION_MNIST_CLASSES) do d.classes[i] = c end
    return d
  end)
  if not ok then error(r, 2) end
  return r
end

return M
