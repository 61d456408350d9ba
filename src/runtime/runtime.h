// Runtime: the devices of a context, the buffers behind BUFFER nodes, memory in use.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "runtime/device.h"
#include "schedule/schedule.h"

namespace mg {

// What ran: kernel-count tests and DEBUG=1 read these.
struct RuntimeStats {
  uint64_t kernels_run = 0, kernels_compiled = 0, copies = 0;
  uint64_t schedules_made = 0, schedule_cache_hits = 0;
};

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

  // DEBUG level (0: quiet) and where its lines go.
  int debug = 0;
  std::function<void(const std::string&)> log;
  void debug_line(const std::string& s) const;
  RuntimeStats stats;

  // Schedules by the structure of their graph (schedule::normalize), programs by device and
  // kernel AST. Each entry holds its key node, so the address cannot be reused.
  struct CachedSchedule { UOpRef key; schedule::Schedule s; };
  struct CachedProgram { UOpRef ast; codegen::Kernel kernel; std::unique_ptr<Program> program; };
  std::unordered_map<const UOp*, CachedSchedule> schedules;
  std::map<std::pair<const Device*, const UOp*>, CachedProgram> programs;

 private:
  HostAllocator host_;
  std::vector<std::unique_ptr<Device>> devices_;
  std::unordered_map<const UOp*, BufferRef> buffers_;
  size_t bytes_ = 0, peak_ = 0;
};

}  // namespace mg
