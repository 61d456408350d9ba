#include "viz/model/chrome_trace.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "viz/model/timeline.h"

namespace mg::viz {

namespace {

void json_str(std::string& o, const std::string& s) {
  o += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"': o += "\\\""; break;
      case '\\': o += "\\\\"; break;
      case '\n': o += "\\n"; break;
      case '\t': o += "\\t"; break;
      case '\r': o += "\\r"; break;
      default:
        if (c < 0x20) {
          char b[8];
          std::snprintf(b, sizeof b, "\\u%04x", c);
          o += b;
        } else {
          o += char(c);  // UTF-8 passes through
        }
    }
  }
  o += '"';
}

// JSON has no inf or NaN: those become 0.
std::string num(double v) {
  if (!std::isfinite(v)) return "0";
  char b[40];
  std::snprintf(b, sizeof b, "%.17g", v);
  return b;
}

std::string us(int64_t ns) {
  char b[40];
  std::snprintf(b, sizeof b, "%.3f", double(ns) / 1e3);
  return b;
}

}  // namespace

std::string chrome_trace_json(const Trace& t) {
  const Timeline tl = build_timeline(t);
  std::string o = "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n";
  bool first = true;
  auto sep = [&]() { if (!first) o += ",\n"; first = false; };
  sep();
  o += R"({"ph":"M","pid":1,"name":"process_name","args":{"name":"moongrad"}})";
  for (size_t k = 0; k < tl.tracks.size(); k++) {
    sep();
    o += R"({"ph":"M","pid":1,"tid":)" + std::to_string(k + 1) + R"(,"name":"thread_name","args":{"name":)";
    json_str(o, tl.tracks[k].name);
    o += "}}";
  }
  for (size_t k = 0; k < tl.tracks.size(); k++) {
    for (uint32_t i : tl.tracks[k].events) {
      const Event& e = t.events[i];
      sep();
      o += "{\"name\":";
      json_str(o, t.str(e.name));
      const char* cat = e.kind == EventKind::Kernel ? "kernel" : e.kind == EventKind::Copy ? "copy" : e.kind == EventKind::Compile ? "compile" : "marker";
      o += ",\"cat\":\"" + std::string(cat) + "\",\"pid\":1,\"tid\":" + std::to_string(k + 1) + ",\"ts\":" + us(e.start_ns);
      if (e.kind == EventKind::Marker) {
        o += ",\"ph\":\"i\",\"s\":\"g\"}";
        continue;
      }
      o += ",\"ph\":\"X\",\"dur\":" + us(e.dur_ns) + ",\"args\":{";
      if (e.kind == EventKind::Kernel) {
        const double s = double(e.dur_ns) * 1e-9;
        o += "\"flops\":" + num(e.flops) + ",\"bytes\":" + num(e.bytes);
        o += ",\"GFLOP/s\":" + num(s > 0 ? e.flops / s * 1e-9 : 0) + ",\"GB/s\":" + num(s > 0 ? e.bytes / s * 1e-9 : 0);
        if (e.kernel) { o += ",\"kernel\":"; json_str(o, t.str(e.kernel)); }
        o += ",\"device\":";
        json_str(o, t.str(e.device));
      } else if (e.kind == EventKind::Copy) {
        o += "\"bytes\":" + num(e.bytes);
      } else if (e.kernel) {
        o += "\"kernel\":";
        json_str(o, t.str(e.kernel));
      }
      o += "}}";
    }
  }
  for (const Timeline::MemPoint& p : tl.memory) {
    sep();
    o += R"({"name":"memory in use","ph":"C","pid":1,"ts":)" + us(p.t_ns) + R"(,"args":{"bytes":)" + std::to_string(p.bytes) + "}}";
  }
  o += "\n]}\n";
  return o;
}

bool save_chrome_trace(const Trace& t, const std::string& path, std::string* error) {
  const std::string s = chrome_trace_json(t);
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) {
    if (error) *error = "cannot open " + path + " for writing: " + std::strerror(errno);
    return false;
  }
  const bool ok = std::fwrite(s.data(), 1, s.size(), f) == s.size();
  if (std::fclose(f) != 0 || !ok) {
    if (error) *error = "cannot write " + path;
    return false;
  }
  return true;
}

}  // namespace mg::viz
