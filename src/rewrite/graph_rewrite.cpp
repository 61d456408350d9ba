#include "rewrite/graph_rewrite.h"

#include <chrono>
#include <memory>
#include <type_traits>

#include "uop/error.h"

namespace mg {

namespace {
int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Node -> result, keyed on the node's id. Keys are ids, not references: a node that is only a
// key here (a rule's intermediate) dies as soon as nothing else holds it, and its id is never
// reused. Slots live in pages of kPage consecutive ids and never move, so the rewriter keeps
// a node's slot instead of looking it up again. Pages from the first new id on (nodes made
// during the rewrite, most of those visited) are found by index; pages of the graph given by
// page number in a small open-addressing directory: a graph's nodes were mostly made
// together, so their slots share pages (and cache lines), where a hash of each id scattered
// them over a table twice the graph's size.
class ResultMap {
 public:
  struct Slot { UOpRef val; };
  explicit ResultMap(uint64_t fresh) : fresh_pn_(fresh / kPage), dir_(64) {}

  bool has_result(const UOp* k) {
    const Page* page = page_of(k->id / kPage);
    return page && page->slot[k->id % kPage].val;
  }
  const UOpRef& result(const UOp* k) { return page_of(k->id / kPage)->slot[k->id % kPage].val; }  // (k has one)
  // k's slot, marked seen; `added` says whether it was new.
  [[gnu::always_inline]] Slot& find_or_add(const UOp* k, bool& added) {
    const uint64_t pn = k->id / kPage;
    Page* page = page_of(pn);
    if (!page) [[unlikely]] page = pn >= fresh_pn_ ? add_fresh_page(pn - fresh_pn_) : add_old_page(pn);
    const uint64_t bit = uint64_t(1) << (k->id % kPage);
    added = !(page->seen & bit);
    page->seen |= bit;
    return page->slot[k->id % kPage];
  }

 private:
  static constexpr uint64_t kPage = 64;
  // A page's seen flags in one word beside its slots (seen without a val: in progress), so a
  // slot is a bare reference: half the bytes of a slot with its own flag, and a new page is
  // cleared as one block.
  struct Page {
    uint64_t seen = 0;
    Slot slot[kPage];
  };
  struct Dir { uint64_t key = 0; Page* page = nullptr; };  // key: page number + 1
  Page* page_of(uint64_t pn) {  // nullptr: none yet
    if (pn >= fresh_pn_) return pn < fresh_end_ ? fresh_[pn - fresh_pn_].get() : nullptr;
    if (pn == hot_[0].pn) return hot_[0].page;
    if (pn == hot_[1].pn) return hot_[1].page;
    return old_page(pn);
  }
  [[gnu::noinline]] Page* add_fresh_page(uint64_t i) {
    if (i >= fresh_.size()) {
      fresh_.resize(std::max<size_t>(2 * fresh_.size(), i + 16));
      fresh_end_ = fresh_pn_ + fresh_.size();
    }
    fresh_[i] = std::make_unique<Page>();
    return fresh_[i].get();
  }
  size_t dir_slot(uint64_t key) const { return size_t((key * 0x9e3779b97f4a7c15ull) >> shift_); }
  Page* old_page(uint64_t pn) {
    const uint64_t key = pn + 1;
    for (size_t i = dir_slot(key);; i = (i + 1) & (dir_.size() - 1)) {
      if (dir_[i].key == key || !dir_[i].key) {
        hot_[1] = hot_[0];
        hot_[0] = {pn, dir_[i].page};  // (nullptr, none yet: add_old_page sets it)
        return dir_[i].page;
      }
    }
  }
  [[gnu::noinline]] Page* add_old_page(uint64_t pn) {
    if ((pages_.size() + 1) * 2 > dir_.size()) grow();
    pages_.push_back(std::make_unique<Page>());
    Page* page = pages_.back().get();
    put(pn + 1, page);
    for (Hot& h : hot_)
      if (h.pn == pn) h.page = page;
    return page;
  }
  void put(uint64_t key, Page* page) {
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
  const uint64_t fresh_pn_;
  std::vector<std::unique_ptr<Page>> fresh_;
  uint64_t fresh_end_ = fresh_pn_;  // fresh_pn_ + fresh_.size(), at hand
  std::vector<std::unique_ptr<Page>> pages_;
  std::vector<Dir> dir_;
  int shift_ = 64 - 6;  // 64 directory slots
  // The two old pages looked up last (or found missing): most sources sit on one of two, the
  // page of the nodes made just before their parent or that of constants made early.
  struct Hot { uint64_t pn = UINT64_MAX; Page* page = nullptr; };
  Hot hot_[2];
};

using Slot = ResultMap::Slot;

// Work waiting on the stack: a node to visit; a node to finish once its sources have results
// (the frame sits under their visits); a slot that takes another node's result (a node that
// became that one while the other waited). Plain data, so the stack grows by a copy of bytes:
// a frame's node is a source of a node held below it (or the root), except a node a rule
// made, which a kFinishHeld frame keeps alive in Rewriter::held_.
struct Frame {
  enum Stage : uint8_t { kVisit, kFinish, kFinishHeld, kAlias };
  Slot* slot;  // kFinish*, kAlias: the slot this frame fills
  UOp* cur;    // kVisit: the node; kFinish*: what slot's node is becoming
  union {
    const Rule* why;  // kVisit, kFinish*: the rule that made cur, for errors
    Slot* from;       // kAlias: the slot whose result it takes
  };
  Stage stage;
  int chain;  // kFinish*: successive rewrites that led here
};
static_assert(std::is_trivial_v<Frame> && sizeof(Frame) == 32);

// The frames: blocks that never move, so a deep graph's stack grows without copying frames.
class FrameStack {
 public:
  bool empty() const { return top_ == base_ && at_ == 0; }
  void push(const Frame& f) {
    if (top_ == end_) [[unlikely]] next_block();
    *top_++ = f;
  }
  const Frame& pop() {  // (the frame stays readable until the next push)
    if (top_ == base_) [[unlikely]] prev_block();
    return *--top_;
  }

 private:
  static constexpr size_t kBlock = 1024;  // frames (32 KiB)
  [[gnu::noinline]] void next_block() {
    if (base_) at_++;
    if (at_ == blocks_.size()) blocks_.push_back(std::make_unique_for_overwrite<Frame[]>(kBlock));
    top_ = base_ = blocks_[at_].get();
    end_ = base_ + kBlock;
  }
  [[gnu::noinline]] void prev_block() {
    base_ = blocks_[--at_].get();
    top_ = end_ = base_ + kBlock;
  }
  std::vector<std::unique_ptr<Frame[]>> blocks_;
  size_t at_ = 0;  // the block base_ starts
  Frame* base_ = nullptr;
  Frame* top_ = nullptr;
  Frame* end_ = nullptr;
};

class Rewriter {
 public:
  Rewriter(const PatternMatcher& pm, void* ctx, const RewriteOpts& o, uint64_t fresh) : pm_(pm), ctx_(ctx), o_(o), bottom_up_(o.bottom_up), map_(fresh) {}

  UOpRef run(const UOpRef& root) {
    int64_t t0 = o_.trace ? now_ns() : 0;
    if (o_.trace) step_ = &o_.trace->add_step(std::string(o_.name), o_.bottom_up, root);
    push_visit(root.get(), nullptr);
    while (!stack_.empty()) {
      const Frame& f = stack_.pop();  // (its fields are read before anything is pushed)
      switch (f.stage) {
        case Frame::kVisit: visit(f.cur, f.why); break;
        case Frame::kFinish: finish(f.slot, f.cur, nullptr, f.chain, f.why); break;
        case Frame::kFinishHeld: finish(f.slot, f.cur, take_held(), f.chain, f.why); break;
        case Frame::kAlias: f.slot->val = f.from->val; break;
      }
    }
    UOpRef out = map_.result(root.get());
    if (step_) { step_->output = out; step_->ns = now_ns() - t0; }
    return out;
  }

 private:
  void push_visit(UOp* n, const Rule* why) {
    Frame f;
    f.slot = nullptr, f.cur = n, f.why = why, f.stage = Frame::kVisit, f.chain = 0;
    stack_.push(f);
  }
  UOpRef take_held() {
    UOpRef n = std::move(held_.back());
    held_.pop_back();
    return n;
  }

  [[gnu::always_inline]] Fired try_rewrite(UOp* u) { return step_ ? traced_rewrite(u) : pm_.rewrite(u, ctx_, scratch_); }
  [[gnu::noinline]] Fired traced_rewrite(UOp* u) {
    int64_t t0 = now_ns();
    Fired f = pm_.rewrite(u, ctx_, scratch_);
    if (f.rule) step_->matches.push_back({UOpRef(u), f.out, f.rule->name, f.rule->where(), now_ns() - t0});
    return f;
  }

  [[noreturn]] void loop_error(const Rule* why, const std::string& what) {
    std::string rule = why ? "rule '" + why->name + "' (" + why->where() + ")" : "a rule";
    fail(ErrorKind::Internal, "graph_rewrite '" + std::string(o_.name) + "': " + rule + " " + what);
  }
  [[noreturn]] void chain_error(const Rule* why, const UOp* from, const UOp* to) {
    loop_error(why, "fired " + std::to_string(o_.max_chain) + " times in a row at one node (last: " + node_str(from) + " -> " + node_str(to) + ")");
  }
  [[noreturn]] void self_error(const Rule* why, const UOp* n) {
    loop_error(why, "made a node that contains itself after rewriting (" + node_str(n) + "): rewriting would never end");
  }

  // Parents first: u is rewritten to a fixed point before its sources are looked at.
  void rewrite_first(UOpRef& u, int& chain, const Rule*& why) {
    while (Fired r = try_rewrite(u.get())) {
      if (++chain > o_.max_chain) chain_error(r.rule, u.get(), r.out.get());
      u = std::move(r.out);
      why = r.rule;
    }
  }

  void visit(UOp* n, const Rule* why) {
    for (int chain = 0;; chain = 0) {
      bool added;
      Slot& slot = map_.find_or_add(n, added);
      if (!added) {
        if (slot.val) return;
        self_error(why, n);
      }
      UOpRef made;  // what the rules made of n (bottom_up): nothing below holds it
      if (bottom_up_) {
        UOpRef u(n);
        rewrite_first(u, chain, why);
        if (u.get() != n) n = (made = std::move(u)).get();
      }
      aliases_.clear();
      const UOpRef* first = wait_for_sources(&slot, n, made, chain, why);
      if (!first) return finish(&slot, n, std::move(made), chain, why);
      n = first->get();  // the source visited first: here rather than through a frame
    }
  }

  // When some source of c has no result yet: pushes alias frames for aliases_ (they take
  // slot's result), a finish frame for slot (taking `held`, c's reference if it needs one,
  // into held_), and visits of those sources above it but the first, which it gives back to
  // visit now; nullptr (nothing pushed, held kept) when they all have one.
  [[gnu::always_inline]] const UOpRef* wait_for_sources(Slot* slot, UOp* c, UOpRef& held, int chain, const Rule* why) {
    const UOpRef* first = nullptr;
    for (size_t i = c->src.size(); i-- > 0;) {
      if (map_.has_result(c->src[i].get())) continue;
      if (first) {
        push_visit(first->get(), why);
      } else {
        for (Slot* a : aliases_) {
          Frame f;
          f.slot = a, f.cur = nullptr, f.from = slot, f.stage = Frame::kAlias, f.chain = 0;
          stack_.push(f);
        }
        Frame f;
        f.slot = slot, f.cur = c, f.why = why, f.stage = held ? Frame::kFinishHeld : Frame::kFinish, f.chain = chain;
        if (held) held_.push_back(std::move(held));
        stack_.push(f);
      }
      first = &c->src[i];
    }
    return first;
  }

  // c's sources all have results: c is rebuilt on them, or else rewritten. What it becomes
  // is taken on here while its own sources have results, so a node and the nodes the rules
  // turn it into go through no frames; slot and those nodes' slots (aliases_) all get the
  // final result. Sources first, a result is its own result, so a node rebuilt on results
  // needs no look at its sources. cur: c's reference when nothing below holds c, else null.
  void finish(Slot* slot, UOp* c, UOpRef cur, int chain, const Rule* why) {
    aliases_.clear();
    for (bool rebuilt = false;;) {
      bool same = true;
      UOpRef next;
      if (!rebuilt && c->src.size() == 2) {  // most nodes: each result looked up once, the new sources on the stack
        const UOpRef& r0 = map_.result(c->src[0].get());
        const UOpRef& r1 = map_.result(c->src[1].get());
        if (!(r0 == c->src[0]) || !(r1 == c->src[1])) {
          same = false;
          const UOpRef src[2] = {r0, r1};
          next = c->replace_src(std::span<const UOpRef>(src, 2));
        }
      } else if (!rebuilt) {
        for (const UOpRef& s : c->src)
          if (!(map_.result(s.get()) == s)) { same = false; break; }
        if (!same) {
          for (const UOpRef& s : c->src) src_buf_.push_back(map_.result(s.get()));
          next = c->replace_src(std::span<const UOpRef>(src_buf_.data(), src_buf_.size()));
          src_buf_.clear();
        }
      }
      if (same) {
        Fired r = bottom_up_ ? Fired{} : try_rewrite(c);
        if (!r.rule) break;
        if (++chain > o_.max_chain) chain_error(r.rule, c, r.out.get());
        next = std::move(r.out);
        why = r.rule;
      }
      bool added;
      Slot& ns = map_.find_or_add(next.get(), added);
      if (!added) {
        if (!ns.val) self_error(why, next.get());
        cur = ns.val;
        c = cur.get();
        break;
      }
      aliases_.push_back(slot);
      slot = &ns;
      cur = std::move(next);
      rebuilt = !same && !bottom_up_;
      if (bottom_up_) rewrite_first(cur, chain, why);
      c = cur.get();
      if (rebuilt) continue;
      if (const UOpRef* first = wait_for_sources(slot, c, cur, chain, why)) {
        push_visit(first->get(), why);
        return;
      }
    }
    for (Slot* a : aliases_) a->val = cur;  // (none when cur is null: c is its own result)
    slot->val = cur ? std::move(cur) : UOpRef(c);
  }

  const PatternMatcher& pm_;
  void* ctx_;
  const RewriteOpts& o_;
  const bool bottom_up_;  // o_.bottom_up, read without going through o_
  TraceStep* step_ = nullptr;
  ResultMap map_;
  FrameStack stack_;
  std::vector<UOpRef> held_;     // nodes of kFinishHeld frames, in stack order
  std::vector<UOpRef> src_buf_;  // sources of the node being rebuilt
  std::vector<Slot*> aliases_;   // slots of the nodes the one being finished went through
  MatchState scratch_;
};
}  // namespace

UOpRef graph_rewrite(const UOpRef& sink, const PatternMatcher& pm, void* ctx, const RewriteOpts& opts) {
  if (!sink) fail(ErrorKind::Invalid, "graph_rewrite '" + std::string(opts.name) + "': no graph (null sink)");
  return Rewriter(pm, ctx, opts, sink->table->next_id()).run(sink);
}

}  // namespace mg
