#include "viz/model/trace_file.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace mg::viz {

namespace {

constexpr char kMagic[8] = {'M', 'G', 'V', 'I', 'Z', 'T', 'R', '\n'};
constexpr char kEnd[4] = {'E', 'N', 'D', '\n'};

// Little-endian, fixed width: the file means the same on every machine.
class Writer {
 public:
  void raw(const void* p, size_t n) { out.append(static_cast<const char*>(p), n); }
  void u8(uint8_t v) { out.push_back(char(v)); }
  void u32(uint32_t v) { for (int i = 0; i < 4; i++) out.push_back(char((v >> (8 * i)) & 0xff)); }
  void u64(uint64_t v) { for (int i = 0; i < 8; i++) out.push_back(char((v >> (8 * i)) & 0xff)); }
  void i64(int64_t v) { u64(uint64_t(v)); }
  void f64(double v) { uint64_t b; std::memcpy(&b, &v, 8); u64(b); }
  void str(const std::string& s) { u32(uint32_t(s.size())); out += s; }
  std::string out;
};

struct Bad : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Reader {
 public:
  explicit Reader(const std::string& s) : s_(s) {}
  [[noreturn]] void fail(const std::string& what) const { throw Bad("byte " + std::to_string(pos_) + ": " + what); }
  size_t left() const { return s_.size() - pos_; }
  void need(size_t n, const char* what) const {
    if (left() < n) fail(std::string("the file ends inside ") + what + " (truncated?)");
  }
  uint8_t u8(const char* what) { need(1, what); return uint8_t(s_[pos_++]); }
  // A little-endian unsigned integer of sizeof(U) bytes.
  template <class U> U uint_le(const char* what) {
    need(sizeof(U), what);
    U v = 0;
    for (size_t i = 0; i < sizeof(U); i++) v |= U(uint8_t(s_[pos_ + i])) << (8 * i);
    pos_ += sizeof(U);
    return v;
  }
  uint32_t u32(const char* what) { return uint_le<uint32_t>(what); }
  uint64_t u64(const char* what) { return uint_le<uint64_t>(what); }
  int64_t i64(const char* what) { return int64_t(u64(what)); }
  double f64(const char* what) { uint64_t b = u64(what); double v; std::memcpy(&v, &b, 8); return v; }
  std::string str(const char* what) {
    uint32_t n = u32(what);
    need(n, what);
    std::string v = s_.substr(pos_, n);
    pos_ += n;
    return v;
  }
  // A count of items of at least min_bytes each: more than the rest of the file could hold is
  // an error before anything is allocated for them.
  uint32_t count(const char* what, size_t min_bytes) {
    uint32_t n = u32(what);
    if (size_t(n) * min_bytes > left())
      fail(std::to_string(n) + " " + what + " cannot fit in the " + std::to_string(left()) + " bytes left (truncated or corrupt)");
    return n;
  }
  bool match(const char* bytes, size_t n) {
    if (left() < n || std::memcmp(s_.data() + pos_, bytes, n) != 0) return false;
    pos_ += n;
    return true;
  }

 private:
  const std::string& s_;
  size_t pos_ = 0;
};

uint32_t node_ref(Reader& r, size_t nodes, const char* what) {
  uint32_t v = r.u32(what);
  if (v != kNone && v >= nodes) r.fail(std::string(what) + " " + std::to_string(v) + " is not a node (there are " + std::to_string(nodes) + ")");
  return v;
}

Trace decode(Reader& r) {
  if (!r.match(kMagic, sizeof kMagic)) r.fail("not a moongrad VIZ trace file (no MGVIZTR header)");
  uint32_t version = r.u32("the version");
  if (version != kTraceFileVersion)
    r.fail("trace file version " + std::to_string(version) + ", this moongrad reads version " + std::to_string(kTraceFileVersion));
  Trace t;
  const uint32_t nn = r.count("nodes", 4 * 6 + 2 + 4);
  t.nodes.reserve(nn);
  for (uint32_t i = 0; i < nn; i++) {
    Node n;
    n.op = r.str("a node's op");
    n.dtype = r.str("a node's dtype");
    n.arg = r.str("a node's arg");
    n.shape = r.str("a node's shape");
    n.group = r.u8("a node's group");
    uint8_t hr = r.u8("a node's range flag");
    if (hr > 1) r.fail("node " + std::to_string(i) + "'s range flag is " + std::to_string(hr) + " (0 or 1)");
    n.has_range = hr == 1;
    n.vmin = r.str("a node's vmin");
    n.vmax = r.str("a node's vmax");
    const uint32_t ns = r.count("sources", 4);
    n.src.reserve(ns);
    for (uint32_t k = 0; k < ns; k++) {
      uint32_t s = r.u32("a node's source");
      if (s >= i) r.fail("node " + std::to_string(i) + "'s source " + std::to_string(s) + " is not an earlier node");
      n.src.push_back(s);
    }
    t.nodes.push_back(std::move(n));
  }
  const uint32_t nc = r.count("contexts", 4 * 7);
  t.contexts.reserve(nc);
  for (uint32_t i = 0; i < nc; i++) {
    Context c;
    c.name = r.str("a context's name");
    c.kernel = r.str("a context's kernel");
    c.device = r.str("a context's device");
    c.code.source = r.str("a kernel's source");
    c.code.linear = r.str("a kernel's linear program");
    c.code.assembly = r.str("a kernel's assembly");
    const uint32_t nst = r.count("steps", 4 + 1 + 4 + 4 + 8 + 4);
    c.steps.reserve(nst);
    for (uint32_t k = 0; k < nst; k++) {
      Step s;
      s.name = r.str("a step's name");
      uint8_t bu = r.u8("a step's direction");
      if (bu > 1) r.fail("a step's direction flag is " + std::to_string(bu) + " (0 or 1)");
      s.bottom_up = bu == 1;
      s.input = node_ref(r, t.nodes.size(), "a step's input");
      s.output = node_ref(r, t.nodes.size(), "a step's output");
      s.ns = r.i64("a step's time");
      const uint32_t nm = r.count("matches", 4 + 4 + 4 + 4 + 8);
      s.matches.reserve(nm);
      for (uint32_t m = 0; m < nm; m++) {
        Match x;
        x.before = node_ref(r, t.nodes.size(), "a match's before");
        x.after = node_ref(r, t.nodes.size(), "a match's after");
        x.rule = r.str("a rule's name");
        x.where = r.str("a rule's location");
        x.ns = r.i64("a match's time");
        s.matches.push_back(std::move(x));
      }
      c.steps.push_back(std::move(s));
    }
    t.contexts.push_back(std::move(c));
  }
  const uint32_t nstr = r.count("strings", 4);
  if (nstr == 0) r.fail("the string table is empty (string 0 must be \"\")");
  t.strings.clear();
  t.strings.reserve(nstr);
  for (uint32_t i = 0; i < nstr; i++) t.strings.push_back(r.str("a string"));
  if (!t.strings[0].empty()) r.fail("string 0 must be \"\"");
  const uint32_t ne = r.count("events", 1 + 4 * 3 + 8 * 5);
  t.events.reserve(ne);
  for (uint32_t i = 0; i < ne; i++) {
    Event e;
    uint8_t k = r.u8("an event's kind");
    if (k >= uint8_t(EventKind::Count)) r.fail("event " + std::to_string(i) + " has an unknown kind " + std::to_string(k));
    e.kind = EventKind(k);
    for (uint32_t* f : {&e.name, &e.device, &e.kernel}) {
      *f = r.u32("an event's string");
      if (*f >= nstr) r.fail("event " + std::to_string(i) + " names string " + std::to_string(*f) + " (there are " + std::to_string(nstr) + ")");
    }
    e.start_ns = r.i64("an event's start");
    e.dur_ns = r.i64("an event's duration");
    if (e.dur_ns < 0) r.fail("event " + std::to_string(i) + " has a negative duration");
    e.flops = r.f64("an event's flops");
    e.bytes = r.f64("an event's bytes");
    e.in_use = r.u64("an event's memory in use");
    t.events.push_back(e);
  }
  t.dropped_events = r.u64("the dropped event count");
  if (!r.match(kEnd, sizeof kEnd)) r.fail("no end mark where the trace should end (truncated or corrupt)");
  if (r.left()) r.fail(std::to_string(r.left()) + " bytes after the end mark");
  return t;
}

}  // namespace

std::string encode_trace(const Trace& t) {
  Writer w;
  w.raw(kMagic, sizeof kMagic);
  w.u32(kTraceFileVersion);
  w.u32(uint32_t(t.nodes.size()));
  for (const Node& n : t.nodes) {
    w.str(n.op), w.str(n.dtype), w.str(n.arg), w.str(n.shape);
    w.u8(n.group), w.u8(n.has_range ? 1 : 0);
    w.str(n.vmin), w.str(n.vmax);
    w.u32(uint32_t(n.src.size()));
    for (uint32_t s : n.src) w.u32(s);
  }
  w.u32(uint32_t(t.contexts.size()));
  for (const Context& c : t.contexts) {
    w.str(c.name), w.str(c.kernel), w.str(c.device);
    w.str(c.code.source), w.str(c.code.linear), w.str(c.code.assembly);
    w.u32(uint32_t(c.steps.size()));
    for (const Step& s : c.steps) {
      w.str(s.name), w.u8(s.bottom_up ? 1 : 0), w.u32(s.input), w.u32(s.output), w.i64(s.ns);
      w.u32(uint32_t(s.matches.size()));
      for (const Match& m : s.matches) w.u32(m.before), w.u32(m.after), w.str(m.rule), w.str(m.where), w.i64(m.ns);
    }
  }
  w.u32(uint32_t(t.strings.size()));
  for (const std::string& s : t.strings) w.str(s);
  w.u32(uint32_t(t.events.size()));
  for (const Event& e : t.events) {
    w.u8(uint8_t(e.kind)), w.u32(e.name), w.u32(e.device), w.u32(e.kernel);
    w.i64(e.start_ns), w.i64(e.dur_ns), w.f64(e.flops), w.f64(e.bytes), w.u64(e.in_use);
  }
  w.u64(t.dropped_events);
  w.raw(kEnd, sizeof kEnd);
  return std::move(w.out);
}

std::optional<Trace> decode_trace(const std::string& bytes, std::string* error) {
  Reader r(bytes);
  try {
    return decode(r);
  } catch (const Bad& e) {
    if (error) *error = e.what();
  } catch (const std::bad_alloc&) {
    if (error) *error = "out of memory reading the trace";
  }
  return std::nullopt;
}

bool save_trace(const Trace& t, const std::string& path, std::string* error) {
  const std::string bytes = encode_trace(t);
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) {
    if (error) *error = "cannot open " + path + " for writing: " + std::strerror(errno);
    return false;
  }
  const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  const bool closed = std::fclose(f) == 0;
  if (!ok || !closed) {
    if (error) *error = "cannot write " + path + " (disk full?)";
    return false;
  }
  return true;
}

std::optional<Trace> load_trace(const std::string& path, std::string* error) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) {
    if (error) *error = "cannot open " + path + ": " + std::strerror(errno);
    return std::nullopt;
  }
  std::string bytes;
  char buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) bytes.append(buf, n);
  const bool bad = std::ferror(f);
  std::fclose(f);
  if (bad) {
    if (error) *error = "cannot read " + path;
    return std::nullopt;
  }
  std::string why;
  auto t = decode_trace(bytes, &why);
  if (!t && error) *error = path + ": " + why;
  return t;
}

}  // namespace mg::viz
