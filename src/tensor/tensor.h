// Tensor handles and the primitive graph-building ops, with shape and dtype checks.
// Composite ops (matmul, softmax, conv2d...) are written in Lua on top of these.
#pragma once
#include <span>
#include <vector>

#include "tensor/engine.h"

// A reference-counted handle to a lazy tensor (a UOp) on a device.
struct mg_tensor {
  uint32_t refs = 1;
  mg::Engine* eng = nullptr;  // nullptr once the context is gone
  mg::UOpRef uop;
  mg::Device* device = nullptr;
  // After assign, until realized: the BUFFER node of the memory the tensor had, which the
  // assigned value is written into (the tensor keeps its memory).
  mg::UOpRef target;
  bool freed = false;
  mg_tensor* prev = nullptr;
  mg_tensor* next = nullptr;
};

namespace mg::tensor {

mg_tensor* wrap(Engine& e, UOpRef u, Device* dev);
void retain(mg_tensor* t);
void release(mg_tensor* t) noexcept;
void check_live(const mg_tensor* t, const char* op);  // Error(Freed) after free or context end

const Shape& shape(const mg_tensor* t);
int64_t numel(const Shape& s);  // Error for a symbolic shape
Shape concrete(Engine& e, Shape s);  // each variable at its bound value (Error when unbound)
Device* find_device(Engine& e, const char* name);  // nullptr/empty: the default; Error otherwise

mg_tensor* from_host(Engine& e, const void* data, DType dt, const Shape& s, Device* dev);
mg_tensor* full(Engine& e, const Arg& value, DType dt, const Shape& s, Device* dev);
mg_tensor* rand(Engine& e, DType dt, const Shape& s, Device* dev);  // uniform in [0, 1)
void random_fill(Rng& rng, DType dt, int64_t n, unsigned char* out);  // rand's values, n of them

mg_tensor* alu(Engine& e, Ops op, std::span<mg_tensor* const> src);
mg_tensor* cast(Engine& e, mg_tensor* x, DType dt);
mg_tensor* bitcast(Engine& e, mg_tensor* x, DType dt);
mg_tensor* reduce(Engine& e, Ops op, mg_tensor* x, std::vector<int64_t> axes);
mg_tensor* movement(Engine& e, Ops op, mg_tensor* x, std::vector<int64_t> arg);
mg_tensor* contiguous(Engine& e, mg_tensor* x);
mg_tensor* detach(Engine& e, mg_tensor* x);
mg_tensor* to_device(Engine& e, mg_tensor* x, Device* dev);

UOpRef buffer_view(Engine& e, Device* dev, DType dt, const Shape& s, BufferRef b);  // a new realized value
const UOp* buffer_of(const UOp* u);  // the BUFFER behind a realized tensor's node, else nullptr
void assign(Engine& e, mg_tensor* x, mg_tensor* y);
// Binds the BUFFER node b to a copy of its memory, so what reads b keeps today's contents
// while the memory itself is overwritten (an assign keeps its tensor's memory).
void move_to_copy(Engine& e, const UOp* b);
void realize(Engine& e, std::span<mg_tensor* const> ts);
// ts and every tensor with an assign not yet realized, in one schedule (the end of a jit call).
void realize_with_assigns(Engine& e, std::span<mg_tensor* const> ts);
void copy_out(Engine& e, mg_tensor* t, void* dst, size_t nbytes);
const void* host_ptr(Engine& e, mg_tensor* t);
void free_buffer(Engine& e, mg_tensor* t);

}  // namespace mg::tensor
