#include "viz/model/timeline.h"

#include <algorithm>

namespace mg::viz {

int track_of(const Timeline& tl, const std::string& name) {
  for (size_t i = 0; i < tl.tracks.size(); i++)
    if (tl.tracks[i].name == name) return int(i);
  return -1;
}

Timeline build_timeline(const Trace& t) {
  Timeline tl;
  std::vector<Track> devices, compiler(1), user(1);
  compiler[0].name = "compiler";
  user[0].name = "user";
  bool any = false;
  for (uint32_t i = 0; i < t.events.size(); i++) {
    const Event& e = t.events[i];
    tl.start_ns = any ? std::min(tl.start_ns, e.start_ns) : e.start_ns;
    tl.end_ns = any ? std::max(tl.end_ns, e.start_ns + e.dur_ns) : e.start_ns + e.dur_ns;
    any = true;
    switch (e.kind) {
      case EventKind::Kernel:
      case EventKind::Copy: {
        const std::string& dev = t.str(e.device);
        auto it = std::find_if(devices.begin(), devices.end(), [&](const Track& k) { return k.name == dev; });
        if (it == devices.end()) { devices.push_back({dev, {}}); it = devices.end() - 1; }
        it->events.push_back(i);
        break;
      }
      case EventKind::Compile: compiler[0].events.push_back(i); break;
      case EventKind::Marker: user[0].events.push_back(i); break;
      case EventKind::Alloc:
      case EventKind::Free:
        tl.memory.push_back({e.start_ns, e.in_use});
        tl.peak = std::max(tl.peak, e.in_use);
        break;
      case EventKind::Count: break;
    }
  }
  tl.tracks = std::move(devices);
  if (!compiler[0].events.empty()) tl.tracks.push_back(std::move(compiler[0]));
  if (!user[0].events.empty()) tl.tracks.push_back(std::move(user[0]));
  for (Track& k : tl.tracks)
    std::stable_sort(k.events.begin(), k.events.end(), [&](uint32_t a, uint32_t b) { return t.events[a].start_ns < t.events[b].start_ns; });
  std::stable_sort(tl.memory.begin(), tl.memory.end(), [](const auto& a, const auto& b) { return a.t_ns < b.t_ns; });
  return tl;
}

}  // namespace mg::viz
