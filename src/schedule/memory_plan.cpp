// The memory plan of a schedule: temporaries whose lifetimes do not overlap share memory.
#include <algorithm>

#include "schedule/schedule.h"

namespace mg::schedule {

namespace {
size_t bytes_of(const Schedule& s, size_t t) { return size_t(s.temp_numel[t]) * size_t(s.temp_dtype[t].itemsize()); }
}  // namespace

size_t temp_bytes(const Schedule& s) {
  size_t n = 0;
  for (size_t t = 0; t < s.temp_numel.size(); t++) n += bytes_of(s, t);
  return n;
}

void plan_memory(Schedule& s) {
  s.temp_arena.assign(s.temp_numel.size(), -1);
  s.arena_bytes.clear();
  s.arena_last_use.clear();
  for (size_t i = 0; i < s.items.size(); i++) {
    const Slot& out = s.items[i].bufs[0];
    if (out.kind != Slot::Temp || s.temp_arena[size_t(out.index)] >= 0) continue;
    const size_t t = size_t(out.index), need = bytes_of(s, t);
    // Free now: the arena's last reader ran before this item. Best fit, else grow the largest.
    int best = -1, largest = -1;
    for (size_t a = 0; a < s.arena_bytes.size(); a++) {
      if (s.arena_last_use[a] >= int(i)) continue;
      if (s.arena_bytes[a] >= need && (best < 0 || s.arena_bytes[a] < s.arena_bytes[size_t(best)])) best = int(a);
      if (largest < 0 || s.arena_bytes[a] > s.arena_bytes[size_t(largest)]) largest = int(a);
    }
    int a = best >= 0 ? best : largest;
    if (a < 0) {
      a = int(s.arena_bytes.size());
      s.arena_bytes.push_back(0);
      s.arena_last_use.push_back(-1);
    }
    s.temp_arena[t] = a;
    if (s.arena_bytes[size_t(a)] < need) s.arena_bytes[size_t(a)] = need;
    // A temp nobody reads still lives through the item that writes it.
    s.arena_last_use[size_t(a)] = std::max(int(i), s.temp_last_use[t]);
  }
}

}  // namespace mg::schedule
