// CUDA: kernels rendered to CUDA C (cuda_renderer.h), compiled by NVRTC to a CUBIN for the
// device's compute capability, loaded and launched through the driver API (cuda_driver.h).
// Buffers are device memory; freed blocks are kept by size for reuse. See docs/cuda.md.
#pragma once
#include <memory>
#include <string>
#include <unordered_map>

#include "backends/cuda/cuda_driver.h"
#include "backends/cuda/nvrtc.h"
#include "runtime/block_cache.h"
#include "runtime/compile_cache.h"
#include "runtime/device.h"
#include "runtime/runtime.h"

namespace mg::cuda {

class CudaDevice : public Device {
 public:
  CudaDevice(Runtime& rt, std::unique_ptr<Driver> drv, std::unique_ptr<Nvrtc> nvrtc, int ordinal);
  ~CudaDevice() override;

  void* alloc(size_t nbytes) override;
  void free(void* ptr, size_t nbytes) noexcept override;
  void copy_in(void* dst, const void* src, size_t nbytes) override;
  void copy_out(void* dst, const void* src, size_t nbytes) override;

  const codegen::Target* target() const override { return &target_; }
  std::unique_ptr<Program> compile(const codegen::Kernel& k) override;

  Driver& driver() { return *drv_; }
  const Nvrtc& nvrtc() const { return *nvrtc_; }
  void bind() const;                  // makes the context current on the calling thread
  void check(const char* call, CUresult r) const;  // Error(Device) when r is not success
  const std::string& arch() const { return arch_; }
  const std::string& gpu_name() const { return gpu_name_; }
  // Two events that time one kernel (DEBUG=2), created on first use.
  std::pair<CUevent, CUevent> timing_events();

 private:
  std::unique_ptr<Driver> drv_;
  std::unique_ptr<Nvrtc> nvrtc_;
  CUdevice dev_ = 0;
  CUcontext ctx_ = nullptr;
  std::string arch_, gpu_name_;
  codegen::Target target_;
  BlockCache blocks_{size_t(4) << 30};  // up to 4 GiB of freed device memory kept for reuse
  CompileCache programs_;
  std::unordered_map<std::string, std::pair<CUmodule, CUfunction>> loaded_;  // by function name
  CUevent ev_start_ = nullptr, ev_stop_ = nullptr;
};

}  // namespace mg::cuda

// The CUDA device, or nullptr with the reason in `why` (no driver, no GPU, no NVRTC).
std::unique_ptr<mg::Device> make_cuda_device(mg::Runtime& rt, std::string* why);
