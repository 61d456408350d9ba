-- Benchmark (make bench): the default device (DEV=...) on memory-bound elementwise ops and
-- reductions, and on matmul. Each figure is a ratio to a reference measured in the same run on
-- the same machine: machines are noisy, ratios travel better than absolute numbers. The
-- reference and the op run in turn (reference, op, reference, op, ...), after a warm-up run
-- of each (so compiling a kernel the first time is not counted); the figure is the median of
-- the per-pair ratios.
--   elementwise: bytes read + written per second / memcpy's bytes read + written per second
--   reductions:  bytes read per second / memcpy's bytes read + written per second
--   matmul:      GFLOP/s / OpenBLAS cblas_sgemm's GFLOP/s on the same matrices
local mg = require("moongrad")
local ffi = require("ffi")
local T = mg.Tensor

pcall(ffi.cdef, "typedef struct { long sec; long nsec; } moongrad_bench_timespec;"
  .. " int clock_gettime(int clk, moongrad_bench_timespec* ts);")
local ts = ffi.new("moongrad_bench_timespec")
local function now()
  ffi.C.clock_gettime(1, ts)  -- CLOCK_MONOTONIC: wall time, unlike os.clock
  return tonumber(ts.sec) + tonumber(ts.nsec) * 1e-9
end

local dev = T.zeros({}).device
local is_ref = dev == "REF"
local REPS = is_ref and 3 or 9
local MATMUL_REPS = is_ref and 1 or 7
local MiB = 2 ^ 20

local function median(xs)
  table.sort(xs)
  local n = #xs
  if n % 2 == 1 then return xs[(n + 1) / 2] end
  return (xs[n / 2] + xs[n / 2 + 1]) / 2
end

-- Seconds one run() takes; cleanup(result) runs after it, outside the timing.
local function time1(run, cleanup)
  collectgarbage()
  local t0 = now()
  local r = run()
  local t = now() - t0
  if cleanup then cleanup(r) end
  return t
end

-- reps pairs of (reference, op) timings, taken in turn. Returns the median of the per-pair
-- ratios of rates ((work / t_op) / (ref_work / t_ref)), and the median times of each.
local function paired(reps, ref, run, cleanup, ref_work, work)
  local ratios, tr, to = {}, {}, {}
  for i = 1, reps do
    tr[i] = time1(ref)
    to[i] = time1(run, cleanup)
    ratios[i] = (work / to[i]) / (ref_work / tr[i])
  end
  return median(ratios), median(tr), median(to)
end

-- A realized tensor's values are in memory once realize() returns; reading one value through
-- the host pointer (where the device's memory is host memory) makes sure of it.
local function force(t)
  t:realize()
  local ok, p = pcall(t.ptr, t)
  if ok then local _ = p[0] end
  return t
end
local function free(t) t:free() end

-- memcpy of `bytes` bytes into a buffer paged in beforehand; it reads and writes 2 * bytes
local copy_src, copy_dst, copy_bytes
local function memcpy_of(bytes)
  if copy_bytes ~= bytes then
    copy_src, copy_dst, copy_bytes = nil, nil, nil
    collectgarbage()
    copy_src, copy_dst, copy_bytes = ffi.new("uint8_t[?]", bytes), ffi.new("uint8_t[?]", bytes), bytes
    ffi.fill(copy_src, bytes, 1)
  end
  local src, dst = copy_src, copy_dst
  local function run() ffi.copy(dst, src, bytes) end
  run()  -- warm-up
  return run
end

local function verdict(ratio, target) return ratio >= target and "PASS" or "BELOW target" end

local function row(name, what, ratio, target, detail)
  print(string.format("cpu_ops/%-9s %-34s %6.3f x  (target >= %.1f: %s)  %s", name, what, ratio, target,
    verdict(ratio, target), detail))
end

print(string.format("cpu_ops: device %s (devices here: %s); each figure: the median over %d (reference, op) pairs"
  .. " (%d for matmul) after a warm-up%s", dev, table.concat(mg.devices(), ", "), REPS, MATMUL_REPS, is_ref and "; REF is the plain-loop reference evaluator: "
  .. "it is not meant to reach these targets" or ""))

-- ---- elementwise on 64 MiB of float32 ----
do
  local n = 16 * MiB  -- 16M floats, 64 MiB
  local bytes = 4 * n
  local a, b = T.rand(n), T.rand(n)
  mg.realize(a, b)
  local cases = {
    { "add", "c = a + b, 64 MiB float32", 3 * bytes, function() return force(a + b) end },
    { "mul2", "c = a * 2, 64 MiB float32", 2 * bytes, function() return force(a * 2) end },
  }
  for _, c in ipairs(cases) do
    free(c[4]())  -- warm-up
    local ratio, t_ref, t = paired(REPS, memcpy_of(bytes), c[4], free, 2 * bytes, c[3])
    row(c[1], c[2], ratio, 0.8, string.format("%.2f GB/s read+written vs memcpy %.2f GB/s read+written (%.1f ms)",
      c[3] / t / 1e9, 2 * bytes / t_ref / 1e9, t * 1e3))
  end
  a, b = nil, nil
  collectgarbage()
end

-- ---- reductions of a 4096 x 4096 float32 (64 MiB) ----
do
  local n = 4096
  local bytes = 4 * n * n
  local x = T.rand(n, n):realize()
  local cases = {
    { "sum", "x:sum(), 4096x4096 float32", function() return force(x:sum()) end },
    { "rowsum", "x:sum(2), 4096x4096 float32", function() return force(x:sum(2)) end },
  }
  for _, c in ipairs(cases) do
    free(c[3]())  -- warm-up
    local ratio, t_ref, t = paired(REPS, memcpy_of(bytes), c[3], free, 2 * bytes, bytes)
    row(c[1], c[2], ratio, 0.8, string.format("%.2f GB/s read vs memcpy %.2f GB/s read+written (%.1f ms)",
      bytes / t / 1e9, 2 * bytes / t_ref / 1e9, t * 1e3))
  end
  x = nil
  copy_src, copy_dst, copy_bytes = nil, nil, nil
  collectgarbage()
end

-- ---- 1024 x 1024 float32 matmul against OpenBLAS ----
do
  local n = 1024
  local A, B = ffi.new("float[?]", n * n), ffi.new("float[?]", n * n)
  local seed = 12345
  for i = 0, n * n - 1 do
    seed = (seed * 48271) % 2147483647
    A[i] = seed / 2147483647 - 0.5
    seed = (seed * 48271) % 2147483647
    B[i] = seed / 2147483647 - 0.5
  end
  local a = T.from_ptr(A, { n, n }, mg.float32)
  local b = T.from_ptr(B, { n, n }, mg.float32)
  mg.realize(a, b)
  local flops = 2 * n * n * n

  pcall(ffi.cdef, [[
    void cblas_sgemm(int layout, int transa, int transb, int m, int n, int k, float alpha,
                     const float* a, int lda, const float* b, int ldb, float beta, float* c, int ldc);
    int openblas_get_num_threads(void);
  ]])
  local ok, blas = pcall(ffi.load, "openblas")
  if not ok then ok, blas = pcall(ffi.load, "libopenblas.so.0") end
  if not ok then
    print("cpu_ops/matmul    skipped: cannot load OpenBLAS (" .. tostring(blas) .. "); `make bench` installs "
      .. "libopenblas-dev (third_party/install-bench-deps.sh)")
  else
    local C = ffi.new("float[?]", n * n)
    local ROW_MAJOR, NO_TRANS = 101, 111
    local function sgemm() blas.cblas_sgemm(ROW_MAJOR, NO_TRANS, NO_TRANS, n, n, n, 1, A, n, B, n, 0, C, n) end
    sgemm()
    local threads = 0
    pcall(function() threads = blas.openblas_get_num_threads() end)

    -- warm-up, and a check that both compute the same product
    local c = force(a:matmul(b))
    local got = c:tolist()
    local worst = 0
    for i = 1, n * n do worst = math.max(worst, math.abs(got[i] - C[i - 1])) end
    got = nil
    free(c)
    local ratio, t_blas, t = paired(MATMUL_REPS, sgemm, function() return force(a:matmul(b)) end, free, flops, flops)
    row("matmul", "1024x1024 float32 a:matmul(b)", ratio, 0.3,
      string.format("%.2f GFLOP/s vs OpenBLAS cblas_sgemm %.2f GFLOP/s (%d threads); max |diff| %.1e (%.1f ms)",
        flops / t / 1e9, flops / t_blas / 1e9, threads, worst, t * 1e3))
  end
end
