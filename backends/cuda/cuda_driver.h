// The CUDA driver API, loaded with dlopen("libcuda.so.1") at run time: the build and CI have
// no driver, so nothing links against it. Only the entry points the backend uses, declared here
// with the C types of cuda.h (handles are opaque pointers, device memory a 64-bit integer).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace mg::cuda {

using CUresult = int;  // CUDA_SUCCESS = 0
using CUdevice = int;
using CUdeviceptr = unsigned long long;
using CUcontext = struct CUctx_st*;
using CUmodule = struct CUmod_st*;
using CUfunction = struct CUfunc_st*;
using CUstream = struct CUstream_st*;
using CUevent = struct CUevent_st*;

// Attribute numbers of cuda.h's CUdevice_attribute.
enum : int {
  kAttrMaxThreadsPerBlock = 1,
  kAttrMaxGridDimX = 5,
  kAttrMaxSharedMemoryPerBlock = 8,
  kAttrComputeCapabilityMajor = 75,
  kAttrComputeCapabilityMinor = 76,
};
constexpr CUresult kErrorOutOfMemory = 2;

struct Driver {
  // nullptr, with the reason in `why`, when there is no driver or no device (cuInit fails).
  static std::unique_ptr<Driver> load(std::string* why);
  ~Driver();
  // "cuMemAlloc: out of memory (2)": for error messages.
  std::string error(const char* call, CUresult r) const;

  void* lib = nullptr;
  CUresult (*Init)(unsigned);
  CUresult (*GetErrorString)(CUresult, const char**);
  CUresult (*DeviceGetCount)(int*);
  CUresult (*DeviceGet)(CUdevice*, int);
  CUresult (*DeviceGetName)(char*, int, CUdevice);
  CUresult (*DeviceGetAttribute)(int*, int, CUdevice);
  CUresult (*DevicePrimaryCtxRetain)(CUcontext*, CUdevice);
  CUresult (*DevicePrimaryCtxRelease)(CUdevice);
  CUresult (*CtxSetCurrent)(CUcontext);
  CUresult (*CtxSynchronize)();
  CUresult (*MemAlloc)(CUdeviceptr*, size_t);
  CUresult (*MemFree)(CUdeviceptr);
  CUresult (*MemcpyHtoD)(CUdeviceptr, const void*, size_t);
  CUresult (*MemcpyDtoH)(void*, CUdeviceptr, size_t);
  CUresult (*MemcpyDtoD)(CUdeviceptr, CUdeviceptr, size_t);
  CUresult (*ModuleLoadData)(CUmodule*, const void*);
  CUresult (*ModuleUnload)(CUmodule);
  CUresult (*ModuleGetFunction)(CUfunction*, CUmodule, const char*);
  CUresult (*LaunchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, CUstream, void**, void**);
  CUresult (*EventCreate)(CUevent*, unsigned);
  CUresult (*EventRecord)(CUevent, CUstream);
  CUresult (*EventSynchronize)(CUevent);
  CUresult (*EventElapsedTime)(float*, CUevent, CUevent);
  CUresult (*EventDestroy)(CUevent);
};

}  // namespace mg::cuda
