#include "backends/cuda/cuda_device.h"

#include <algorithm>

#include "backends/cuda/cuda_compile.h"
#include "backends/cuda/cuda_renderer.h"
#include "uop/error.h"

namespace mg::cuda {

namespace {
CUdeviceptr dptr(const void* p) { return CUdeviceptr(reinterpret_cast<uintptr_t>(p)); }

class CudaProgram : public Program {
 public:
  CudaProgram(CudaDevice& dev, CUfunction fn, const codegen::Kernel& k, std::string src)
      : dev_(dev), fn_(fn), n_(k.n_params), vars_(int(k.vars.size())), src_(std::move(src)), name_(k.fn_name) {
    for (int i = 0; i < 3; i++) grid_[i] = unsigned(k.grid[i]), block_[i] = unsigned(k.block[i]);
  }
  // Asynchronous on the default stream: the next copy to the host (cuMemcpyDtoH) waits for it.
  void run(void* const* bufs) override {
    CUdeviceptr vals[64];
    void* args[64];
    if (n_ + vars_ > 64) fail(ErrorKind::Device, "CUDA: kernel " + name_ + " has more than 64 parameters");
    for (int i = 0; i < n_; i++) vals[i] = dptr(bufs[i]), args[i] = &vals[i];
    for (int i = n_; i < n_ + vars_; i++) args[i] = bufs[i];  // a variable's parameter points to its int64 value
    dev_.bind();
    dev_.check("cuLaunchKernel", dev_.driver().LaunchKernel(fn_, grid_[0], grid_[1], grid_[2], block_[0], block_[1], block_[2], 0, nullptr, args, nullptr));
  }
  // The kernel's time on the GPU: events recorded before and after it on the same (default)
  // stream; waiting for the second one waits for the kernel.
  double run_timed(void* const* bufs) override {
    auto [start, stop] = dev_.timing_events();
    Driver& d = dev_.driver();
    dev_.bind();
    dev_.check("cuEventRecord", d.EventRecord(start, nullptr));
    run(bufs);
    dev_.check("cuEventRecord", d.EventRecord(stop, nullptr));
    dev_.check("cuEventSynchronize", d.EventSynchronize(stop));
    float ms = 0;
    dev_.check("cuEventElapsedTime", d.EventElapsedTime(&ms, start, stop));
    return double(ms) * 1e-3;
  }
  std::string source() const override { return src_; }
  std::string assembly() const override {  // PTX for the device's architecture (DEBUG=7)
    std::string arch = "compute_" + dev_.arch().substr(3);
    return dev_.nvrtc().compile(src_, name_, arch);
  }

 private:
  CudaDevice& dev_;
  CUfunction fn_;
  int n_, vars_;
  unsigned grid_[3], block_[3];
  std::string src_, name_;
};
}  // namespace

CudaDevice::CudaDevice(Runtime& rt, std::unique_ptr<Driver> drv, std::unique_ptr<Nvrtc> nvrtc, int ordinal)
    : Device("CUDA", rt), drv_(std::move(drv)), nvrtc_(std::move(nvrtc)),
      programs_(CompileCache::default_dir(), CompileCache::default_level()) {
  check("cuDeviceGet", drv_->DeviceGet(&dev_, ordinal));
  check("cuDevicePrimaryCtxRetain", drv_->DevicePrimaryCtxRetain(&ctx_, dev_));
  bind();
  int major = 0, minor = 0, threads = 1024, shared = 48 * 1024;
  check("cuDeviceGetAttribute", drv_->DeviceGetAttribute(&major, kAttrComputeCapabilityMajor, dev_));
  check("cuDeviceGetAttribute", drv_->DeviceGetAttribute(&minor, kAttrComputeCapabilityMinor, dev_));
  drv_->DeviceGetAttribute(&threads, kAttrMaxThreadsPerBlock, dev_);
  drv_->DeviceGetAttribute(&shared, kAttrMaxSharedMemoryPerBlock, dev_);
  char name[256] = {0};
  drv_->DeviceGetName(name, int(sizeof name) - 1, dev_);
  gpu_name_ = name;
  arch_ = "sm_" + std::to_string(major * 10 + minor);
  target_ = cuda_target(major * 10 + minor, threads, shared);
}

CudaDevice::~CudaDevice() {
  bind();
  blocks_.drain([&](void* p, size_t) { drv_->MemFree(dptr(p)); });
  for (auto& [name, m] : loaded_) drv_->ModuleUnload(m.first);
  if (ev_start_) drv_->EventDestroy(ev_start_);
  if (ev_stop_) drv_->EventDestroy(ev_stop_);
  drv_->DevicePrimaryCtxRelease(dev_);
}

void CudaDevice::bind() const { drv_->CtxSetCurrent(ctx_); }

void CudaDevice::check(const char* call, CUresult r) const {
  if (r == kErrorOutOfMemory) fail(ErrorKind::OOM, "CUDA: " + drv_->error(call, r));
  if (r) fail(ErrorKind::Device, "CUDA: " + drv_->error(call, r));
}

std::pair<CUevent, CUevent> CudaDevice::timing_events() {
  if (!ev_start_) {
    bind();
    CUevent a = nullptr, b = nullptr;
    check("cuEventCreate", drv_->EventCreate(&a, 0));  // CU_EVENT_DEFAULT: they time
    if (CUresult r = drv_->EventCreate(&b, 0)) {
      drv_->EventDestroy(a);
      check("cuEventCreate", r);
    }
    ev_start_ = a, ev_stop_ = b;
  }
  return {ev_start_, ev_stop_};
}

void* CudaDevice::alloc(size_t nbytes) {
  if (void* p = blocks_.take(nbytes)) return p;
  bind();
  CUdeviceptr p = 0;
  // A zero-byte buffer is still a distinct allocation (1 byte), as on the CPU.
  CUresult r = drv_->MemAlloc(&p, std::max<size_t>(nbytes, 1));
  if (r == kErrorOutOfMemory && blocks_.held()) {  // give the cached blocks back and try again
    blocks_.drain([&](void* q, size_t) { drv_->MemFree(dptr(q)); });
    r = drv_->MemAlloc(&p, std::max<size_t>(nbytes, 1));
  }
  if (r == kErrorOutOfMemory) fail(ErrorKind::OOM, "CUDA: out of device memory allocating " + std::to_string(nbytes) + " bytes");
  check("cuMemAlloc", r);
  return reinterpret_cast<void*>(uintptr_t(p));
}

void CudaDevice::free(void* ptr, size_t nbytes) noexcept {
  if (blocks_.give(ptr, nbytes)) return;
  bind();
  drv_->MemFree(dptr(ptr));
}

void CudaDevice::copy_in(void* dst, const void* src, size_t nbytes) {
  if (!nbytes) return;
  bind();
  check("cuMemcpyHtoD", drv_->MemcpyHtoD(dptr(dst), src, nbytes));
}

void CudaDevice::copy_out(void* dst, const void* src, size_t nbytes) {
  if (!nbytes) return;
  bind();
  check("cuMemcpyDtoH", drv_->MemcpyDtoH(dst, dptr(src), nbytes));  // waits for the kernels before it
}

std::unique_ptr<Program> CudaDevice::compile(const codegen::Kernel& k) {
  std::string src;
  try {
    src = render_cuda(k);
  } catch (const Error& e) {
    fail(ErrorKind::Compile, "kernel " + k.name + ": " + e.what());
  }
  auto it = loaded_.find(k.fn_name);
  if (it == loaded_.end()) {
    bool hit = false;
    std::string cubin = compile_cached(*nvrtc_, programs_, src, k.fn_name, arch_, "kernel " + k.name, &hit);
    if (hit) runtime().stats.backend_cache_hits++;
    else runtime().stats.backend_compiles++;
    bind();
    CUmodule m = nullptr;
    CUfunction f = nullptr;
    check("cuModuleLoadData", drv_->ModuleLoadData(&m, cubin.data()));
    if (CUresult r = drv_->ModuleGetFunction(&f, m, k.fn_name.c_str())) {
      drv_->ModuleUnload(m);
      check("cuModuleGetFunction", r);
    }
    it = loaded_.emplace(k.fn_name, std::make_pair(m, f)).first;
  }
  return std::make_unique<CudaProgram>(*this, it->second.second, k, std::move(src));
}

}  // namespace mg::cuda

std::unique_ptr<mg::Device> make_cuda_device(mg::Runtime& rt, std::string* why) {
  std::unique_ptr<mg::cuda::Driver> drv = mg::cuda::Driver::load(why);
  if (!drv) return nullptr;
  std::unique_ptr<mg::cuda::Nvrtc> nvrtc = mg::cuda::Nvrtc::load(why);
  if (!nvrtc) return nullptr;
  return std::make_unique<mg::cuda::CudaDevice>(rt, std::move(drv), std::move(nvrtc), 0);
}
