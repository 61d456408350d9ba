-- make bench-gpu: the CUDA backend against the device's own limits, measured in the same run:
--   elementwise (x * 2 + 1 over 1 GiB of float32)   vs cuMemcpyDtoD of the same bytes   target >= 0.8
--   full sum and row sums of 16384 x 16384 float32   vs the same                        target >= 0.7
--   4096 x 4096 matmul, float32 and float16         vs cuBLAS (Sgemm, Hgemm)            reported
--   the sample's training step at BS=512 (steady s/step) and the whole 70-step run      (PyTorch eager: 3.65 ms/step, 8.2 s)
-- The driver and cuBLAS are called through LuaJIT's FFI (libcuda.so.1, libcublas from
-- $CUDA_PATH/lib64): cuBLAS is used by this benchmark only. Without a GPU it says so and exits 0.
local ffi = require("ffi")
ffi.cdef("int setenv(const char*, const char*, int);")
ffi.C.setenv("DEV", "CUDA", 1)  -- before moongrad loads: the model's parameters live on CUDA too
local mg = require("moongrad")
local Tensor = mg.Tensor
local has = false
for _, d in ipairs(mg.devices()) do has = has or d == "CUDA" end
if not has then
  local _, err = pcall(function() return Tensor.zeros(2, { device = "CUDA" }) end)
  print("bench-gpu: skipped: " .. tostring(err))
  return
end

ffi.cdef([[
typedef int CUresult; typedef int CUdevice; typedef unsigned long long CUdeviceptr; typedef void* CUcontext;
CUresult cuInit(unsigned); CUresult cuDeviceGet(CUdevice*, int); CUresult cuDeviceGetName(char*, int, CUdevice);
CUresult cuDevicePrimaryCtxRetain(CUcontext*, CUdevice); CUresult cuCtxSetCurrent(CUcontext); CUresult cuCtxSynchronize(void);
CUresult cuMemAlloc_v2(CUdeviceptr*, size_t); CUresult cuMemFree_v2(CUdeviceptr);
CUresult cuMemcpyDtoD_v2(CUdeviceptr, CUdeviceptr, size_t); CUresult cuMemsetD8_v2(CUdeviceptr, unsigned char, size_t);
typedef void* cublasHandle_t; typedef int cublasStatus_t;
cublasStatus_t cublasCreate_v2(cublasHandle_t*); cublasStatus_t cublasDestroy_v2(cublasHandle_t);
cublasStatus_t cublasSgemm_v2(cublasHandle_t, int, int, int, int, int, const float*, const float*, int, const float*, int, const float*, float*, int);
cublasStatus_t cublasHgemm(cublasHandle_t, int, int, int, int, int, const uint16_t*, const uint16_t*, int, const uint16_t*, int, const uint16_t*, uint16_t*, int);
int clock_gettime(int, void*); typedef struct { long s, ns; } mg_gpu_ts;
]])
local cu = ffi.load("libcuda.so.1")
local function ok(r, what) if r ~= 0 then error(what .. " failed: CUresult " .. tonumber(r)) end end
local ts = ffi.new("mg_gpu_ts")
local function now() ffi.C.clock_gettime(1, ts); return tonumber(ts.s) + tonumber(ts.ns) * 1e-9 end
local dev, ctx = ffi.new("CUdevice[1]"), ffi.new("CUcontext[1]")
ok(cu.cuInit(0), "cuInit"); ok(cu.cuDeviceGet(dev, 0), "cuDeviceGet")
ok(cu.cuDevicePrimaryCtxRetain(ctx, dev[0]), "cuDevicePrimaryCtxRetain")  -- the engine's context too
local name = ffi.new("char[256]"); cu.cuDeviceGetName(name, 255, dev[0])
print("bench-gpu on " .. ffi.string(name))
local function sync() ok(cu.cuCtxSetCurrent(ctx[0]), "cuCtxSetCurrent"); ok(cu.cuCtxSynchronize(), "cuCtxSynchronize") end

-- The median seconds of f over n runs after one warm-up (which compiles), each ended by a sync.
local function time(f, n)
  f(); sync()
  local t = {}
  for i = 1, n or 10 do
    local t0 = now(); f(); sync(); t[i] = now() - t0
  end
  table.sort(t)
  return t[math.floor((#t + 1) / 2)]
end
local function alloc(n) local p = ffi.new("CUdeviceptr[1]"); ok(cu.cuMemAlloc_v2(p, n), "cuMemAlloc"); ok(cu.cuMemsetD8_v2(p[0], 0, n), "cuMemset"); return p[0] end

local GiB = 2 ^ 30
local a, b = alloc(GiB), alloc(GiB)
local t_copy = time(function() ok(cu.cuMemcpyDtoD_v2(b, a, GiB), "cuMemcpyDtoD") end)
local bw = 2 * GiB / t_copy  -- read + write
cu.cuMemFree_v2(a); cu.cuMemFree_v2(b)
print(string.format("cuMemcpyDtoD 1 GiB: %.3f ms, %.0f GB/s", t_copy * 1e3, bw / 1e9))

local function report(what, secs, bytes, target)
  local r = bytes / secs / bw
  print(string.format("%-44s %8.3f ms  %7.0f GB/s  ratio %.2f%s", what, secs * 1e3, bytes / secs / 1e9, r,
    target and string.format(" (target %.1f)", target) or ""))
end

local x = Tensor.rand(GiB / 4, { device = "CUDA" }):realize()
report("elementwise x*2+1, 1 GiB float32", time(function() (x * 2 + 1):realize() end), 2 * GiB, 0.8)
x = nil
collectgarbage()
local m = Tensor.rand(16384, 16384, { device = "CUDA" }):realize()
report("full sum of 16384x16384 float32", time(function() m:sum():realize() end, 5), GiB, 0.7)
report("row sums of 16384x16384 float32", time(function() m:sum(2):realize() end, 5), GiB, 0.7)
m = nil
collectgarbage()

-- matmul against cuBLAS (column-major: C^T = B^T A^T, same cost)
local N = 4096
local blas = ffi.load((os.getenv("CUDA_PATH") or "/usr/local/cuda") .. "/lib64/libcublas.so")
local h = ffi.new("cublasHandle_t[1]")
assert(blas.cublasCreate_v2(h) == 0, "cublasCreate failed")
local flops = 2 * N ^ 3
for _, dt in ipairs({ "float32", "float16" }) do
  local A = Tensor.rand(N, N, { device = "CUDA" }):cast(dt):realize()
  local B = Tensor.rand(N, N, { device = "CUDA" }):cast(dt):realize()
  local t_mg = time(function() A:matmul(B):realize() end, 5)
  local size = dt == "float32" and 4 or 2
  local pa, pb, pc = alloc(N * N * size), alloc(N * N * size), alloc(N * N * size)
  local t_blas
  if dt == "float32" then
    local one, zero = ffi.new("float[1]", 1), ffi.new("float[1]", 0)
    t_blas = time(function() assert(blas.cublasSgemm_v2(h[0], 0, 0, N, N, N, one, ffi.cast("const float*", pa), N, ffi.cast("const float*", pb), N, zero, ffi.cast("float*", pc), N) == 0) end, 5)
  else
    local one, zero = ffi.new("uint16_t[1]", 0x3c00), ffi.new("uint16_t[1]", 0)
    t_blas = time(function() assert(blas.cublasHgemm(h[0], 0, 0, N, N, N, one, ffi.cast("const uint16_t*", pa), N, ffi.cast("const uint16_t*", pb), N, zero, ffi.cast("uint16_t*", pc), N) == 0) end, 5)
  end
  cu.cuMemFree_v2(pa); cu.cuMemFree_v2(pb); cu.cuMemFree_v2(pc)
  print(string.format("matmul %dx%d %-8s moongrad %8.2f ms (%6.1f TFLOP/s)  cuBLAS %7.2f ms (%6.1f TFLOP/s)  ratio %.3f",
    N, N, dt, t_mg * 1e3, flops / t_mg / 1e12, t_blas * 1e3, flops / t_blas / 1e12, t_blas / t_mg))
end
blas.cublasDestroy_v2(h[0])

-- the sample's training step at BS=512, then the whole 70-step run in a fresh process
local build = assert(loadfile("samples/mnist_model.lua"))()
mg.manual_seed(1)
local model = build(mg)
local opt = mg.optim.Adam(mg.nn.parameters(model), { lr = 1e-3 })
local xs = Tensor.rand(512, 1, 28, 28, { device = "CUDA" })
local ys = Tensor.randint({ 512 }, 1, 11, { device = "CUDA" })
local t_step = time(function()
  opt:zero_grad()
  local loss = model(xs):cross_entropy(ys)
  loss:backward()
  opt:step(loss)
  loss:item()
end, 10)
print(string.format("sample training step BS=512: %.2f ms/step (PyTorch eager on an H100: 3.65 ms)", t_step * 1e3))
local t0 = now()
local rc = os.execute("DEV=CUDA build/bin/moongrad samples/beautiful_mnist.lua > /tmp/mg_bench_gpu_sample.log 2>&1")
print(string.format("sample, whole 70-step run on CUDA: %.1f s (target < 10 s; PyTorch eager 8.2 s, tinygrad 15.4 s)%s", now() - t0,
  (rc == 0 or rc == true) and "" or " (it FAILED: see /tmp/mg_bench_gpu_sample.log)"))
