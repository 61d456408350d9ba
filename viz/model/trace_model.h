// The data VIZ shows, as plain values: the rewrite trace (contexts -> steps -> matches over a
// shared pool of graph nodes) and the profile events. Built from a live engine
// (from_engine.h) or read from a trace file (trace_file.h); no engine types, no ImGui.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace mg::viz {

inline constexpr uint32_t kNone = 0xffffffffu;  // "no node" (a step that failed before its output)

// One UOp. Its sources come before it in Trace::nodes, so a pool is always a DAG and ascending
// index order is a topological order.
struct Node {
  std::string op, dtype, arg, shape;  // shape: "" when the node has none
  uint8_t group = 0;                  // mg::OpGroup, for colours
  bool has_range = false;             // integer and bool nodes: vmin/vmax are known
  std::string vmin, vmax;             // decimal (the engine's range is 128-bit)
  std::vector<uint32_t> src;
};

struct Match {
  uint32_t before = kNone, after = kNone;
  std::string rule;   // the rule's name
  std::string where;  // "src/rewrite/symbolic.cpp:42"
  int64_t ns = 0;
};

struct Step {
  std::string name;
  bool bottom_up = false;
  uint32_t input = kNone, output = kNone;
  int64_t ns = 0;
  std::vector<Match> matches;
};

// What the code tabs show for a kernel's codegen context.
struct Code {
  std::string source, linear, assembly;
};

struct Context {
  std::string name;     // "schedule", "kernel r_4_4"
  std::string kernel;   // the kernel's fn_name ("" for a schedule): profile events link to it
  std::string device;
  std::vector<Step> steps;
  Code code;
  size_t match_count() const;
};

// The kinds, values and meaning of src/runtime/profile.h's ProfileEvent.
enum class EventKind : uint8_t { Kernel, Copy, Compile, Alloc, Free, Marker, Count };

struct Event {
  EventKind kind = EventKind::Kernel;
  uint32_t name = 0, device = 0, kernel = 0;  // into Trace::strings; kernel 0: none
  int64_t start_ns = 0, dur_ns = 0;
  double flops = 0, bytes = 0;
  uint64_t in_use = 0;
};

struct Trace {
  std::vector<Node> nodes;
  std::vector<Context> contexts;
  std::vector<std::string> strings{""};  // strings[0] is ""
  std::vector<Event> events;
  uint64_t dropped_events = 0;

  const std::string& str(uint32_t i) const { return strings.at(i); }
  // The context of a kernel's codegen by its fn_name; -1 when there is none.
  int context_of_kernel(const std::string& fn_name) const;
};

// Every node under root (root included), sources first; empty for kNone.
std::vector<uint32_t> graph_nodes(const Trace& t, uint32_t root);

// A node as one line: "ADD float32 arg" (no sources).
std::string node_label(const Node& n);

}  // namespace mg::viz
