// Profile events: what ran, where and when (kernel runs, copies, compiles, buffer allocations
// and frees, user markers). VIZ's timeline and PROFILE=1's Chrome trace read them. Off by
// default: every hook is one test of `on`.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace mg {

struct ProfileEvent {
  enum Kind : uint8_t { Kernel, Copy, Compile, Alloc, Free, Marker };
  Kind kind = Kernel;
  uint32_t name = 0;      // into Profile::strings: kernel name, marker text, "codegen E_4_4"
  uint32_t device = 0;    // into Profile::strings: "CPU"; the compiler's track is "compiler"
  uint32_t kernel = 0;    // into Profile::strings: the kernel's fn_name (links to its codegen trace), 0: none
  int64_t start_ns = 0;   // since the profile began
  int64_t dur_ns = 0;     // 0 for instants (alloc, free, marker)
  double flops = 0;       // Kernel: per run
  double bytes = 0;       // Kernel: bytes moved; Copy, Alloc, Free: the buffer's size
  uint64_t in_use = 0;    // Alloc, Free: bytes of live buffers after it
};

class Profile {
 public:
  Profile() { strings_.emplace_back(); index_.emplace("", 0); }
  bool on = false;
  // Events past this many are counted in `dropped`, not kept: a long training run with
  // PROFILE=1 must not grow without bound.
  size_t limit = 4'000'000;
  uint64_t dropped = 0;

  int64_t now_ns() const {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - origin_).count();
  }
  uint32_t intern(std::string_view s);
  void add(const ProfileEvent& e) {
    if (events_.size() < limit) events_.push_back(e);
    else dropped++;
  }
  void marker(std::string_view name, std::string_view device = "user");
  const std::vector<ProfileEvent>& events() const { return events_; }
  const std::vector<std::string>& strings() const { return strings_; }
  const std::string& str(uint32_t i) const { return strings_.at(i); }
  void clear() { events_.clear(); dropped = 0; }

 private:
  std::chrono::steady_clock::time_point origin_ = std::chrono::steady_clock::now();
  std::vector<ProfileEvent> events_;
  std::vector<std::string> strings_;
  std::unordered_map<std::string, uint32_t> index_;
};

}  // namespace mg
