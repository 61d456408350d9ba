-- Files and zlib through the LuaJIT FFI, for state.lua and datasets.lua. Internal: not part
-- of the user API. Linux (glibc) constants; every failure is a Lua error that starts with the
-- caller's op name and the file's path.
local ffi = require("ffi")

local M = {}

-- Each declaration on its own, in a pcall: another module of this Lua state may have
-- declared the same libc function already, and a second cdef of a name is an error.
local decls = {
  "int open(const char* path, int flags, ...);",
  "int close(int fd);",
  "int64_t lseek(int fd, int64_t offset, int whence);",
  "void* mmap(void* addr, size_t length, int prot, int flags, int fd, int64_t offset);",
  "int munmap(void* addr, size_t length);",
  "char* strerror(int errnum);",
  "void* malloc(size_t size);",
  "void free(void* p);",
  "int64_t write(int fd, const void* buf, size_t count);",
  "int64_t pread(int fd, void* buf, size_t count, int64_t offset);",
  "int fsync(int fd);",
  "int rename(const char* from, const char* to);",
  "int unlink(const char* path);",
  "int getpid(void);",
}
for _, d in ipairs(decls) do pcall(ffi.cdef, d) end

local C = ffi.C
local O_RDONLY, O_WRONLY, O_CREAT, O_TRUNC, O_CLOEXEC = 0, 1, 64, 512, 524288
local SEEK_END = 2
local PROT_READ, MAP_PRIVATE = 1, 2
local EINTR = 4
local MAP_FAILED = ffi.cast("void*", -1)

local function errno_str()
  return ffi.string(C.strerror(ffi.errno()))
end

-- "op: 'path': what" (the path quoted so that spaces and empty names show).
local function fail(op, path, what)
  error(string.format("%s: '%s': %s", op, path, what), 0)
end
M.fail = fail

-- ---- reading: a read-only private mapping of a whole file ----
local Mapping = {}
Mapping.__index = Mapping

-- Maps path read-only. Returns { ptr = const uint8_t*, size = bytes, path = path } with
-- :close(), which unmaps (also done by the collector if close is never called). An empty file
-- has size 0 and ptr nil (mmap refuses length 0).
function M.map_file(path, op)
  if type(path) ~= "string" then error(op .. ": path must be a string, got " .. type(path), 0) end
  local fd = C.open(path, O_RDONLY + O_CLOEXEC)
  if fd < 0 then fail(op, path, "cannot open (" .. errno_str() .. ")") end
  -- a directory opens, but cannot be read (and lseek gives it a meaningless size)
  local probe = ffi.new("uint8_t[1]")
  if C.pread(fd, probe, 1, 0) < 0 then
    local e = errno_str()
    C.close(fd)
    fail(op, path, "cannot read (" .. e .. ")")
  end
  local size = tonumber(C.lseek(fd, 0, SEEK_END))
  if size < 0 then
    local e = errno_str()
    C.close(fd)
    fail(op, path, "cannot find its size (" .. e .. "; a directory or a pipe?)")
  end
  local m = setmetatable({ path = path, size = size }, Mapping)
  if size > 0 then
    local p = C.mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
    local e = errno_str()
    C.close(fd)
    if p == MAP_FAILED then fail(op, path, "cannot map " .. size .. " bytes (" .. e .. ")") end
    -- The collector's handle: unmaps if the mapping is dropped without close().
    m.base = ffi.gc(ffi.cast("uint8_t*", p), function(q) C.munmap(q, size) end)
    m.ptr = ffi.cast("const uint8_t*", m.base)
  else
    C.close(fd)
  end
  return m
end

function Mapping:close()
  if self.base ~= nil then
    local q = self.base
    self.base, self.ptr = nil, nil
    ffi.gc(q, nil)
    C.munmap(q, self.size)
  end
end

-- ---- writing: to a temporary name beside path, renamed over path once complete ----
local Writer = {}
Writer.__index = Writer

local tmp_counter = 0
function M.open_write(path, op)
  if type(path) ~= "string" or path == "" then error(op .. ": path must be a non-empty string, got " .. tostring(path), 0) end
  tmp_counter = tmp_counter + 1
  local tmp = string.format("%s.tmp%d.%d", path, C.getpid(), tmp_counter)
  local fd = C.open(tmp, O_WRONLY + O_CREAT + O_TRUNC + O_CLOEXEC, ffi.cast("int", 420))  -- 0644
  if fd < 0 then fail(op, path, "cannot create " .. tmp .. " (" .. errno_str() .. ")") end
  return setmetatable({ fd = fd, tmp = tmp, path = path, op = op }, Writer)
end

-- Writes n bytes from ptr (a cdata pointer or a Lua string).
function Writer:write(ptr, n)
  local p = ffi.cast("const uint8_t*", ptr)
  local done = 0
  while done < n do
    local w = tonumber(C.write(self.fd, p + done, math.min(n - done, 2 ^ 30)))
    if w < 0 then
      if ffi.errno() ~= EINTR then
        local e = errno_str()
        self:abort()
        fail(self.op, self.path, "write failed (" .. e .. ")")
      end
    else
      done = done + w
    end
  end
end

-- Drops the temporary file (after an error).
function Writer:abort()
  if self.fd then C.close(self.fd); self.fd = nil end
  C.unlink(self.tmp)
end

function Writer:commit()
  local ok = C.fsync(self.fd) == 0
  local e = ok and "" or errno_str()
  ok = (C.close(self.fd) == 0) and ok
  self.fd = nil
  if not ok then
    C.unlink(self.tmp)
    fail(self.op, self.path, "cannot finish writing (" .. (e ~= "" and e or errno_str()) .. ")")
  end
  if C.rename(self.tmp, self.path) ~= 0 then
    local e2 = errno_str()
    C.unlink(self.tmp)
    fail(self.op, self.path, "cannot rename the finished file into place (" .. e2 .. ")")
  end
end

-- Heap memory that is not zero-filled (ffi.new zero-fills, which costs time on big buffers),
-- freed by the collector.
function M.alloc(n)
  local p = C.malloc(math.max(n, 1))
  if p == nil then error("out of memory allocating " .. n .. " bytes", 0) end
  return ffi.gc(ffi.cast("uint8_t*", p), C.free)
end

-- ---- zlib ----
local zdecl = [[
typedef struct moongrad_z_stream {
  const uint8_t* next_in; unsigned int avail_in; unsigned long total_in;
  uint8_t* next_out; unsigned int avail_out; unsigned long total_out;
  const char* msg; void* state;
  void* zalloc; void* zfree; void* opaque;
  int data_type; unsigned long adler; unsigned long reserved;
} moongrad_z_stream;
const char* zlibVersion(void);
int inflateInit2_(moongrad_z_stream* strm, int windowBits, const char* version, int stream_size);
int inflate(moongrad_z_stream* strm, int flush);
int inflateReset(moongrad_z_stream* strm);
int inflateEnd(moongrad_z_stream* strm);
int deflateInit2_(moongrad_z_stream* strm, int level, int method, int windowBits, int memLevel, int strategy,
                  const char* version, int stream_size);
int deflate(moongrad_z_stream* strm, int flush);
int deflateEnd(moongrad_z_stream* strm);
unsigned long deflateBound(moongrad_z_stream* strm, unsigned long sourceLen);
]]
local Z_OK, Z_STREAM_END, Z_NEED_DICT, Z_DATA_ERROR, Z_MEM_ERROR, Z_BUF_ERROR = 0, 1, 2, -3, -4, -5
local Z_NO_FLUSH, Z_FINISH = 0, 4
local GZIP_ONLY = 16 + 15  -- windowBits: a gzip wrapper (not zlib, not raw), 32 KiB window
local CHUNK = 2 ^ 30       -- avail_in and avail_out are 32-bit

local zlib
-- The zlib library, loaded on first use ("z" is libz.so from zlib1g-dev; libz.so.1 is the
-- runtime package's name).
local function z()
  if zlib then return zlib end
  pcall(ffi.cdef, zdecl)
  local ok, lib = pcall(ffi.load, "z")
  if not ok then ok, lib = pcall(ffi.load, "libz.so.1") end
  if not ok then error("zlib not found (" .. tostring(lib) .. "); install zlib1g", 0) end
  zlib = lib
  return zlib
end

local Inflater = {}
Inflater.__index = Inflater

-- A gzip decompressor reading n bytes at ptr (concatenated gzip members are one stream, as
-- gzip -d reads them). :read(dst, want) fills dst with up to want bytes and returns how many
-- it wrote (fewer only at the end of the data). Errors name op and path.
function M.inflater(ptr, n, op, path)
  local lib = z()
  local s = ffi.new("moongrad_z_stream")
  local ret = lib.inflateInit2_(s, GZIP_ONLY, lib.zlibVersion(), ffi.sizeof(s))
  if ret ~= Z_OK then fail(op, path, "zlib inflateInit2 failed (code " .. ret .. ")") end
  ffi.gc(s, lib.inflateEnd)
  return setmetatable({ s = s, src = ffi.cast("const uint8_t*", ptr), left = n, done = false,
                        op = op, path = path, produced = 0 }, Inflater)
end

local function zmsg(s, fallback)
  return s.msg ~= nil and ffi.string(s.msg) or fallback
end

function Inflater:read(dst, want)
  local s, lib = self.s, zlib
  local out = ffi.cast("uint8_t*", dst)
  local got = 0
  while got < want and not self.done do
    if s.avail_in == 0 and self.left > 0 then
      local take = math.min(self.left, CHUNK)
      s.next_in, s.avail_in = self.src, take
      self.src, self.left = self.src + take, self.left - take
    end
    local room = math.min(want - got, CHUNK)
    s.next_out, s.avail_out = out + got, room
    local ret = lib.inflate(s, Z_NO_FLUSH)
    local made = room - s.avail_out
    got = got + made
    if made > 0 then self.member_end = false end
    if ret == Z_STREAM_END then
      -- another gzip member may follow; anything else there is reported by the next inflate
      if s.avail_in > 0 or self.left > 0 then
        lib.inflateReset(s)
        self.member_end = true
      else
        self.done = true
      end
    elseif ret == Z_BUF_ERROR or (ret == Z_OK and made == 0 and s.avail_in == 0 and self.left == 0) then
      if s.avail_in == 0 and self.left == 0 then
        fail(self.op, self.path, "the gzip data ends early (truncated file) after " .. (self.produced + got) .. " bytes of output")
      end
    elseif (ret == Z_DATA_ERROR or ret == Z_NEED_DICT) and self.member_end then
      fail(self.op, self.path, "corrupt gzip data (bytes after the end of the gzip stream are not another gzip member: "
        .. zmsg(s, "zlib data error") .. ")")
    elseif ret == Z_DATA_ERROR or ret == Z_NEED_DICT then
      fail(self.op, self.path, "corrupt gzip data (" .. zmsg(s, "zlib data error") .. ")")
    elseif ret == Z_MEM_ERROR then
      fail(self.op, self.path, "out of memory while decompressing")
    elseif ret ~= Z_OK then
      fail(self.op, self.path, "zlib inflate failed (code " .. ret .. ": " .. zmsg(s, "?") .. ")")
    end
  end
  self.produced = self.produced + got
  return got
end

-- True when the stream has ended (after reading): reads one more byte to find out.
function Inflater:at_end()
  if self.done then return true end
  local one = ffi.new("uint8_t[1]")
  return self:read(one, 1) == 0
end

function Inflater:close()
  if self.s then
    ffi.gc(self.s, nil)
    zlib.inflateEnd(self.s)
    self.s = nil
  end
end

-- gzip-compresses a Lua string (tests craft .gz files with it); returns a Lua string.
function M.gzip(bytes, level)
  local lib = z()
  local s = ffi.new("moongrad_z_stream")
  local ret = lib.deflateInit2_(s, level or 6, 8, GZIP_ONLY, 8, 0, lib.zlibVersion(), ffi.sizeof(s))
  if ret ~= Z_OK then error("gzip: deflateInit2 failed (code " .. ret .. ")", 2) end
  local cap = tonumber(lib.deflateBound(s, #bytes)) + 64
  local out = ffi.new("uint8_t[?]", cap)
  s.next_in, s.avail_in = ffi.cast("const uint8_t*", bytes), #bytes
  s.next_out, s.avail_out = out, cap
  ret = lib.deflate(s, Z_FINISH)
  local n = cap - s.avail_out
  lib.deflateEnd(s)
  if ret ~= Z_STREAM_END then error("gzip: deflate failed (code " .. ret .. ")", 2) end
  return ffi.string(out, n)
end

return M
