// PatProgram: a rule's pattern compiled once, when its PatternMatcher is built, into an array
// of nodes whose checks are precomputed (op set, dtype mask, plain function pointers) and whose
// names are slot numbers, so matching a node reads a few fields instead of walking UPatNodes.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "rewrite/upat.h"

namespace mg {

struct PatNode {
  enum Check : uint8_t { kDtype = 1, kValue = 2, kArg = 4, kArgPred = 8, kPredFn = 16, kPred = 32 };
  OpSet ops;                // every op when the pattern takes any op
  uint8_t checks = 0;       // which of the other checks apply (Check bits)
  int8_t slot = -1;         // the name's slot; -1: unnamed
  UPatNode::Src kind = UPatNode::Src::Any;
  uint8_t n_src = 0;        // sources (Repeat: its one pattern)
  uint8_t n_alts = 0;       // UPat::any: alternatives (kids from `alts`)
  uint8_t pos = 0;          // which source of its parent it matches
  bool parent_permuted = false;  // its parent's sources match in any order: pos goes through its permutation
  bool choice = false;      // Permuted with two or more sources: the flat loop may come back to it
  bool bound_before = false;  // flat: an earlier node (preorder) binds its name, so it must be that node
  uint8_t min_src = 0;      // a matching node has min_src..min_src+src_span sources
  uint32_t src_span = UINT32_MAX;
  uint16_t parent = 0;      // its parent's node index (the root is its own)
  uint16_t kids = 0;        // index in PatProgram::kids of its first source
  uint16_t alts = 0;        // index in PatProgram::kids of its first alternative
  uint32_t scalars = 0;     // kDtype: scalars s whose DType{s} is listed (matches u.dtype or its scalar)
  bool other_dtypes = false;  // kDtype: vector or pointer dtypes are listed too (the list is looked up)
  double value = 0;         // kValue
  bool (*pred_fn)(const UOp&) = nullptr;
  const UPatNode* pat = nullptr;  // the source pattern: its arg, arg_pred, pred and dtype list
};

struct PatProgram {
  static constexpr size_t kMaxNames = 16;
  static constexpr size_t kMaxFlat = 32;
  std::vector<PatNode> nodes;       // nodes[0] is the root; the main tree in preorder first
  std::vector<uint16_t> kids;       // node indices of sources and alternatives
  std::vector<std::string> names;   // slot -> name
  uint64_t name_keys[kMaxNames] = {};  // slot -> name_key(name)
  // The pattern has no alternatives, repeats only unnamed leaves and has at most kMaxFlat nodes:
  // its nodes 0..n_flat-1 (preorder, repeated leaves excluded) match in one loop whose only
  // choices are permutations.
  bool flat = false;
  uint16_t n_flat = 0;
};

// A name of up to 7 bytes as one word (its bytes and its length), so a lookup compares words;
// a longer name is kLongName and compared as a string.
constexpr uint64_t kLongName = ~uint64_t(0);
constexpr uint64_t name_key(std::string_view n) {
  if (n.size() > 7) return kLongName;
  uint64_t k = uint64_t(n.size()) << 56;
  for (size_t i = 0; i < n.size(); i++) k |= uint64_t(uint8_t(n[i])) << (8 * i);
  return k;
}

// Empty string when the pattern compiles; otherwise why not (the rule's error).
std::string compile_pattern(const UPat& p, PatProgram& out);

}  // namespace mg
