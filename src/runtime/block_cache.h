// BlockCache: freed device blocks kept by size for the next allocation of that size. Fresh
// memory costs page faults on first touch (a 64 MiB output takes longer to fault in than to
// compute), and a training step frees and allocates the same sizes every time.
#pragma once
#include <cstddef>
#include <unordered_map>
#include <vector>

namespace mg {

class BlockCache {
 public:
  explicit BlockCache(size_t cap_bytes) : cap_(cap_bytes) {}
  // A cached block of exactly n bytes, or nullptr.
  void* take(size_t n) {
    auto it = free_.find(n);
    if (it == free_.end() || it->second.empty()) return nullptr;
    void* p = it->second.back();
    it->second.pop_back();
    held_ -= n;
    return p;
  }
  // Keeps p for reuse; false when the cache is full (the caller releases it).
  bool give(void* p, size_t n) {
    if (held_ + n > cap_) return false;
    free_[n].push_back(p);
    held_ += n;
    return true;
  }
  template <class Release> void drain(Release release) {
    for (auto& [n, v] : free_)
      for (void* p : v) release(p, n);
    free_.clear();
    held_ = 0;
  }
  size_t held() const { return held_; }

 private:
  size_t cap_, held_ = 0;
  std::unordered_map<size_t, std::vector<void*>> free_;
};

}  // namespace mg
