#include "backends/cuda/cuda_driver.h"

#include <dlfcn.h>

#include <type_traits>

namespace mg::cuda {

std::unique_ptr<Driver> Driver::load(std::string* why) {
  void* lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    if (why) *why = std::string("no NVIDIA driver (") + dlerror() + ")";
    return nullptr;
  }
  std::unique_ptr<Driver> d(new Driver());
  d->lib = lib;
  std::string missing;
  // The _v2 names are what cuda.h's macros call: the 64-bit-size versions.
  auto sym = [&](auto& fn, const char* name, const char* fallback = nullptr) {
    void* p = dlsym(lib, name);
    if (!p && fallback) p = dlsym(lib, fallback);
    if (!p) missing += std::string(missing.empty() ? "" : ", ") + name;
    fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(p);
  };
  sym(d->Init, "cuInit");
  sym(d->GetErrorString, "cuGetErrorString");
  sym(d->DeviceGetCount, "cuDeviceGetCount");
  sym(d->DeviceGet, "cuDeviceGet");
  sym(d->DeviceGetName, "cuDeviceGetName");
  sym(d->DeviceGetAttribute, "cuDeviceGetAttribute");
  sym(d->DevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain");
  sym(d->DevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2", "cuDevicePrimaryCtxRelease");
  sym(d->CtxSetCurrent, "cuCtxSetCurrent");
  sym(d->CtxSynchronize, "cuCtxSynchronize");
  sym(d->MemAlloc, "cuMemAlloc_v2");
  sym(d->MemFree, "cuMemFree_v2");
  sym(d->MemcpyHtoD, "cuMemcpyHtoD_v2");
  sym(d->MemcpyDtoH, "cuMemcpyDtoH_v2");
  sym(d->MemcpyDtoD, "cuMemcpyDtoD_v2");
  sym(d->ModuleLoadData, "cuModuleLoadData");
  sym(d->ModuleUnload, "cuModuleUnload");
  sym(d->ModuleGetFunction, "cuModuleGetFunction");
  sym(d->LaunchKernel, "cuLaunchKernel");
  sym(d->EventCreate, "cuEventCreate");
  sym(d->EventRecord, "cuEventRecord");
  sym(d->EventSynchronize, "cuEventSynchronize");
  sym(d->EventElapsedTime, "cuEventElapsedTime_v2", "cuEventElapsedTime");
  sym(d->EventDestroy, "cuEventDestroy_v2", "cuEventDestroy");
  if (!missing.empty()) {
    if (why) *why = "the NVIDIA driver lacks " + missing + " (too old?)";
    return nullptr;
  }
  if (CUresult r = d->Init(0)) {
    if (why) *why = d->error("cuInit", r);
    return nullptr;
  }
  int n = 0;
  if (d->DeviceGetCount(&n) || n < 1) {
    if (why) *why = "the NVIDIA driver sees no GPU";
    return nullptr;
  }
  return d;
}

Driver::~Driver() {
  if (lib) dlclose(lib);
}

std::string Driver::error(const char* call, CUresult r) const {
  const char* s = nullptr;
  if (GetErrorString) GetErrorString(r, &s);
  return std::string(call) + ": " + (s ? s : "unknown error") + " (" + std::to_string(r) + ")";
}

}  // namespace mg::cuda
