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

ArenaPlan plan_arenas(std::span<const Lifetime> lives) {
  ArenaPlan p;
  for (const Lifetime& l : lives) {
    // Free now: the arena's last reader ran before this one starts. Best fit, else grow the largest.
    int best = -1, largest = -1;
    for (size_t a = 0; a < p.bytes.size(); a++) {
      if (p.last[a] >= l.first || p.pool[a] != l.pool) continue;
      if (p.bytes[a] >= l.bytes && (best < 0 || p.bytes[a] < p.bytes[size_t(best)])) best = int(a);
      if (largest < 0 || p.bytes[a] > p.bytes[size_t(largest)]) largest = int(a);
    }
    int a = best >= 0 ? best : largest;
    if (a < 0) {
      a = int(p.bytes.size());
      p.bytes.push_back(0);
      p.last.push_back(-1);
      p.pool.push_back(l.pool);
    }
    p.of.push_back(a);
    p.bytes[size_t(a)] = std::max(p.bytes[size_t(a)], l.bytes);
    p.last[size_t(a)] = std::max(l.first, l.last);  // one nobody reads still lives through its start
  }
  return p;
}

void plan_memory(Schedule& s) {
  // Temps in the order the items write them; each lives until its last reader.
  std::vector<Lifetime> lives;
  std::vector<size_t> temp_of;
  std::vector<bool> met(s.temp_numel.size(), false);
  for (size_t i = 0; i < s.items.size(); i++) {
    const Slot& out = s.items[i].bufs[0];
    if (out.kind != Slot::Temp || met[size_t(out.index)]) continue;
    const size_t t = size_t(out.index);
    met[t] = true;
    lives.push_back(Lifetime{int(i), s.temp_last_use[t], bytes_of(s, t), nullptr});
    temp_of.push_back(t);
  }
  ArenaPlan p = plan_arenas(lives);
  s.temp_arena.assign(s.temp_numel.size(), -1);
  for (size_t k = 0; k < temp_of.size(); k++) s.temp_arena[temp_of[k]] = p.of[k];
  s.arena_bytes = std::move(p.bytes);
  s.arena_last_use = std::move(p.last);
}

}  // namespace mg::schedule
