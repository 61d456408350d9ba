#include "runtime/profile.h"

namespace mg {

uint32_t Profile::intern(std::string_view s) {
  auto it = index_.find(std::string(s));
  if (it != index_.end()) return it->second;
  uint32_t id = uint32_t(strings_.size());
  strings_.emplace_back(s);
  index_.emplace(strings_.back(), id);
  return id;
}

void Profile::marker(std::string_view name, std::string_view device) {
  ProfileEvent e;
  e.kind = ProfileEvent::Marker;
  e.name = intern(name);
  e.device = intern(device);
  e.start_ns = now_ns();
  add(e);
}

}  // namespace mg
