#include "rewrite/graph_rewrite.h"

#include <chrono>
#include <memory>

#include "uop/error.h"

namespace mg {

namespace {
int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Node -> result, keyed on the node's id. Keys are ids, not references: a node that is only a
// key here (a rule's intermediate) dies as soon as nothing else holds it, and its id is never
// reused. Nodes made during the rewrite (ids from `fresh` on, most of those visited) have a
// dense array, in the order they were made. The nodes of the graph given are in pages of
// kPage consecutive ids, found by page number in a small open-addressing directory: a graph's
// nodes were mostly made together, so their slots share pages (and cache lines), where a hash
// of each id scattered them over a table twice the graph's size.
class ResultMap {
 public:
  struct Slot { uint64_t key = 0; UOpRef val; };  // key: id + 1, 0 for empty; val empty: in progress
  explicit ResultMap(uint64_t fresh) : fresh_base_(fresh), dir_(64) {}

  Slot* find(const UOp* k) {
    if (k->id >= fresh_base_) {
      const uint64_t i = k->id - fresh_base_;
      return i < fresh_.size() && fresh_[i].key ? &fresh_[i] : nullptr;
    }
    Slot* page = find_page(k->id / kPage);
    if (!page) return nullptr;
    Slot& s = page[k->id % kPage];
    return s.key ? &s : nullptr;
  }
  // k's slot, added (with an empty val) if k has none; `added` says which. Slots found earlier
  // stay put, except those of new nodes (the dense array grows).
  Slot& find_or_add(const UOp* k, bool& added) {
    const uint64_t key = k->id + 1;
    Slot* s;
    if (k->id >= fresh_base_) {
      const uint64_t i = k->id - fresh_base_;
      if (i >= fresh_.size()) fresh_.resize(std::max<size_t>(2 * fresh_.size(), i + 1024));
      s = &fresh_[i];
    } else {
      Slot* page = find_page(k->id / kPage);
      if (!page) page = add_page(k->id / kPage);
      s = &page[k->id % kPage];
    }
    added = !s->key;
    s->key = key;
    return *s;
  }

 private:
  static constexpr uint64_t kPage = 64;
  struct Dir { uint64_t key = 0; Slot* page = nullptr; };  // key: page number + 1
  size_t dir_slot(uint64_t key) const { return size_t((key * 0x9e3779b97f4a7c15ull) >> shift_); }
  Slot* find_page(uint64_t pn) {
    if (pn == last_pn_) return last_;
    const uint64_t key = pn + 1;
    for (size_t i = dir_slot(key);; i = (i + 1) & (dir_.size() - 1)) {
      if (dir_[i].key == key) { last_pn_ = pn; return last_ = dir_[i].page; }
      if (!dir_[i].key) return nullptr;
    }
  }
  Slot* add_page(uint64_t pn) {
    if ((pages_.size() + 1) * 2 > dir_.size()) grow();
    pages_.push_back(std::make_unique<Slot[]>(kPage));
    Slot* page = pages_.back().get();
    put(pn + 1, page);
    last_pn_ = pn;
    return last_ = page;
  }
  void put(uint64_t key, Slot* page) {
    size_t i = dir_slot(key);
    while (dir_[i].key) i = (i + 1) & (dir_.size() - 1);
    dir_[i] = {key, page};
  }
  void grow() {
    std::vector<Dir> old(dir_.size() * 2);
    old.swap(dir_);
    shift_--;
    for (const Dir& d : old)
      if (d.key) put(d.key, d.page);
  }
  const uint64_t fresh_base_;
  std::vector<Slot> fresh_;
  std::vector<std::unique_ptr<Slot[]>> pages_;
  std::vector<Dir> dir_;
  int shift_ = 64 - 6;  // 64 directory slots
  uint64_t last_pn_ = UINT64_MAX;  // the page found last
  Slot* last_ = nullptr;
};

struct Frame {
  UOp* n;             // the node whose result this frame computes
  UOpRef cur;         // what n is becoming
  uint8_t stage;      // 0: visit, 1: sources done, 2: n's result is cur's result
  int chain;          // successive rewrites that led here
  const Rule* why;    // the rule that made cur, for errors
};

class Rewriter {
 public:
  Rewriter(const PatternMatcher& pm, void* ctx, const RewriteOpts& o, uint64_t fresh) : pm_(pm), ctx_(ctx), o_(o), map_(fresh) {}

  UOpRef run(const UOpRef& root) {
    int64_t t0 = o_.trace ? now_ns() : 0;
    if (o_.trace) step_ = &o_.trace->add_step(std::string(o_.name), o_.bottom_up, root);
    stack_.push_back({root.get(), root, 0, 0, nullptr});
    while (!stack_.empty()) {
      Frame f = std::move(stack_.back());
      stack_.pop_back();
      if (f.stage == 0) visit(f);
      else if (f.stage == 1) sources_done(f);
      else {
        UOpRef v = map_.find(f.cur.get())->val;
        map_.find(f.n)->val = std::move(v);  // (n's slot was added when it was visited)
      }
    }
    UOpRef out = map_.find(root.get())->val;
    if (step_) { step_->output = out; step_->ns = now_ns() - t0; }
    return out;
  }

 private:
  Fired try_rewrite(UOp* u) {
    if (!step_) return pm_.rewrite(u, ctx_, scratch_);
    int64_t t0 = now_ns();
    Fired f = pm_.rewrite(u, ctx_, scratch_);
    if (f.rule) step_->matches.push_back({UOpRef(u), f.out, f.rule->name, f.rule->where(), now_ns() - t0});
    return f;
  }

  [[noreturn]] void loop_error(const Rule* why, const std::string& what) {
    std::string rule = why ? "rule '" + why->name + "' (" + why->where() + ")" : "a rule";
    fail(ErrorKind::Internal, "graph_rewrite '" + std::string(o_.name) + "': " + rule + " " + what);
  }

  void visit(Frame& f) {
    bool added;
    ResultMap::Slot& slot = map_.find_or_add(f.n, added);  // added: in progress
    if (!added) {
      if (slot.val) return;
      loop_error(f.why, "made a node that contains itself after rewriting (" + node_str(f.n) + "): rewriting would never end");
    }
    UOpRef cur = std::move(f.cur);
    int chain = f.chain;
    const Rule* why = f.why;
    if (o_.bottom_up) {
      while (Fired r = try_rewrite(cur.get())) {
        if (++chain > o_.max_chain)
          loop_error(r.rule, "fired " + std::to_string(o_.max_chain) + " times in a row at one node (last: " + node_str(cur.get()) + " -> " + node_str(r.out.get()) + ")");
        cur = std::move(r.out);
        why = r.rule;
      }
    }
    UOp* c = cur.get();
    stack_.push_back({f.n, std::move(cur), 1, chain, why});
    for (size_t i = c->src.size(); i-- > 0;) {
      UOp* s = c->src[i].get();
      ResultMap::Slot* done = map_.find(s);
      if (!done || !done->val) stack_.push_back({s, c->src[i], 0, 0, why});
    }
  }

  void sources_done(Frame& f) {
    UOp* c = f.cur.get();
    // the sources' results, and whether any changed
    bool same = true;
    src_buf_.clear();
    for (const UOpRef& s : c->src) {
      const UOpRef& v = map_.find(s.get())->val;
      same = same && v == s;
      src_buf_.push_back(v);
    }
    if (same) {
      src_buf_.clear();
      Fired r = o_.bottom_up ? Fired{} : try_rewrite(c);
      if (!r.rule) { map_.find(f.n)->val = std::move(f.cur); return; }
      if (f.chain + 1 > o_.max_chain)
        loop_error(r.rule, "fired " + std::to_string(o_.max_chain) + " times in a row at one node (last: " + node_str(c) + " -> " + node_str(r.out.get()) + ")");
      UOp* out = r.out.get();
      stack_.push_back({f.n, r.out, 2, f.chain + 1, r.rule});
      stack_.push_back({out, std::move(r.out), 0, f.chain + 1, r.rule});
      return;
    }
    UOpRef nn = c->replace_src(std::span<const UOpRef>(src_buf_.data(), src_buf_.size()));
    src_buf_.clear();
    UOp* p = nn.get();
    stack_.push_back({f.n, nn, 2, f.chain, f.why});
    stack_.push_back({p, std::move(nn), 0, f.chain, f.why});
  }

  const PatternMatcher& pm_;
  void* ctx_;
  const RewriteOpts& o_;
  TraceStep* step_ = nullptr;
  ResultMap map_;
  std::vector<Frame> stack_;
  std::vector<UOpRef> src_buf_;  // sources of the node being rebuilt
  MatchState scratch_;
};
}  // namespace

UOpRef graph_rewrite(const UOpRef& sink, const PatternMatcher& pm, void* ctx, const RewriteOpts& opts) {
  if (!sink) fail(ErrorKind::Invalid, "graph_rewrite '" + std::string(opts.name) + "': no graph (null sink)");
  return Rewriter(pm, ctx, opts, sink->table->next_id()).run(sink);
}

}  // namespace mg
