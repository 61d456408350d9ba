#include "runtime/runtime.h"

#include <cstdio>

#include "uop/error.h"

namespace mg {

Runtime::~Runtime() {
  buffers_.clear();  // buffers go back to their devices before the devices go
  programs.clear();  // and programs before the devices that made them
}

int64_t* Runtime::var_value(const UOp* var) {
  auto it = var_values.find(var);
  if (it == var_values.end())
    fail(ErrorKind::Invalid, "variable '" + std::get<VarArg>(var->arg).name + "' is not bound: bind a value first (v:bind(n))");
  return &it->second;
}

void Runtime::debug_line(const std::string& s) const {
  if (log) log(s);
  else std::fprintf(stderr, "%s\n", s.c_str());
}

void Runtime::profile_buffer(ProfileEvent::Kind k, const Device& d, size_t n) noexcept {
  try {  // a profile that cannot grow must not fail the free that called it
    ProfileEvent e;
    e.kind = k;
    e.name = profile.intern(k == ProfileEvent::Alloc ? "alloc" : "free");
    e.device = profile.intern(d.name());
    e.start_ns = profile.now_ns();
    e.bytes = double(n);
    e.in_use = bytes_;
    profile.add(e);
  } catch (...) {
    profile.dropped++;
  }
}

void Runtime::add_device(std::unique_ptr<Device> d) { devices_.push_back(std::move(d)); }

Device* Runtime::device(const std::string& name) const {
  for (const auto& d : devices_)
    if (d->name() == name) return d.get();
  return nullptr;
}

void Runtime::bind(const UOp* buffer_node, BufferRef b) { buffers_[buffer_node] = std::move(b); }

const BufferRef& Runtime::buffer(const UOp* buffer_node) const {
  auto it = buffers_.find(buffer_node);
  if (it == buffers_.end() || !it->second)
    fail(ErrorKind::Freed, "the buffer of " + node_str(buffer_node) + " was freed");
  return it->second;
}

void Runtime::unbind(const UOp* buffer_node) noexcept { buffers_.erase(buffer_node); }

}  // namespace mg
