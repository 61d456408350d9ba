// Tensor handles: creation, reference counting, the live list, device lookup.
#include "tensor/tensor.h"
#include "uop/error.h"

namespace mg::tensor {

mg_tensor* wrap(Engine& e, UOpRef u, Device* dev) {
  mg_tensor* t = new mg_tensor;
  t->eng = &e;
  t->uop = std::move(u);
  t->device = dev;
  t->next = e.live;
  if (e.live) e.live->prev = t;
  e.live = t;
  return t;
}

void retain(mg_tensor* t) { t->refs++; }

void release(mg_tensor* t) noexcept {
  if (!t || --t->refs) return;
  if (t->eng) {
    if (t->prev) t->prev->next = t->next;
    else t->eng->live = t->next;
    if (t->next) t->next->prev = t->prev;
  }
  delete t;
}

void check_live(const mg_tensor* t, const char* op) {
  if (!t) fail(ErrorKind::Invalid, std::string(op) + ": tensor is NULL");
  if (!t->eng) fail(ErrorKind::Freed, std::string(op) + ": the tensor's context was destroyed");
  if (t->freed) fail(ErrorKind::Freed, std::string(op) + ": tensor used after free()");
}

const Shape& shape(const mg_tensor* t) { return *t->uop->shape(); }

int64_t numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) {
    if (is_sym(d)) fail(ErrorKind::Shape, "shape " + shape_str(s) + " has a variable size: its element count is known once it is bound");
    if (__builtin_mul_overflow(n, d, &n)) fail(ErrorKind::Shape, "shape " + shape_str(s) + " has more elements than fit in 64 bits");
  }
  return n;
}

Shape concrete(Engine& e, Shape s) {
  for (int64_t& d : s)
    if (is_sym(d)) d = *e.runtime.var_value(e.uops.sym_var(d).get());
  return s;
}

Device* find_device(Engine& e, const char* name) {
  if (!name || !*name) {
    if (!e.default_device) fail(ErrorKind::Device, "no device is available");
    return e.default_device;
  }
  std::string n(name);
  for (char& c : n) c = char(std::toupper(static_cast<unsigned char>(c)));
  if (Device* d = e.runtime.device(n)) return d;
  std::string have;
  for (const auto& d : e.runtime.devices()) have += (have.empty() ? "" : ", ") + d->name();
  auto why = e.runtime.unavailable.find(n);
  fail(ErrorKind::Device, "device '" + std::string(name) + "' is not available here (available: " + have + ")" +
                              (why != e.runtime.unavailable.end() ? ": " + why->second : ""));
}

}  // namespace mg::tensor
