// mg.jit's engine side (docs/jit.md): a capture records the kernels and copies of every realize
// in a call of the user's function, with where each of their buffers comes from; a replay runs
// them again on the new call's inputs without building or scheduling any graph.
#pragma once
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "tensor/tensor.h"

namespace mg::tensor {

class Jit {
 public:
  Jit() = default;
  ~Jit();
  Jit(const Jit&) = delete;
  Jit& operator=(const Jit&) = delete;

  void begin(Engine& e, std::span<mg_tensor* const> args);   // realizes args, starts recording
  void end(Engine& e, std::span<mg_tensor* const> outs);     // realizes outs, builds the replay
  void abort(Engine& e) noexcept;                             // drops a capture the function failed in
  std::vector<mg_tensor*> replay(Engine& e, std::span<mg_tensor* const> args);  // new handles, one per output

  bool captured() const { return captured_; }
  const std::string& unsupported() const { return unsupported_; }  // why it cannot replay ("" when it can)
  size_t kernels() const;
  size_t steps() const { return steps_.size(); }
  size_t buffers() const { return regs_.size(); }
  size_t internal_bytes() const;
  std::string describe() const;  // DEBUG=1: the steps and where their buffers come from  // memory the replay keeps between calls for its intermediates

  // For benchmarks: each kernel step's program with buffers to run it on (the replay's own where
  // it keeps them, scratch ones for arguments and outputs), so a loop can call the kernels
  // with nothing around them.
  std::vector<std::pair<Program*, std::vector<BufferRef>>> kernel_calls() const;

  // tensor::rand tells the capturing jit about each draw, so a replay draws the same way;
  // realize, which tensor's assign writes into which memory.
  void note_rand(const BufferRef& b, DType dt, int64_t numel);
  void note_host(const BufferRef& b, const void* data, size_t nbytes);  // tensor::from_host
  void note_assign(mg_tensor* t, const BufferRef& memory);

 private:
  // Where a buffer of the replay comes from.
  enum class Source : uint8_t {
    Arg,       // the index-th argument's buffer
    State,     // memory of a tensor that existed before the call (a parameter, a dataset), kept
    Rand,      // refilled from the context's RNG each replay (index: the draw)
    Const,     // made inside the function from host data: the same every call (rewritten
               // from `initial` before the steps when a step writes it)
    Internal,  // written by a step and used only inside the call: kept between calls
    Output     // written by a step and returned: fresh each call
  };
  struct Reg {
    Source source = Source::Const;
    int index = 0;
    mg_tensor* handle = nullptr;  // State written by a step: the tensor whose assign wrote it (retained)
    BufferRef buf;                // all but Arg and Output: the buffer used every replay
    std::vector<unsigned char> initial;  // Const written by a step: its host data
    size_t bytes = 0;
    Device* device = nullptr;
  };
  struct Step {
    const CachedProgram* kernel = nullptr;  // nullptr: a copy regs[0] <- regs[1]
    Device* device = nullptr;
    std::vector<int> regs;
    size_t bytes = 0;
    std::vector<void*> ptrs;  // the kernel's parameters: fixed ones filled at capture, the rest per call
    std::vector<int64_t*> vars;  // the kernel's variables (Runtime::var_values: read when it runs)
  };
  // The fast loop's view of a step: the program (nullptr: a copy) and its parameters.
  struct Launch { Program* program; void* const* ptrs; };
  // A parameter that changes per call: steps_[step].ptrs[slot] is reg's buffer.
  struct Patch { uint32_t step, slot; int reg; };
  struct Draw { DType dt; int64_t numel = 0; int reg = -1; };
  struct Signature { Shape shape; DType dt; Device* device = nullptr; };
  struct OutputInfo { int reg = 0; Shape shape; DType dt; Device* device = nullptr; };

  void reset() noexcept;
  void plan_internal();
  void keep_old_contents(Engine& e, const Reg& r);

  std::vector<Reg> regs_;
  std::vector<Step> steps_;
  std::vector<Draw> draws_;
  std::vector<Signature> args_;
  std::vector<OutputInfo> outs_;
  std::vector<bool> written_;  // per reg: some step writes it
  std::vector<Patch> patches_;
  std::vector<Launch> launches_;  // per step
  std::vector<int> per_call_;       // regs touched each call: arguments, outputs, assigned states, restored host data
  std::vector<BufferRef> fresh_;    // the arguments' and outputs' buffers during a replay
  bool captured_ = false;
  std::string unsupported_;

  // While capturing.
  std::unique_ptr<Recording> rec_;
  std::vector<BufferRef> arg_bufs_;
  // Live tensors' memory at begin, held until end, so that no buffer freed inside the call can
  // be mistaken for one of these by address.
  std::unordered_map<const Buffer*, BufferRef> before_;
  std::unordered_map<const Buffer*, mg_tensor*> assigned_;  // retained
  void drop_assigned() noexcept;
  std::vector<std::pair<BufferRef, Draw>> drawn_;
  std::unordered_map<const Buffer*, std::pair<BufferRef, std::vector<unsigned char>>> host_made_;
};

// The jits of a context, by id (the C ABI hands out ids, so a stale one is an error, not a crash).
struct Jits {
  std::unordered_map<int64_t, std::unique_ptr<Jit>> by_id;
  int64_t next_id = 1;
  Jit* capturing = nullptr;
  Jit& get(int64_t id);
};

}  // namespace mg::tensor
