#include "backends/cuda/cuda_compile.h"

#include <cstdio>

#include "uop/arg.h"
#include "uop/error.h"

namespace mg::cuda {

std::string cache_key(const Nvrtc& nvrtc, const std::string& src, const std::string& arch) {
  char h[40];
  std::snprintf(h, sizeof h, "%016llx%016llx", static_cast<unsigned long long>(hash_bytes(src.data(), src.size())),
                static_cast<unsigned long long>(hash_bytes(src.data(), src.size(), 0x6d67)));
  return std::string("cuda ") + h + " " + arch + " nvrtc " + nvrtc.version();
}

std::string compile_cached(const Nvrtc& nvrtc, CompileCache& cache, const std::string& src, const std::string& fn_name,
                           const std::string& arch, const std::string& what, bool* hit) {
  const std::string key = cache_key(nvrtc, src, arch);
  if (std::optional<std::string> c = cache.get(key)) {
    if (hit) *hit = true;
    return std::move(*c);
  }
  if (hit) *hit = false;
  std::string out;
  try {
    out = nvrtc.compile(src, fn_name, arch);
  } catch (const Error& e) {
    fail(ErrorKind::Compile, what + ": " + e.what());
  }
  cache.put(key, out);
  return out;
}

}  // namespace mg::cuda
