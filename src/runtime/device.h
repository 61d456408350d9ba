// Devices and their buffers: the one interface the runtime drives every backend through.
#pragma once
#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "codegen/codegen.h"
#include "uop/uop.h"

namespace mg {

class Device;
class Runtime;

// Memory on a device. Freed (through its device) when the last reference goes.
class Buffer {
 public:
  Buffer(Device* dev, size_t nbytes);
  ~Buffer();
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  Device* device() const { return dev_; }
  size_t nbytes() const { return nbytes_; }
  void* ptr() const { return ptr_; }

 private:
  Device* dev_;
  size_t nbytes_;
  void* ptr_;
};
using BufferRef = std::shared_ptr<Buffer>;

// Where host-memory devices get their bytes: the embedding host's callbacks, or the heap.
// Host memory for buffers: 64-byte aligned, with at least kReadSlackBytes readable past the end,
// so that a vector load of a kernel's padded lanes may run past the last element (see
// codegen::Target::read_slack_bytes).
constexpr size_t kReadSlackBytes = 64;
struct HostAllocator {
  void* user = nullptr;
  void* (*alloc)(void* user, size_t size, size_t align) = nullptr;
  void (*free)(void* user, void* ptr) = nullptr;
  void* allocate(size_t n) const;
  void release(void* p) const noexcept;
};

// A compiled kernel, ready to run on its device's buffers (pointers in parameter order).
class Program {
 public:
  virtual ~Program() = default;
  virtual void run(void* const* bufs) = 0;
  // Runs and returns the seconds the kernel took (DEBUG=2): measured by the device where it can
  // (CUDA events, which wait for it); by default the host's clock around run().
  virtual double run_timed(void* const* bufs);
  virtual std::string source() const { return ""; }    // what was compiled (DEBUG=4)
  virtual std::string assembly() const { return ""; }  // DEBUG=7, where the device can say
};

class Device {
 public:
  Device(std::string name, Runtime& rt) : name_(std::move(name)), rt_(rt) {}
  virtual ~Device() = default;
  const std::string& name() const { return name_; }
  Runtime& runtime() const { return rt_; }

  virtual void* alloc(size_t nbytes) = 0;                    // Error(OOM) when it cannot
  virtual void free(void* ptr, size_t nbytes) noexcept = 0;
  virtual void copy_in(void* dst, const void* src, size_t nbytes) = 0;   // host -> device
  virtual void copy_out(void* dst, const void* src, size_t nbytes) = 0;  // device -> host
  virtual bool host_visible() const { return false; }        // device pointers are host pointers

  // Computes each root (a tensor-level graph whose leaves are BUFFER and CONST nodes) into a
  // new buffer of this device. Devices without a graph evaluator leave it to the scheduler.
  virtual bool evaluates_graphs() const { return false; }
  virtual std::vector<BufferRef> evaluate(std::span<const UOpRef> roots);

  // Devices that compile kernels: what codegen may emit for them (nullptr: they do not), and
  // rendering plus compiling a lowered kernel. A kernel that fails is an Error(Compile)
  // naming it, with the compiler's diagnostic.
  virtual const codegen::Target* target() const { return nullptr; }
  virtual std::unique_ptr<Program> compile(const codegen::Kernel& k);
  // Several kernels at once, where the backend can share the work (one LLVM module): the
  // default compiles them one by one.
  virtual std::vector<std::unique_ptr<Program>> compile_batch(std::span<const codegen::Kernel* const> ks);

 private:
  std::string name_;
  Runtime& rt_;
};

}  // namespace mg
