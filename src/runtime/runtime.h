// Runtime: the devices of a context, the buffers behind BUFFER nodes, memory in use.
#pragma once
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "runtime/device.h"

namespace mg {

class Runtime {
 public:
  explicit Runtime(HostAllocator host) : host_(host) {}
  ~Runtime();

  // Backends are registered by the C ABI (mg_ctx_create); the runtime names none.
  void add_device(std::unique_ptr<Device> d);
  Device* device(const std::string& name) const;  // nullptr when not here
  const std::vector<std::unique_ptr<Device>>& devices() const { return devices_; }
  const HostAllocator& host() const { return host_; }

  // The buffer behind a BUFFER node lives as long as the node (the UOpTable hook drops it).
  void bind(const UOp* buffer_node, BufferRef b);
  const BufferRef& buffer(const UOp* buffer_node) const;  // Error when none is bound
  void unbind(const UOp* buffer_node) noexcept;

  // Bytes of all live buffers, and the most there ever were.
  size_t bytes_in_use() const { return bytes_; }
  size_t peak_bytes() const { return peak_; }
  void count_alloc(size_t n) { bytes_ += n; if (bytes_ > peak_) peak_ = bytes_; }
  void count_free(size_t n) noexcept { bytes_ -= n; }

 private:
  HostAllocator host_;
  std::vector<std::unique_ptr<Device>> devices_;
  std::unordered_map<const UOp*, BufferRef> buffers_;
  size_t bytes_ = 0, peak_ = 0;
};

}  // namespace mg
