// NVRTC through dlopen. The few entry points used are declared here (their C signatures are
// stable since CUDA 7), so building needs no CUDA headers either.
#include "backends/cuda/nvrtc.h"

#include <dlfcn.h>

#include <cstdlib>
#include <sys/stat.h>

#include "uop/error.h"

namespace mg::cuda {

namespace {
using nvrtcResult = int;  // NVRTC_SUCCESS = 0
using nvrtcProgram = void*;
}  // namespace

struct Nvrtc::Api {
  const char* (*GetErrorString)(nvrtcResult);
  nvrtcResult (*Version)(int*, int*);
  nvrtcResult (*CreateProgram)(nvrtcProgram*, const char*, const char*, int, const char* const*, const char* const*);
  nvrtcResult (*DestroyProgram)(nvrtcProgram*);
  nvrtcResult (*CompileProgram)(nvrtcProgram, int, const char* const*);
  nvrtcResult (*GetPTXSize)(nvrtcProgram, size_t*);
  nvrtcResult (*GetPTX)(nvrtcProgram, char*);
  nvrtcResult (*GetCUBINSize)(nvrtcProgram, size_t*);
  nvrtcResult (*GetCUBIN)(nvrtcProgram, char*);
  nvrtcResult (*GetProgramLogSize)(nvrtcProgram, size_t*);
  nvrtcResult (*GetProgramLog)(nvrtcProgram, char*);
};

std::string cuda_root() {
  const char* p = std::getenv("CUDA_PATH");
  return p && *p ? p : "/usr/local/cuda";
}

std::unique_ptr<Nvrtc> Nvrtc::load(std::string* why) {
  const std::string root = cuda_root();
  void* lib = nullptr;
  std::string tried;
  for (std::string name : {root + "/lib64/libnvrtc.so", std::string("libnvrtc.so"), std::string("libnvrtc.so.13"), std::string("libnvrtc.so.12")}) {
    lib = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (lib) break;
    tried += (tried.empty() ? "" : "; ") + std::string(dlerror());
  }
  if (!lib) {
    if (why) *why = "NVRTC not found (" + tried + ")";
    return nullptr;
  }
  std::unique_ptr<Nvrtc> n(new Nvrtc());
  n->lib_ = lib;
  n->api_ = std::make_unique<Api>();
  Api& a = *n->api_;
  bool ok = true;
  auto sym = [&](auto& fn, const char* name) {
    void* p = dlsym(lib, name);
    ok = ok && p;
    fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(p);
  };
  sym(a.GetErrorString, "nvrtcGetErrorString");
  sym(a.Version, "nvrtcVersion");
  sym(a.CreateProgram, "nvrtcCreateProgram");
  sym(a.DestroyProgram, "nvrtcDestroyProgram");
  sym(a.CompileProgram, "nvrtcCompileProgram");
  sym(a.GetPTXSize, "nvrtcGetPTXSize");
  sym(a.GetPTX, "nvrtcGetPTX");
  sym(a.GetCUBINSize, "nvrtcGetCUBINSize");
  sym(a.GetCUBIN, "nvrtcGetCUBIN");
  sym(a.GetProgramLogSize, "nvrtcGetProgramLogSize");
  sym(a.GetProgramLog, "nvrtcGetProgramLog");
  if (!ok) {
    if (why) *why = "NVRTC library lacks an entry point (too old?)";
    return nullptr;
  }
  int major = 0, minor = 0;
  a.Version(&major, &minor);
  n->version_ = std::to_string(major) + "." + std::to_string(minor);
  struct stat st;
  // cuda_fp16.h and cuda_bf16.h: NVRTC finds them in the toolkit's include dir.
  if (::stat((root + "/include/cuda_fp16.h").c_str(), &st) == 0) n->include_dir_ = root + "/include";
  return n;
}

// The library stays loaded: NVRTC keeps internal allocations for the life of the process, which
// dlclose would turn into leaks (LeakSanitizer reports them in the debug build). A later load
// only bumps the loader's count.
Nvrtc::~Nvrtc() = default;

std::string Nvrtc::compile(const std::string& src, const std::string& name, const std::string& arch) const {
  const Api& a = *api_;
  nvrtcProgram prog = nullptr;
  if (nvrtcResult r = a.CreateProgram(&prog, src.c_str(), (name + ".cu").c_str(), 0, nullptr, nullptr))
    fail(ErrorKind::Compile, "NVRTC: cannot create a program for " + name + ": " + a.GetErrorString(r));
  std::string arch_opt = "--gpu-architecture=" + arch, inc = "-I" + include_dir_;
  // -default-device: every function is device code; no -use_fast_math: IEEE division, square
  // root and denormals, as the CPU computes.
  std::vector<const char*> opts{arch_opt.c_str(), "--std=c++17", "-default-device"};
  if (!include_dir_.empty()) opts.push_back(inc.c_str());
  nvrtcResult r = a.CompileProgram(prog, int(opts.size()), opts.data());
  std::string out;
  if (r == 0) {
    bool cubin = arch.rfind("sm_", 0) == 0;
    size_t n = 0;
    if (cubin ? a.GetCUBINSize(prog, &n) : a.GetPTXSize(prog, &n)) r = -1;
    else {
      out.resize(n);
      if (cubin ? a.GetCUBIN(prog, out.data()) : a.GetPTX(prog, out.data())) r = -1;
      if (!cubin && !out.empty() && out.back() == '\0') out.pop_back();
    }
  }
  if (r != 0) {
    size_t n = 0;
    std::string log;
    if (a.GetProgramLogSize(prog, &n) == 0 && n > 1) {
      log.resize(n);
      a.GetProgramLog(prog, log.data());
      log.resize(n - 1);
    }
    a.DestroyProgram(&prog);
    fail(ErrorKind::Compile, "NVRTC (" + arch + ") failed on " + name + ": " + (r > 0 ? a.GetErrorString(r) : "no output") + "\n" + log + "\n" + src);
  }
  a.DestroyProgram(&prog);
  return out;
}

}  // namespace mg::cuda
