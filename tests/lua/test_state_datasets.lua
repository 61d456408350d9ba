-- mg.datasets.fashion_mnist: the real files (skipped when not installed), then small IDX
-- files crafted here, gzip-compressed with zlib, one for each error the loader reports.
-- The file's name sorts after test_memory.lua on purpose: holding the 55 MB data set while
-- the front end's collector check runs raises its threshold (twice what was held at the
-- last collection) for the rest of the process, even after the tensors are freed, and
-- test_memory.lua measures the peak memory of a loop against a fixed bound.
local ffi = require("ffi")
local mg = require("moongrad")
local sys = require("moongrad.sys")
local datasets = mg.datasets

pcall(ffi.cdef, "char* mkdtemp(char* template);")
pcall(ffi.cdef, "int rmdir(const char* path);")

local REAL = datasets.FASHION_MNIST_DIR

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end


local function be32(n)
  return string.char(math.floor(n / 2 ^ 24) % 256, math.floor(n / 2 ^ 16) % 256, math.floor(n / 256) % 256, n % 256)
end

-- IDX bytes: n images of rows x cols with pixel (i, j) = (7 i + j) % 256 (0-based), and labels.
local function images_idx(n, rows, cols, magic, extra)
  local parts = { be32(magic or 2051), be32(n), be32(rows or 28), be32(cols or 28) }
  local px = {}
  for i = 0, n - 1 do
    for j = 0, (rows or 28) * (cols or 28) - 1 do px[#px + 1] = string.char((7 * i + j) % 256) end
  end
  parts[#parts + 1] = table.concat(px)
  return table.concat(parts) .. (extra or "")
end

local function labels_idx(list, magic, count)
  local b = {}
  for i, v in ipairs(list) do b[i] = string.char(v) end
  return be32(magic or 2049) .. be32(count or #list) .. table.concat(b)
end

local function write(path, bytes)
  local f = assert(io.open(path, "wb"))
  f:write(bytes)
  f:close()
end

-- A temporary directory holding the four files (gzip-compressed unless raw[name] is set);
-- files maps a short name (train_images, ...) to its bytes, a false value leaves it out.
local NAMES = { train_images = "train-images-idx3-ubyte", train_labels = "train-labels-idx1-ubyte",
                test_images = "t10k-images-idx3-ubyte", test_labels = "t10k-labels-idx1-ubyte" }

local function make_dir(files, raw)
  local tmpl = ffi.new("char[?]", 32, "/tmp/mg_datasets_XXXXXX")
  assert(ffi.C.mkdtemp(tmpl) ~= nil, "mkdtemp failed")
  local dir = ffi.string(tmpl)
  local written = {}
  for short, name in pairs(NAMES) do
    local bytes = files[short]
    if bytes then
      local path = dir .. "/" .. name .. ((raw and raw[short]) and "" or ".gz")
      write(path, (raw and raw[short]) and bytes or sys.gzip(bytes))
      written[#written + 1] = path
    end
  end
  return dir, function()
    for _, p in ipairs(written) do os.remove(p) end
    ffi.C.rmdir(dir)
  end
end

local function good_files()
  return { train_images = images_idx(3), train_labels = labels_idx({ 0, 9, 4 }),
           test_images = images_idx(2), test_labels = labels_idx({ 5, 1 }) }
end

-- Loads a directory built from good_files() with `changes` applied; returns the error.
local function load_error(t, changes, pattern, raw)
  local files = good_files()
  for k, v in pairs(changes) do files[k] = v end
  local dir, cleanup = make_dir(files, raw)
  local ok, err = pcall(datasets.fashion_mnist, dir)
  cleanup()
  t.truthy(not ok, "expected an error matching " .. pattern)
  err = tostring(err)
  t.truthy(err:find(pattern), "error " .. err .. " does not match " .. pattern)
  t.truthy(err:find("fashion_mnist: '" .. dir, 1, true), "error names the file: " .. err)
  return err
end

return {
  ["fashion_mnist: the installed files: shapes, dtypes, label range, known values"] = function(t)
    if not exists(REAL .. "/train-images-idx3-ubyte.gz") then
      t.skip(REAL .. " is not installed (Debian package dataset-fashion-mnist)")
    end
    local d = datasets.fashion_mnist()
    t.eq(d.train_images.shape, { 60000, 1, 28, 28 })
    t.eq(d.train_images.dtype, mg.uint8)
    t.eq(d.train_labels.shape, { 60000 })
    t.eq(d.train_labels.dtype, mg.int32)
    t.eq(d.test_images.shape, { 10000, 1, 28, 28 })
    t.eq(d.test_images.dtype, mg.uint8)
    t.eq(d.test_labels.shape, { 10000 })
    t.eq(d.test_labels.dtype, mg.int32)
    t.eq(d.train_labels:min():item(), 1)
    t.eq(d.train_labels:max():item(), 10)
    t.eq(d.test_labels:min():item(), 1)
    t.eq(d.test_labels:max():item(), 10)
    t.eq(#d.classes, 10)
    t.eq(d.classes[10], "Ankle boot")
    -- values worked out once from the .gz files with Python's gzip and struct modules
    t.eq(d.train_labels[{ { 1, 5 } }]:tolist(), { 10, 1, 1, 4, 1 })   -- file: 9 0 0 3 0
    t.eq(d.test_labels[{ { 1, 5 } }]:tolist(), { 10, 3, 2, 2, 7 })
    t.eq(d.test_labels[{ { -3, -1 } }]:tolist(), { 9, 2, 6 })
    t.eq(d.train_images[1]:sum():item(), 76247)
    t.eq(d.train_images[{ 1, 1, 15, 15 }]:item(), 217)
    t.eq(d.train_images[1]:max():item(), 255)
    t.eq(d.test_images[1]:sum():item(), 33456)
    t.eq(d.test_images[-1]:sum():item(), 24390)
    t.eq(d.test_images:sum():item(), 573469082)
    for k = 1, 10 do
      t.eq(d.test_labels:eq(k):sum():item(), 1000, "test images of class " .. k)
    end
    -- 55 MB: released now rather than whenever the collector gets to it (later tests
    -- measure memory)
    for _, x in pairs({ d.train_images, d.train_labels, d.test_images, d.test_labels }) do x:free() end
  end,

  ["fashion_mnist: crafted files load with the layout and 1-based labels"] = function(t)
    local dir, cleanup = make_dir(good_files())
    local d = datasets.fashion_mnist(dir .. "/")
    cleanup()
    t.eq(d.train_images.shape, { 3, 1, 28, 28 })
    t.eq(d.test_images.shape, { 2, 1, 28, 28 })
    t.eq(d.train_labels:tolist(), { 1, 10, 5 })
    t.eq(d.test_labels:tolist(), { 6, 2 })
    t.eq(d.train_images[{ 1, 1, 1, { 1, 4 } }]:tolist(), { 0, 1, 2, 3 })
    t.eq(d.train_images[{ 3, 1, 2, 1 }]:item(), (7 * 2 + 28) % 256)
    t.eq(d.test_images[{ 2, 1, 28, 28 }]:item(), (7 + 783) % 256)
  end,

  ["fashion_mnist: uncompressed files, multi-member gzip and opts.device"] = function(t)
    local files = good_files()
    local dir, cleanup = make_dir(files, { train_images = true, test_labels = true })
    local d = datasets.fashion_mnist(dir, { device = "REF" })
    cleanup()
    t.eq(d.train_images.device, "REF")
    t.eq(d.test_labels:tolist(), { 6, 2 })
    t.eq(d.train_images[{ 2, 1, 1, 2 }]:item(), 8)
    -- two gzip members back to back are one stream, as gzip -d reads them
    local lbl = files.train_labels
    dir, cleanup = make_dir(files)
    write(dir .. "/train-labels-idx1-ubyte.gz", sys.gzip(lbl:sub(1, 5)) .. sys.gzip(lbl:sub(6)))
    d = datasets.fashion_mnist(dir)
    cleanup()
    t.eq(d.train_labels:tolist(), { 1, 10, 5 })
  end,

  ["fashion_mnist bad: a missing file or directory"] = function(t)
    local err = load_error(t, { test_labels = false }, "t10k%-labels%-idx1%-ubyte.gz': file not found")
    t.truthy(err:find("dataset-fashion-mnist", 1, true), err)
    t.raises(function() datasets.fashion_mnist("/nonexistent/dir") end,
      "fashion_mnist: '/nonexistent/dir/train%-images%-idx3%-ubyte.gz': file not found")
    t.raises(function() datasets.fashion_mnist(42) end, "dir must be a string")
  end,

  ["fashion_mnist bad: corrupt, truncated or non-gzip data"] = function(t)
    local files = good_files()
    local gz = sys.gzip(files.train_images)
    -- a flipped byte in the middle of the compressed data
    local mid = math.floor(#gz / 2)
    local flipped = gz:sub(1, mid - 1) .. string.char((gz:byte(mid) + 128) % 256) .. gz:sub(mid + 1)
    local dir, cleanup = make_dir(files)
    local path = dir .. "/train-images-idx3-ubyte.gz"
    write(path, flipped)
    t.raises(function() datasets.fashion_mnist(dir) end, "'" .. path:gsub("%p", "%%%0") .. "': corrupt gzip data")
    -- cut short: inside the deflate data, and inside the 8-byte trailer
    write(path, gz:sub(1, #gz - 20))
    t.raises(function() datasets.fashion_mnist(dir) end, "'" .. path:gsub("%p", "%%%0") .. "': the gzip data ends early")
    write(path, gz:sub(1, #gz - 3))
    t.raises(function() datasets.fashion_mnist(dir) end, "the gzip data ends early")
    -- a wrong CRC in the trailer
    local crc = gz:sub(1, #gz - 8) .. string.char((gz:byte(#gz - 7) + 1) % 256) .. gz:sub(#gz - 6)
    write(path, crc)
    t.raises(function() datasets.fashion_mnist(dir) end, "corrupt gzip data %(incorrect data check%)")
    -- not gzip at all (the raw IDX bytes under the .gz name), and an empty file
    write(path, files.train_images)
    t.raises(function() datasets.fashion_mnist(dir) end, "corrupt gzip data %(incorrect header check%)")
    write(path, "")
    t.raises(function() datasets.fashion_mnist(dir) end, "the file is empty")
    -- garbage after a complete gzip member
    write(path, gz .. "garbage!")
    t.raises(function() datasets.fashion_mnist(dir) end, "bytes after the end of the gzip stream are not another gzip member")
    cleanup()
  end,

  ["fashion_mnist bad: magic numbers, image size, counts, labels"] = function(t)
    load_error(t, { train_images = images_idx(3, 28, 28, 2049) },
      "train%-images%-idx3%-ubyte.gz': bad magic number 2049 %(0x00000801%), expected 2051 %(0x00000803%): not an IDX image file")
    load_error(t, { test_labels = labels_idx({ 1, 2 }, 2051) }, "t10k%-labels%-idx1%-ubyte.gz': bad magic number 2051")
    load_error(t, { train_images = images_idx(3, 32, 32) }, "images are 32x32, expected 28x28")
    load_error(t, { train_labels = labels_idx({ 1, 2 }) }, "train%-labels%-idx1%-ubyte.gz': holds 2 labels, but .*/train%-images%-idx3%-ubyte.gz holds 3 images")
    load_error(t, { test_labels = labels_idx({ 1, 10 }) }, "label 10 of element 2 is out of range %(expected 0..9%)")
    load_error(t, { train_images = "\0\0\8\3\0\0" }, "truncated: 6 bytes, shorter than the 16%-byte IDX header")
  end,

  ["fashion_mnist bad: data shorter or longer than the header says"] = function(t)
    local short = images_idx(3):sub(1, 16 + 2 * 784 + 100)
    load_error(t, { train_images = short }, "truncated: 1668 bytes of data after the header, which promises 3x28x28 %(2352 bytes%)")
    load_error(t, { test_labels = labels_idx({ 1, 2 }, nil, 5) }, "truncated: 2 bytes of data after the header, which promises 5")
    load_error(t, { train_images = images_idx(3, 28, 28, nil, "x") }, "more data than the header's 3x28x28 %(2352 bytes%) promises")
    -- a count no file of this size can hold is refused before any memory is asked for
    load_error(t, { train_images = "\0\0\8\3\255\255\255\255\0\0\0\28\0\0\0\28" },
      "the header promises 4294967295x28x28 %(3367254359280 bytes%), more than a file of this size can hold")
    load_error(t, { test_labels = "\0\0\8\1\0\0\1\0" .. string.rep("\1", 200) }, "truncated: 200 bytes of data after the header, which promises 256 %(256 bytes%)",
      { test_labels = true })
    load_error(t, { train_images = short }, "truncated", { train_images = true })
  end,
}
