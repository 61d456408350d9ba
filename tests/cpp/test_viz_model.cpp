// VIZ's data model (viz/model): the trace of a real program, layouts, diffs, the trace file
// (and its errors), the Chrome trace, the PNG writer and the keyboard navigation.
#include <doctest/doctest.h>
#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "capi/context.h"
#include "rewrite/graph_rewrite.h"
#include "rewrite/symbolic.h"
#include "viz/model/chrome_trace.h"
#include "viz/model/diff.h"
#include "viz/model/from_engine.h"
#include "viz/model/layout.h"
#include "viz/model/nav.h"
#include "viz/model/png.h"
#include "viz/model/timeline.h"
#include "viz/model/trace_file.h"

using namespace mg::viz;

namespace {

// (x[4x8] @ w[8x16]).relu().sum(): the matmul as tinygrad writes it, reshape-expand-mul-sum.
struct Program {
  mg_ctx* ctx = nullptr;
  std::vector<mg_tensor*> live;
  mg_tensor* keep(mg_tensor* t) { live.push_back(t); return t; }
  mg_tensor* move(mg_movement_op op, mg_tensor* x, std::vector<int64_t> a) {
    mg_tensor* o = nullptr;
    REQUIRE(mg_tensor_movement(ctx, op, x, a.data(), int(a.size()), &o) == MG_OK);
    return keep(o);
  }
  mg_tensor* alu(mg_op op, std::vector<mg_tensor*> s) {
    mg_tensor* o = nullptr;
    REQUIRE(mg_tensor_alu(ctx, op, s.data(), int(s.size()), &o) == MG_OK);
    return keep(o);
  }
  mg_tensor* reduce(mg_tensor* x, std::vector<int64_t> axes) {
    mg_tensor* o = nullptr;
    REQUIRE(mg_tensor_reduce(ctx, MG_REDUCE_SUM, x, axes.data(), int(axes.size()), &o) == MG_OK);
    return keep(o);
  }
  Program() {
    REQUIRE(mg_ctx_create(nullptr, &ctx) == MG_OK);
    REQUIRE(mg_set_default_device(ctx, "CPU") == MG_OK);
    REQUIRE(mg_set_recording(ctx, 1, 1) == MG_OK);
    int64_t xs[] = {4, 8}, ws[] = {8, 16};
    mg_tensor *x = nullptr, *w = nullptr, *zero = nullptr;
    REQUIRE(mg_tensor_rand(ctx, MG_FLOAT32, xs, 2, nullptr, &x) == MG_OK);
    REQUIRE(mg_tensor_rand(ctx, MG_FLOAT32, ws, 2, nullptr, &w) == MG_OK);
    keep(x), keep(w);
    mg_tensor* xe = move(MG_EXPAND, move(MG_RESHAPE, x, {4, 8, 1}), {4, 8, 16});
    mg_tensor* we = move(MG_EXPAND, move(MG_RESHAPE, w, {1, 8, 16}), {4, 8, 16});
    mg_tensor* mm = move(MG_RESHAPE, reduce(alu(MG_OP_MUL, {xe, we}), {1}), {4, 16});
    REQUIRE(mg_tensor_full_like(ctx, 0.0, MG_FLOAT32, mm, &zero) == MG_OK);
    keep(zero);
    mg_tensor* relu = alu(MG_OP_MAX, {mm, zero});
    mg_tensor* out = reduce(relu, {0, 1});
    REQUIRE(mg_realize(ctx, &out, 1) == MG_OK);
  }
  ~Program() {
    for (mg_tensor* t : live) mg_tensor_release(t);
    mg_ctx_destroy(ctx);
  }
};

bool has_cpu() {
  mg_ctx* c = nullptr;
  if (mg_ctx_create(nullptr, &c) != MG_OK) return false;
  bool ok = mg_set_default_device(c, "CPU") == MG_OK;
  mg_ctx_destroy(c);
  return ok;
}

// No two nodes overlap, and every edge goes left to right (from a source to its user).
void check_layout(const LayoutGraph& g, const Layout& l) {
  const size_t n = g.src.size();
  REQUIRE(l.pos.size() == n);
  for (size_t v = 0; v < n; v++)
    for (uint32_t s : g.src[v]) CHECK(l.pos[s].x + l.w[s] < l.pos[v].x);
  // Overlap, by a sweep over x: nodes sorted by left edge, each checked against those whose
  // x-range it meets.
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; i++) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return l.pos[a].x < l.pos[b].x; });
  size_t overlaps = 0;
  for (size_t i = 0; i < n; i++) {
    const size_t a = order[i];
    for (size_t j = i + 1; j < n && l.pos[order[j]].x < l.pos[a].x + l.w[a]; j++) {
      const size_t b = order[j];
      const bool y_apart = l.pos[a].y + l.h <= l.pos[b].y || l.pos[b].y + l.h <= l.pos[a].y;
      if (!y_apart) overlaps++;
    }
  }
  CHECK(overlaps == 0);
  if (n == 0) return;
  CHECK(l.width > 0);
  CHECK(l.height >= l.h);
}

// Random DAG of n nodes: each takes 0-3 earlier nodes as sources, mostly recent ones.
LayoutGraph random_dag(uint32_t n, uint32_t seed) {
  LayoutGraph g;
  uint64_t s = seed;
  auto rnd = [&]() { s = s * 6364136223846793005ull + 1442695040888963407ull; return uint32_t(s >> 33); };
  for (uint32_t v = 0; v < n; v++) {
    std::vector<uint32_t> src;
    const uint32_t k = v == 0 ? 0 : rnd() % 4;
    for (uint32_t j = 0; j < k; j++) src.push_back(rnd() % 4 == 0 ? rnd() % v : v - 1 - rnd() % std::min<uint32_t>(v, 8));
    g.src.push_back(src);
    g.width.push_back(float(40 + rnd() % 120));
  }
  return g;
}

Trace tiny_trace() {
  // n0 = x, n1 = 0, n2 = x + 0, n3 = 2, n4 = x * 2; one step rewriting n2 -> n0, n4 stays.
  Trace t;
  t.nodes = {{"DEFINE_VAR", "int32", "x", "", 0, true, "0", "9", {}},
             {"CONST", "int32", "0", "", 0, true, "0", "0", {}},
             {"ADD", "int32", "", "", 3, true, "0", "9", {0, 1}},
             {"CONST", "int32", "2", "", 0, true, "2", "2", {}},
             {"MUL", "int32", "", "", 3, true, "0", "18", {2, 3}},
             {"MUL", "int32", "", "", 3, true, "0", "18", {0, 3}}};
  Context c{"kernel k", "k_abc", "CPU", {}, {"define void @k()", "for r0", "vmovups"}};
  c.steps.push_back({"symbolic", true, 4, 5, 1000, {{2, 0, "x+0 -> x", "src/rewrite/symbolic_identity.cpp:43", 10}}});
  c.steps.push_back({"no-op", false, 5, 5, 10, {}});
  t.contexts.push_back(c);
  t.contexts.push_back({"schedule", "", "", {}, {}});  // no steps
  Context c2{"kernel j", "j_def", "CPU", {}, {}};
  c2.steps.push_back({"lower indexing", false, 0, 0, 5, {{0, 0, "a", "f.cpp:1", 1}, {0, 0, "b", "f.cpp:2", 1}}});
  t.contexts.push_back(c2);
  t.strings = {"", "CPU", "k", "k_abc", "compiler", "alloc", "step 1"};
  t.events = {{EventKind::Kernel, 2, 1, 3, 100, 50, 1e6, 4096, 0},
              {EventKind::Alloc, 5, 1, 0, 90, 0, 0, 4096, 4096},
              {EventKind::Compile, 2, 4, 3, 10, 80, 0, 0, 0},
              {EventKind::Marker, 6, 0, 0, 95, 0, 0, 0, 0},
              {EventKind::Kernel, 2, 1, 3, 200, 40, 1e6, 4096, 0}};
  return t;
}

std::string read_chunk_type(const std::string& png, size_t at) { return png.substr(at + 4, 4); }
uint32_t be32(const std::string& s, size_t at) {
  return uint32_t(uint8_t(s[at])) << 24 | uint32_t(uint8_t(s[at + 1])) << 16 | uint32_t(uint8_t(s[at + 2])) << 8 | uint8_t(s[at + 3]);
}

}  // namespace

TEST_CASE("viz: the trace of matmul + relu + sum holds its schedule and kernel codegen") {
  if (!has_cpu()) return;  // no LLVM here: nothing compiles, nothing to trace
  Program p;
  const Trace t = trace_from_engine(p.ctx->engine, {.assembly = false});
  REQUIRE(t.contexts.size() >= 2);
  CHECK(t.contexts[0].name == "schedule");
  REQUIRE(t.contexts[0].steps.size() >= 2);
  CHECK(t.contexts[0].steps[0].name == "schedule input");
  size_t items = 0;  // then one step per kernel the schedule cut the graph into
  for (const Step& s : t.contexts[0].steps) items += s.name.rfind("item ", 0) == 0;
  size_t kernels = 0, matches_with_rule = 0;
  for (const Context& c : t.contexts) {
    if (c.name.rfind("kernel ", 0) != 0) continue;
    kernels++;
    CHECK(!c.kernel.empty());
    CHECK(c.device == "CPU");
    std::vector<std::string> names;
    for (const Step& s : c.steps) {
      names.push_back(s.name);
      CHECK(s.input != kNone);
      CHECK(s.output != kNone);
      for (const Match& m : s.matches) {
        CHECK(m.before != kNone);
        if (!m.rule.empty() && m.where.find(".cpp:") != std::string::npos) matches_with_rule++;
      }
    }
    REQUIRE(names.size() >= 2);
    CHECK(names[0] == "lower indexing");
    CHECK(names[1] == "symbolic");
    CHECK(c.code.source.find("define") != std::string::npos);  // LLVM IR
    CHECK(c.code.linear.find("for ") != std::string::npos);
  }
  mg_stats st{};
  REQUIRE(mg_ctx_stats(p.ctx, &st) == MG_OK);
  CHECK(kernels == st.kernels_compiled);
  CHECK(kernels >= 1);
  CHECK(items >= kernels);  // (items with the same AST compile once)
  CHECK(matches_with_rule >= 1);
  // The profile: one kernel event per run, linked to its codegen context; compiles; memory.
  size_t runs = 0, compiles = 0, allocs = 0;
  for (const Event& e : t.events) {
    if (e.kind == EventKind::Kernel) {
      runs++;
      CHECK(t.str(e.device) == "CPU");
      CHECK(e.flops > 0);
      CHECK(e.bytes > 0);
      CHECK(t.context_of_kernel(t.str(e.kernel)) >= 0);
    }
    if (e.kind == EventKind::Compile) {
      compiles++;
      CHECK(t.str(e.device) == "compiler");
    }
    if (e.kind == EventKind::Alloc) {
      allocs++;
      CHECK(e.in_use >= uint64_t(e.bytes));
    }
  }
  CHECK(runs == st.kernels_run);
  CHECK(compiles >= kernels + 1);  // one codegen per kernel, one per batch for the backend
  CHECK(allocs >= 1);
  const Timeline tl = build_timeline(t);
  CHECK(track_of(tl, "CPU") == 0);
  CHECK(track_of(tl, "compiler") == 1);
  CHECK(tl.peak > 0);
  // Every step's graph lays out cleanly.
  for (const Context& c : t.contexts)
    for (const Step& s : c.steps) {
      const StepGraph sg = step_graph(t, s.input);
      check_layout(sg.graph, layout_graph(sg.graph));
    }
}

TEST_CASE("viz: recording is off unless asked for, and markers check their name") {
  mg_ctx* ctx = nullptr;
  REQUIRE(mg_ctx_create(nullptr, &ctx) == MG_OK);
  int tr = -5, pr = -5;
  REQUIRE(mg_recording(ctx, &tr, &pr) == MG_OK);
  if (!std::getenv("VIZ") && !std::getenv("PROFILE")) CHECK((tr == 0 && pr == 0));
  REQUIRE(mg_set_recording(ctx, 0, 1) == MG_OK);
  CHECK(mg_marker(ctx, "epoch 1") == MG_OK);
  CHECK(mg_marker(ctx, "") == MG_ERR_INVALID);
  CHECK(std::string(mg_last_error(ctx)).find("non-empty") != std::string::npos);
  CHECK(mg_marker(ctx, nullptr) == MG_ERR_INVALID);
  CHECK(mg_set_recording(ctx, 2, 0) == MG_ERR_INVALID);
  const Trace t = trace_from_engine(ctx->engine, {.assembly = false});
  REQUIRE(t.events.size() == 1);
  CHECK(t.events[0].kind == EventKind::Marker);
  CHECK(t.str(t.events[0].name) == "epoch 1");
  CHECK(t.str(t.events[0].device) == "user");
  mg_ctx_destroy(ctx);
}

TEST_CASE("viz: the diff of x + 0 -> x is exact") {
  mg::Engine e(mg::HostAllocator{});
  mg::UOpRef x = e.uops.var("x", 0, 9, mg::dtypes::int32);
  mg::UOpRef g = mg::alu(mg::Ops::ADD, {x, e.uops.cnst(mg::dtypes::int32, int64_t(0))});
  e.trace.begin_context("test");
  mg::UOpRef out = mg::graph_rewrite(g, mg::symbolic(), nullptr, {.name = "symbolic", .bottom_up = true, .trace = &e.trace});
  CHECK(out == x);
  const Trace t = trace_from_engine(e, {.assembly = false});
  REQUIRE(t.contexts.size() == 1);
  REQUIRE(t.contexts[0].steps.size() == 1);
  const Step& s = t.contexts[0].steps[0];
  REQUIRE(s.matches.size() == 1);
  const Match& m = s.matches[0];
  CHECK(m.rule == "x+0 -> x");
  CHECK(m.where.find("symbolic_identity.cpp:") != std::string::npos);
  const GraphDiff d = diff_graphs(t, m.before, m.after);
  // The pool holds x, 0 and x+0: the rewrite removed the ADD and the 0, kept x, added nothing.
  REQUIRE(t.nodes.size() == 3);
  CHECK(t.nodes[m.after].op == "DEFINE_VAR");
  CHECK(t.nodes[m.before].op == "ADD");
  CHECK(d.added.empty());
  CHECK(d.kept == std::vector<uint32_t>{m.after});
  REQUIRE(d.removed.size() == 2);
  std::set<std::string> removed_ops{t.nodes[d.removed[0]].op, t.nodes[d.removed[1]].op};
  CHECK(removed_ops == std::set<std::string>{"ADD", "CONST"});
  const std::vector<DiffLine> td = match_text_diff(t, m);
  REQUIRE(td.size() == 3);
  size_t minus = 0, plus = 0, same = 0;
  for (const DiffLine& l : td) (l.tag == '-' ? minus : l.tag == '+' ? plus : same)++;
  CHECK(minus == 2);
  CHECK(plus == 0);
  CHECK(same == 1);
}

TEST_CASE("viz: graph diff and text diff of a hand-made rewrite") {
  const Trace t = tiny_trace();
  // (x + 0) * 2 -> x * 2: added the new MUL, removed the old MUL, the ADD and the 0.
  const GraphDiff d = diff_graphs(t, 4, 5);
  CHECK(d.added == std::vector<uint32_t>{5});
  CHECK(d.removed == std::vector<uint32_t>{1, 2, 4});
  CHECK(d.kept == std::vector<uint32_t>{0, 3});
  const std::vector<DiffLine> td = text_diff({"a", "b", "c"}, {"a", "x", "c", "d"});
  std::string s;
  for (const DiffLine& l : td) s += std::string(1, l.tag) + l.text + ";";
  CHECK(s == " a;-b;+x; c;+d;");
  CHECK(node_line(t, 2) == "n2 = ADD int32 (n0, n1)");
}

TEST_CASE("viz: layout separates nodes, keeps edges left to right, and removes avoidable crossings") {
  // x, y; p = f(y), q = f(x) made in the crossing order: the sweeps must uncross them.
  LayoutGraph g{{{}, {}, {1}, {0}}, {50, 50, 50, 50}};
  Layout l = layout_graph(g);
  check_layout(g, l);
  CHECK(l.crossings == 0);
  CHECK(l.layer == std::vector<int>{0, 0, 1, 1});
  // A chain with a long edge: 0 -> 1 -> 2 -> 3 and 0 -> 3 go through dummy points.
  LayoutGraph chain{{{}, {0}, {1}, {0, 2}}, {30, 30, 30, 30}};
  l = layout_graph(chain);
  check_layout(chain, l);
  size_t bent = 0;
  for (const Layout::Edge& e : l.edges) bent += e.points.size() > 2;
  CHECK(bent == 1);
  for (uint32_t seed = 1; seed <= 3; seed++) {
    const LayoutGraph r = random_dag(3000, seed);
    check_layout(r, layout_graph(r));
  }
  check_layout(LayoutGraph{}, layout_graph(LayoutGraph{}));
}

TEST_CASE("viz: the trace file round-trips, and bad files are clear errors") {
  const Trace t = tiny_trace();
  const std::string bytes = encode_trace(t);
  std::string err;
  auto back = decode_trace(bytes, &err);
  REQUIRE(back);
  CHECK(encode_trace(*back) == bytes);
  CHECK(back->contexts[0].steps[0].matches[0].rule == "x+0 -> x");
  CHECK(back->nodes[4].src == std::vector<uint32_t>{2, 3});
  CHECK(back->events.size() == 5);

  // Every truncation is an error that says so; none crashes.
  for (size_t n = 0; n < bytes.size(); n++) {
    err.clear();
    CHECK_FALSE(decode_trace(bytes.substr(0, n), &err));
    CHECK(!err.empty());
  }
  CHECK(decode_trace(bytes.substr(0, bytes.size() - 2), &err) == std::nullopt);
  CHECK(err.find("truncated") != std::string::npos);
  CHECK_FALSE(decode_trace("hello, world", &err));
  CHECK(err.find("not a moongrad VIZ trace file") != std::string::npos);
  CHECK_FALSE(decode_trace(bytes + "x", &err));
  CHECK(err.find("after the end mark") != std::string::npos);
  std::string v2 = bytes;
  v2[8] = 2;
  CHECK_FALSE(decode_trace(v2, &err));
  CHECK(err.find("version 2") != std::string::npos);
  // A huge node count: refused before anything is allocated for it.
  std::string huge = bytes;
  std::memset(&huge[12], 0xff, 4);
  CHECK_FALSE(decode_trace(huge, &err));
  CHECK(err.find("cannot fit") != std::string::npos);
  // Flipped bytes: an error or a valid trace, never a crash, and sources always point back.
  uint64_t s = 7;
  for (int i = 0; i < 3000; i++) {
    std::string b = bytes;
    for (int k = 0; k < 3; k++) {
      s = s * 6364136223846793005ull + 1442695040888963407ull;
      b[size_t(s >> 33) % b.size()] ^= char(1 + (s >> 20) % 255);
    }
    auto r = decode_trace(b, &err);
    if (r)
      for (size_t n = 0; n < r->nodes.size(); n++)
        for (uint32_t x : r->nodes[n].src) CHECK(x < n);
  }
  CHECK_FALSE(load_trace("/nonexistent/dir/trace.mgviz", &err));
  CHECK(err.find("cannot open") != std::string::npos);
}

TEST_CASE("viz: Chrome trace JSON has one complete event per kernel run") {
  const Trace t = tiny_trace();
  const std::string j = chrome_trace_json(t);
  size_t kernels = 0;
  for (size_t at = j.find("\"cat\":\"kernel\""); at != std::string::npos; at = j.find("\"cat\":\"kernel\"", at + 1)) kernels++;
  CHECK(kernels == 2);
  CHECK(j.find("\"ph\":\"C\"") != std::string::npos);  // memory in use
  CHECK(j.find("\"name\":\"step 1\"") != std::string::npos);
  CHECK(j.find("\"GFLOP/s\":20000,") != std::string::npos);  // 1e6 flops in 50 ns
  CHECK(j.front() == '{');
  CHECK(j.substr(j.size() - 3) == "]}\n");
}

TEST_CASE("viz: PNG writer output decodes to the pixels given") {
  const uint8_t px[] = {255, 0, 0, 255, 0, 255, 0, 255, 0, 0, 255, 255,  // row 0
                        1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};           // row 1
  const std::string png = encode_png(px, 3, 2);
  REQUIRE(png.size() > 8 + 25);
  CHECK(png.substr(0, 8) == std::string("\x89PNG\r\n\x1a\n", 8));
  CHECK(read_chunk_type(png, 8) == "IHDR");
  CHECK(be32(png, 16) == 3);
  CHECK(be32(png, 20) == 2);
  const size_t idat = 8 + 12 + 13;
  REQUIRE(read_chunk_type(png, idat) == "IDAT");
  const uint32_t len = be32(png, idat);
  const std::string z = png.substr(idat + 8, len);
  CHECK(be32(png, idat + 8 + len) == uint32_t(crc32(0, reinterpret_cast<const Bytef*>(png.data() + idat + 4), len + 4)));
  std::vector<uint8_t> raw(2 * (1 + 12));
  uLongf rl = raw.size();
  REQUIRE(uncompress(raw.data(), &rl, reinterpret_cast<const Bytef*>(z.data()), uLong(z.size())) == Z_OK);
  CHECK(rl == raw.size());
  CHECK(raw[0] == 0);
  CHECK(std::memcmp(raw.data() + 1, px, 12) == 0);
  CHECK(raw[13] == 0);
  CHECK(std::memcmp(raw.data() + 14, px + 12, 12) == 0);
  CHECK(read_chunk_type(png, idat + 12 + len) == "IEND");
  CHECK(encode_png(px, 0, 2).empty());
}

TEST_CASE("viz: keys move the selection step by step and match by match") {
  const Trace t = tiny_trace();
  Selection s = first_step(t);
  CHECK(s == Selection{0, 0, -1});
  CHECK(step_down(t, s) == Selection{0, 1, -1});
  CHECK(step_down(t, Selection{0, 1, -1}) == Selection{2, 0, -1});  // the empty context is skipped
  CHECK(step_down(t, Selection{2, 0, -1}) == Selection{2, 0, -1});  // the last step stays
  CHECK(step_up(t, Selection{2, 0, -1}) == Selection{0, 1, -1});
  CHECK(match_right(t, s) == Selection{0, 0, 0});
  CHECK(match_right(t, Selection{0, 0, 0}) == Selection{2, 0, 0});  // on to the next step with matches
  CHECK(match_right(t, Selection{2, 0, 0}) == Selection{2, 0, 1});
  CHECK(match_right(t, Selection{2, 0, 1}) == Selection{2, 0, 1});
  CHECK(match_left(t, Selection{2, 0, 0}) == Selection{0, 0, 0});
  CHECK(match_left(t, Selection{2, 0, 1}) == Selection{2, 0, 0});
  CHECK_FALSE(valid(t, Selection{1, 0, -1}));
  CHECK(first_step(Trace{}) == Selection{});
}
