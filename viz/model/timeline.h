// The timeline's rows: one track per device (kernel runs and copies), one for the compiler,
// one for user markers; and the memory-in-use curve from buffer events.
#pragma once
#include <string>
#include <vector>

#include "viz/model/trace_model.h"

namespace mg::viz {

struct Track {
  std::string name;             // "CPU", "compiler", "user"
  std::vector<uint32_t> events;  // into Trace::events, by start time
};

struct Timeline {
  std::vector<Track> tracks;  // devices first (in order of first event), then compiler, then user
  struct MemPoint { int64_t t_ns; uint64_t bytes; };
  std::vector<MemPoint> memory;  // after each alloc and free, in time order
  uint64_t peak = 0;
  int64_t start_ns = 0, end_ns = 0;  // of all events
};

Timeline build_timeline(const Trace& t);
int track_of(const Timeline& tl, const std::string& name);  // -1 when absent

}  // namespace mg::viz
