// NVRTC, loaded at run time with dlopen (the build does not link CUDA): CUDA C -> CUBIN or PTX.
#pragma once
#include <memory>
#include <string>
#include <vector>

namespace mg::cuda {

class Nvrtc {
 public:
  // libnvrtc from $CUDA_PATH/lib64, /usr/local/cuda/lib64 or the loader's path; nullptr (with
  // the reason in `why`) when there is none.
  static std::unique_ptr<Nvrtc> load(std::string* why);
  ~Nvrtc();
  Nvrtc(const Nvrtc&) = delete;
  Nvrtc& operator=(const Nvrtc&) = delete;

  // Compiles one translation unit for `arch`: "sm_90" gives a CUBIN, "compute_90" PTX (text).
  // Error(Compile) with NVRTC's log when it fails. Safe to call from several threads.
  std::string compile(const std::string& src, const std::string& name, const std::string& arch) const;
  // "13.0": part of every compile cache key.
  const std::string& version() const { return version_; }

 private:
  Nvrtc() = default;
  struct Api;
  void* lib_ = nullptr;
  std::unique_ptr<Api> api_;
  std::string version_, include_dir_;
};

// The toolkit's root: $CUDA_PATH, else /usr/local/cuda.
std::string cuda_root();

}  // namespace mg::cuda
