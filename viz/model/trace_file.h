// VIZ's trace file: a Trace saved by one run (VIZ=1 without a display) and opened later
// (`moongrad --viz FILE`). Format: docs/viz.md. Reading checks every count, index and length
// against the bytes that are there, so a truncated or hostile file is an error, not a crash.
#pragma once
#include <optional>
#include <string>

#include "viz/model/trace_model.h"

namespace mg::viz {

inline constexpr uint32_t kTraceFileVersion = 1;

std::string encode_trace(const Trace& t);
// The trace, or nullopt with *error set ("byte 1234: node 17's source 40 is not an earlier node").
std::optional<Trace> decode_trace(const std::string& bytes, std::string* error);

// false with *error set when the file cannot be written or read.
bool save_trace(const Trace& t, const std::string& path, std::string* error);
std::optional<Trace> load_trace(const std::string& path, std::string* error);

}  // namespace mg::viz
