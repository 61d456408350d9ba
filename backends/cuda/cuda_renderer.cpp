// CUDA C for a linearized kernel. The semantics are those of the CPU renderer (llvm_renderer.cpp)
// and docs/semantics.md, spelled in C so that nothing is undefined:
// - signed integer +, -, * and negation wrap: computed in the unsigned type, converted back;
// - division and modulo by zero give 0, MIN / -1 wraps; shifts by the width or more (or by a
//   negative amount) shift everything out; float -> int casts saturate and NaN gives 0;
// - float MAX is NaN when either side is; float16 and bfloat16 live in float registers and are
//   rounded (cuda_fp16.h / cuda_bf16.h) after every op, as the CPU does; reductions of them
//   accumulate in float and round at the end;
// - bool is a byte in memory.
// Values that depend on the upcast lane (Kernel::lane) are rendered lane by lane: one C
// variable per lane. Loads and stores contiguous in the lane are 16-byte accesses (float4/int4
// of 4-byte lanes; uint4 words of packed float16/bfloat16/int8/bool lanes; narrower or several
// when the lanes fill less or more) when the address is provably aligned to the access, with
// one gate for all lanes. A load under a false gate gives 0 and does not touch
// memory; a store under one does not happen. GROUP kernels' shared memory (DEFINE_LOCAL) is a
// __shared__ array and their BARRIERs are __syncthreads().
#include "backends/cuda/cuda_renderer.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <optional>
#include <unordered_map>

#include "rewrite/symbolic.h"
#include "codegen/lane_values.h"
#include "uop/error.h"

namespace mg::cuda {

codegen::Target cuda_target(int sm, int max_threads, int shared_bytes) {
  codegen::Target t;
  t.threads = false;
  t.gpu = true;
  t.vector_bytes = 16;  // float4: each thread moves 16 bytes per access
  t.read_slack_bytes = 0;
  t.max_threads = max_threads;
  t.block_threads = std::min(256, max_threads);
  t.shared_bytes = shared_bytes;
  (void)sm;  // the limits above are the same on every architecture this backend targets (sm_50+)
  return t;
}

namespace {
using codegen::LinItem;

bool is_half(DType d) { return d.scalar == Scalar::Float16; }
bool is_bf16(DType d) { return d.scalar == Scalar::BFloat16; }
bool is_signed_int(DType d) { return d.is_int() && !d.is_unsigned(); }
int bits(DType d) { return d.itemsize() * 8; }

// The unsigned type integer arithmetic of d wraps in (at least 32 bits: C promotes narrower
// ones to int, where a product of two uint16 could overflow).
const char* wrap_type(DType d) { return d.itemsize() == 8 ? "unsigned long long" : "unsigned"; }
// The unsigned type of d's exact width (bitcasts).
const char* bits_type(int bytes) {
  switch (bytes) {
    case 1: return "unsigned char";
    case 2: return "unsigned short";
    case 4: return "unsigned";
    default: return "unsigned long long";
  }
}

std::string hex(uint64_t v) {
  char s[24];
  std::snprintf(s, sizeof s, "0x%llxULL", static_cast<unsigned long long>(v));
  return s;
}

// The helpers every kernel may call. static __forceinline__: each kernel's unit is compiled on
// its own, so nothing here is shared between programs.
constexpr const char* kPrelude = R"(#define MG_D static __device__ __forceinline__
template <class T> MG_D T mg_sdiv(T a, T b, T mn) { return b == T(0) ? T(0) : (b == T(-1) && a == mn) ? mn : T(a / b); }
template <class T> MG_D T mg_smod(T a, T b) { return (b == T(0) || b == T(-1)) ? T(0) : T(a % b); }
template <class T> MG_D T mg_udiv(T a, T b) { return b == T(0) ? T(0) : T(a / b); }
template <class T> MG_D T mg_umod(T a, T b) { return b == T(0) ? T(0) : T(a % b); }
template <class T, class U> MG_D T mg_shl(T a, T b, unsigned w) { return U(b) >= U(w) ? T(0) : T(U(a) << U(b)); }
template <class T, class U> MG_D T mg_sshr(T a, T b, unsigned w) { return U(b) >= U(w) ? (a < T(0) ? T(-1) : T(0)) : T(a >> U(b)); }
template <class T, class U> MG_D T mg_ushr(T a, T b, unsigned w) { return U(b) >= U(w) ? T(0) : T(a >> U(b)); }
template <class T, class U> MG_D T mg_ipow(T a, T b, bool sgn) {
  if (sgn && b < T(0)) return a == T(1) ? T(1) : a == T(-1) ? ((U(b) & 1u) ? T(-1) : T(1)) : T(0);
  U r = 1, x = U(a), e = U(b);
  for (; e; e >>= 1) { if (e & 1u) r = U(r * x); x = U(x * x); }
  return T(r);
}
template <class T> MG_D T mg_fmax(T a, T b) { return (a != a || b != b) ? a + b : (a > b ? a : b); }
template <class T> MG_D T mg_f2i(double x, double lo, double hi, T tlo, T thi) { return x != x ? T(0) : x <= lo ? tlo : x >= hi ? thi : T(x); }
)";

struct Names {
  std::vector<std::string> lanes;  // one per lane, or one for a scalar
};

class Renderer {
 public:
  explicit Renderer(const codegen::Kernel& k) : k_(k), w_(k.lane ? k.width : 1) {
    idx_ = "int";
    for (UOp* u : k.lowered->toposort())
      if (u->dtype.scalar == Scalar::Index && !u->dtype.is_ptr() && (u->vmin() < -(i128(1) << 30) || u->vmax() > (i128(1) << 30))) idx_ = "long long";
  }

  std::string run() {
    std::string params;
    for (int i = 0; i < k_.n_params; i++) params += (i ? ", " : "") + std::string("void* __restrict__ p") + std::to_string(i);
    // variables follow the buffers, by value
    for (size_t i = 0; i < k_.vars.size(); i++) params += (i || k_.n_params ? ", " : "") + std::string("long long var") + std::to_string(i);
    for (const LinItem& it : k_.lin) item(it);
    std::string head;
    for (int i = 0; i < k_.n_params; i++) {
      auto t = param_types_.find(i);
      std::string mt = t == param_types_.end() ? "unsigned char" : t->second;
      head += "  " + mt + "* __restrict__ b" + std::to_string(i) + " = (" + mt + "*)p" + std::to_string(i) + ";\n";
    }
    // The launch indices: gid flat over all threads (threads past the work return at once: no
    // kernel with a barrier has them), or in a GROUP kernel bid (the block) and lid (the thread).
    if (k_.gid) {
      head += "  const " + idx_ + " gid = (" + idx_ + ")blockIdx.x * (" + idx_ + ")blockDim.x + (" + idx_ + ")threadIdx.x;\n";
      if (k_.grid[0] * k_.block[0] > k_.gpu_threads) head += "  if (gid >= " + std::to_string(k_.gpu_threads) + ") return;\n";
    }
    for (UOp* u : k_.lowered->toposort()) {
      if (u->op != Ops::SPECIAL || u == k_.gid) continue;
      const std::string& n = std::get<std::string>(u->arg);
      if (n != "bid" && n != "lid") fail(ErrorKind::Compile, "CUDA renderer: no launch index " + n);
      head += "  const " + idx_ + " " + n + " = (" + idx_ + ")" + (n == "bid" ? "blockIdx.x" : "threadIdx.x") + ";\n";
    }
    std::string out = "// kernel " + k_.name + "\n";
    if (fp16_) out += "#include <cuda_fp16.h>\n";
    if (bf16_) out += "#include <cuda_bf16.h>\n";
    out += kPrelude;
    out += "extern \"C\" __global__ void __launch_bounds__(" + std::to_string(std::max<int64_t>(k_.block[0] * k_.block[1] * k_.block[2], 1)) + ") " +
           k_.fn_name + "(" + params + ") {\n" + head + body_ + "}\n";
    return out;
  }

 private:
  // ---- types ----
  std::string reg(DType d) {
    switch (d.scalar) {
      case Scalar::Bool: return "bool";
      case Scalar::Int8: return "signed char";
      case Scalar::UInt8: return "unsigned char";
      case Scalar::Int16: return "short";
      case Scalar::UInt16: return "unsigned short";
      case Scalar::Int32: return "int";
      case Scalar::UInt32: return "unsigned";
      case Scalar::Int64: return "long long";
      case Scalar::UInt64: return "unsigned long long";
      case Scalar::Index: return idx_;
      case Scalar::Float16: fp16_ = true; return "float";
      case Scalar::BFloat16: bf16_ = true; return "float";
      case Scalar::Float32: return "float";
      case Scalar::Float64: return "double";
      default: fail(ErrorKind::Compile, "CUDA renderer: no C type for " + d.name());
    }
  }
  std::string mem(DType d) {
    if (d.is_bool()) return "unsigned char";
    if (is_half(d)) { fp16_ = true; return "__half"; }
    if (is_bf16(d)) { bf16_ = true; return "__nv_bfloat16"; }
    return reg(d);
  }

  // ---- output ----
  void line(const std::string& s) { body_ += std::string(size_t(2 * depth_ + 2), ' ') + s + "\n"; }
  std::string fresh() { return "v" + std::to_string(n_++); }

  static bool contiguous(const UOp* index) { return codegen::contiguous_access(index); }
  bool vec(const UOp* u) { return lanes_(u); }  // u depends on the lane: a vector
  int lanes(const UOp* u) { return vec(u) ? w_ : 1; }

  std::string float_lit(DType d, double v) {
    if (std::isnan(v)) return d.scalar == Scalar::Float64 ? "__longlong_as_double(0x7ff8000000000000LL)" : "__int_as_float(0x7fc00000)";
    if (std::isinf(v)) {
      if (d.scalar == Scalar::Float64) return v > 0 ? "__longlong_as_double(0x7ff0000000000000LL)" : "__longlong_as_double((long long)0xfff0000000000000ULL)";
      return v > 0 ? "__int_as_float(0x7f800000)" : "__int_as_float((int)0xff800000u)";
    }
    char s[40];
    if (d.scalar == Scalar::Float64) std::snprintf(s, sizeof s, "%.17g", v);
    else std::snprintf(s, sizeof s, "%.9gf", double(float(v)));
    std::string r = s;
    if (r.find_first_of(".eEn") == std::string::npos) r.insert(d.scalar == Scalar::Float64 ? r.size() : r.size() - 1, ".0");
    return "(" + r + ")";
  }
  std::string int_lit(DType d, i128 v) {
    std::string t = reg(d);
    if (d.is_unsigned()) return "((" + t + ")" + hex(uint64_t(v)) + ")";
    if (v == int_min(Scalar::Int64)) return "((" + t + ")(-9223372036854775807LL - 1))";
    return "((" + t + ")" + std::to_string(int64_t(v)) + "LL)";
  }
  std::string lit(const UOp* c) {
    DType d = c->dtype;
    if (d.is_bool()) return c->const_int() ? "true" : "false";
    if (d.is_float()) return float_lit(d, c->const_float());
    if (d.scalar == Scalar::Index) return "(" + std::to_string(c->const_int()) + ")";
    return int_lit(d, c->const_int());
  }

  // u's value in lane l (a scalar is the same in every lane).
  std::string val(const UOp* u, int l = 0) {
    if (u->op == Ops::CONST) return lit(u);
    if (u == k_.lane) return "(" + std::to_string(l) + ")";
    if (u->op == Ops::SPECIAL) return std::get<std::string>(u->arg);
    if (u->op == Ops::DEFINE_VAR) {
      auto v = std::find(k_.vars.begin(), k_.vars.end(), u);
      if (v == k_.vars.end()) fail(ErrorKind::Internal, "CUDA renderer: " + node_str(u) + " is not among the kernel's variables");
      return "((" + idx_ + ")var" + std::to_string(v - k_.vars.begin()) + ")";
    }
    auto it = names_.find(u);
    if (it == names_.end()) fail(ErrorKind::Internal, "CUDA renderer: " + node_str(u) + " used before it was computed");
    const std::vector<std::string>& n = it->second.lanes;
    return n.size() == 1 ? n[0] : n.at(size_t(l));
  }

  void item(const LinItem& it) {
    switch (it.kind) {
      case LinItem::LoopBegin: {
        std::string r = "r" + std::to_string(n_++);
        line("for (" + idx_ + " " + r + " = 0; " + r + " < " + val(it.u->src[0].get()) + "; " + r + "++) {");
        names_[it.u] = Names{{r}};
        depth_++;
        break;
      }
      case LinItem::LoopEnd: depth_--; line("}"); break;
      case LinItem::AccInit: acc_init(it.u); break;
      case LinItem::AccUpdate: acc_update(it.u, it.v); break;
      case LinItem::Op: op(it.u); break;
    }
  }

  // ---- accumulators ----
  DType compute(DType d) { return is_half(d) || is_bf16(d) ? dtypes::float32 : d; }
  std::string identity(Ops op, DType c) {
    if (op == Ops::ADD) return c.is_bool() ? "false" : c.is_float() ? float_lit(c, 0.0) : int_lit(c, 0);
    if (op == Ops::MUL) return c.is_bool() ? "true" : c.is_float() ? float_lit(c, 1.0) : int_lit(c, 1);
    if (c.is_float()) return float_lit(c, -INFINITY);
    if (c.is_bool()) return "false";
    return int_lit(c, int_min(c.scalar));
  }
  void acc_init(const UOp* r) {
    DType c = compute(r->dtype);
    Names n;
    for (int l = 0; l < lanes(r); l++) {
      n.lanes.push_back("acc" + std::to_string(n_++));
      line(reg(c) + " " + n.lanes.back() + " = " + identity(std::get<Ops>(r->arg), c) + ";");
    }
    accs_[r] = n;
  }
  void acc_update(const UOp* r, const UOp* v) {
    DType c = compute(r->dtype);
    const Names& a = accs_.at(r);
    for (int l = 0; l < int(a.lanes.size()); l++) line(a.lanes[size_t(l)] + " = " + binary(std::get<Ops>(r->arg), c, a.lanes[size_t(l)], val(v, l)) + ";");
  }

  // ---- arithmetic (expressions) ----
  std::string round_to(DType d, const std::string& x) {
    if (is_half(d)) { fp16_ = true; return "__half2float(__float2half_rn(" + x + "))"; }
    if (is_bf16(d)) { bf16_ = true; return "__bfloat162float(__float2bfloat16_rn(" + x + "))"; }
    return x;
  }

  std::string binary(Ops op, DType d, const std::string& a, const std::string& b) {
    std::string t = reg(d);
    if (d.is_bool()) {
      switch (op) {
        case Ops::ADD: case Ops::MAX: case Ops::OR: return "(" + a + " || " + b + ")";
        case Ops::MUL: case Ops::AND: return "(" + a + " && " + b + ")";
        case Ops::SUB: case Ops::XOR: case Ops::CMPNE: return "(" + a + " != " + b + ")";
        case Ops::CMPEQ: return "(" + a + " == " + b + ")";
        case Ops::CMPLT: return "(!" + a + " && " + b + ")";
        default: break;
      }
    } else if (d.is_float()) {
      bool f64 = d.scalar == Scalar::Float64;
      switch (op) {
        case Ops::ADD: return "(" + a + " + " + b + ")";
        case Ops::SUB: return "(" + a + " - " + b + ")";
        case Ops::MUL: return "(" + a + " * " + b + ")";
        case Ops::FDIV: return "(" + a + " / " + b + ")";
        case Ops::MOD: return std::string(f64 ? "fmod(" : "fmodf(") + a + ", " + b + ")";
        case Ops::POW: return std::string(f64 ? "pow(" : "powf(") + a + ", " + b + ")";
        case Ops::MAX: return "mg_fmax<" + t + ">(" + a + ", " + b + ")";
        case Ops::CMPLT: return "(" + a + " < " + b + ")";
        case Ops::CMPNE: return "(" + a + " != " + b + ")";
        case Ops::CMPEQ: return "(" + a + " == " + b + ")";
        default: break;
      }
    } else if (d.scalar == Scalar::Index) {  // index arithmetic never wraps (its bounds are known)
      switch (op) {
        case Ops::ADD: return "(" + a + " + " + b + ")";
        case Ops::SUB: return "(" + a + " - " + b + ")";
        case Ops::MUL: return "(" + a + " * " + b + ")";
        case Ops::IDIV: return "mg_sdiv<" + t + ">(" + a + ", " + b + ", " + (idx_ == "int" ? "(-2147483647 - 1)" : "(-9223372036854775807LL - 1)") + ")";
        case Ops::MOD: return "mg_smod<" + t + ">(" + a + ", " + b + ")";
        case Ops::MAX: return "(" + a + " > " + b + " ? " + a + " : " + b + ")";
        case Ops::CMPLT: return "(" + a + " < " + b + ")";
        case Ops::CMPNE: return "(" + a + " != " + b + ")";
        case Ops::CMPEQ: return "(" + a + " == " + b + ")";
        default: break;
      }
    } else {
      bool s = is_signed_int(d);
      std::string u = wrap_type(d), w = std::to_string(bits(d)), tu = "<" + t + ", " + u + ">";
      auto wrap = [&](const char* o) { return "((" + t + ")((" + u + ")" + a + " " + o + " (" + u + ")" + b + "))"; };
      switch (op) {
        case Ops::ADD: return wrap("+");
        case Ops::SUB: return wrap("-");
        case Ops::MUL: return wrap("*");
        case Ops::AND: return "((" + t + ")(" + a + " & " + b + "))";
        case Ops::OR: return "((" + t + ")(" + a + " | " + b + "))";
        case Ops::XOR: return "((" + t + ")(" + a + " ^ " + b + "))";
        case Ops::CMPLT: return "(" + a + " < " + b + ")";
        case Ops::CMPNE: return "(" + a + " != " + b + ")";
        case Ops::CMPEQ: return "(" + a + " == " + b + ")";
        case Ops::MAX: return "(" + a + " > " + b + " ? " + a + " : " + b + ")";
        case Ops::IDIV: return s ? "mg_sdiv<" + t + ">(" + a + ", " + b + ", " + int_lit(d, int_min(d.scalar)) + ")" : "mg_udiv<" + t + ">(" + a + ", " + b + ")";
        case Ops::MOD: return s ? "mg_smod<" + t + ">(" + a + ", " + b + ")" : "mg_umod<" + t + ">(" + a + ", " + b + ")";
        case Ops::SHL: return "mg_shl" + tu + "(" + a + ", " + b + ", " + w + ")";
        case Ops::SHR: return (s ? "mg_sshr" : "mg_ushr") + tu + "(" + a + ", " + b + ", " + w + ")";
        case Ops::POW: return "mg_ipow" + tu + "(" + a + ", " + b + ", " + (s ? "true" : "false") + ")";
        default: break;
      }
    }
    fail(ErrorKind::Compile, std::string("CUDA renderer: no ") + op_name(op) + " for " + d.name());
  }

  std::string unary(Ops op, DType d, const std::string& x) {
    bool f64 = d.scalar == Scalar::Float64;
    auto fn = [&](const char* name) { return std::string(name) + (f64 ? "" : "f") + "(" + x + ")"; };
    switch (op) {
      case Ops::NEG:
        if (d.is_float()) return "(-" + x + ")";
        if (d.is_bool()) return x;
        if (d.scalar == Scalar::Index) return "(-" + x + ")";
        return "((" + reg(d) + ")((" + wrap_type(d) + ")0 - (" + wrap_type(d) + ")" + x + "))";
      case Ops::EXP2: return fn("exp2");
      case Ops::LOG2: return fn("log2");
      case Ops::SIN: return fn("sin");
      case Ops::SQRT: return fn("sqrt");
      case Ops::TRUNC: return fn("trunc");
      case Ops::RECIPROCAL: return "(" + float_lit(d, 1.0) + " / " + x + ")";
      default: fail(ErrorKind::Compile, std::string("CUDA renderer: no ") + op_name(op) + " for " + d.name());
    }
  }

  std::string cast(DType from, DType to, const std::string& x) {
    if (to.is_bool()) return "(" + x + " != " + (from.is_float() ? float_lit(from, 0.0) : from.is_bool() ? "false" : "0") + ")";
    if (from.is_bool()) return to.is_float() ? "(" + x + " ? " + float_lit(to, 1.0) + " : " + float_lit(to, 0.0) + ")" : "((" + reg(to) + ")" + x + ")";
    if (from.is_int() && to.is_int()) return "((" + reg(to) + ")" + x + ")";  // keeps the low bits
    if (from.is_int()) {  // -> float: float64 directly, the others through float32
      if (to.scalar == Scalar::Float64) return "((double)" + x + ")";
      return round_to(to, "((float)" + x + ")");
    }
    if (to.is_int()) {  // saturating, NaN -> 0; compared in double, where every bound is exact or rounds outward
      std::string t = reg(to);
      double lo = double(int_min(to.scalar)), hi = double(int_max(to.scalar));
      char b[96];
      std::snprintf(b, sizeof b, "%.17g, %.17g", lo, hi);
      return "mg_f2i<" + t + ">((double)" + x + ", " + b + ", " + int_lit(to, int_min(to.scalar)) + ", " + int_lit(to, int_max(to.scalar)) + ")";
    }
    // float -> float: through float32 except float32 <-> float64 and float64 -> float64
    if (to.scalar == Scalar::Float64) return "((double)" + x + ")";
    std::string f = from.scalar == Scalar::Float64 ? "((float)" + x + ")" : x;
    return round_to(to, f);
  }

  // The bits of a value as an unsigned integer of its width, and back.
  std::string to_bits(DType d, const std::string& x) {
    std::string bt = bits_type(d.itemsize());
    if (d.is_bool()) return "((unsigned char)" + x + ")";
    if (d.scalar == Scalar::Float32) return "__float_as_uint(" + x + ")";
    if (d.scalar == Scalar::Float64) return "((unsigned long long)__double_as_longlong(" + x + "))";
    if (is_half(d)) { fp16_ = true; return "__half_as_ushort(__float2half_rn(" + x + "))"; }
    if (is_bf16(d)) return "((unsigned short)(__float_as_uint(" + x + ") >> 16))";
    return "((" + bt + ")" + x + ")";
  }
  std::string from_bits(DType d, const std::string& b) {
    if (d.is_bool()) return "(" + b + " != 0)";
    if (d.scalar == Scalar::Float32) return "__uint_as_float(" + b + ")";
    if (d.scalar == Scalar::Float64) return "__longlong_as_double((long long)" + b + ")";
    if (is_half(d)) { fp16_ = true; return "__half2float(__ushort_as_half(" + b + "))"; }
    if (is_bf16(d)) return "__uint_as_float((unsigned)" + b + " << 16)";
    return "((" + reg(d) + ")" + b + ")";
  }

  // ---- memory ----
  std::string from_mem(DType d, const std::string& m) {
    if (d.is_bool()) return "(" + m + " != 0)";
    if (is_half(d)) return "__half2float(" + m + ")";
    if (is_bf16(d)) return "__bfloat162float(" + m + ")";
    return m;
  }
  std::string to_mem(DType d, const std::string& x) {
    if (d.is_bool()) return "(unsigned char)" + x;
    if (is_half(d)) return "__float2half_rn(" + x + ")";
    if (is_bf16(d)) return "__float2bfloat16_rn(" + x + ")";
    return x;
  }

  // The buffer an INDEX reads, typed by what it points to (a local one is declared already).
  std::string buffer(const UOp* idx) {
    const UOp* g = idx->src[0].get();
    if (g->op == Ops::DEFINE_LOCAL) return val(g);
    if (g->op != Ops::DEFINE_GLOBAL) fail(ErrorKind::Compile, "CUDA renderer: an INDEX into " + node_str(g));
    int p = int(std::get<int64_t>(g->arg));
    param_types_[p] = mem(idx->dtype.base());
    return "b" + std::to_string(p);
  }

  // A contiguous access of all lanes as vectors of up to 16 bytes (more lanes than one holds:
  // several, one after another), when the base is a multiple of a vector's lanes (buffers start
  // 256-byte aligned, and CUDA faults on a misaligned vector access). 4-byte types: float4,
  // int4, uint4, a lane per field. 1- and 2-byte types (float16, bfloat16, bool, int8, int16,
  // ...): 32-bit words (unsigned, uint2, uint4) of packed lanes, the lowest address in the low
  // bits (both the GPU and the host are little-endian), unpacked by shifts, which are
  // bit-exact and leave no aliasing to the compiler.
  struct VecAccess {
    std::string type;  // float4, int4, uint4, uint2, unsigned
    int fields = 0;    // 32-bit fields per vector: 1 (a plain unsigned), 2 or 4
    int per_field = 0; // lanes per field: 1 (4-byte types), 2 or 4 (packed)
    int count = 0;     // vectors per access
    int lanes() const { return fields * per_field; }  // per vector
  };
  std::optional<VecAccess> vector_access(const UOp* idx) {
    if (!contiguous(idx) || w_ < 2 || (w_ & (w_ - 1))) return std::nullopt;
    DType d = idx->dtype.base();
    const int item = d.itemsize(), bytes = w_ * item;
    if (item > 4 || bytes < 4) return std::nullopt;
    VecAccess v;
    if (item == 4) {
      v.type = d.scalar == Scalar::Float32 ? "float4" : d.scalar == Scalar::Int32 ? "int4" : d.scalar == Scalar::UInt32 ? "uint4" : "";
      if (v.type.empty() || bytes < 16) return std::nullopt;
      v.fields = 4, v.per_field = 1;
    } else {
      v.fields = std::min(bytes, 16) / 4, v.per_field = 4 / item;
      v.type = v.fields == 4 ? "uint4" : v.fields == 2 ? "uint2" : "unsigned";
    }
    v.count = w_ / v.lanes();
    UOpRef m = simplify(idx->src[1] % idx->table->cnst(dtypes::index, int64_t(v.lanes())));
    if (m->op != Ops::CONST || m->const_int() != 0) return std::nullopt;
    return v;
  }
  // Field f of vector x ("x.y", or x itself for a plain word).
  static std::string field(const VecAccess& v, const std::string& x, int f) {
    static const char* names[4] = {"x", "y", "z", "w"};
    return v.fields == 1 ? x : x + "." + names[f];
  }
  // A vector made of its fields (a plain word is its one field).
  static std::string make_vec(const VecAccess& v, const std::vector<std::string>& fields) {
    if (v.fields == 1) return fields[0];
    std::string s = "make_" + v.type + "(";
    for (size_t i = 0; i < fields.size(); i++) s += (i ? ", " : "") + fields[i];
    return s + ")";
  }
  // A lane's value from its bits (an unsigned char/short expression) and its bits (as unsigned,
  // zero above its width) from its value: the conversions of from_mem and to_mem.
  std::string from_mem_bits(DType d, const std::string& b) {
    if (is_half(d)) return "__half2float(__ushort_as_half(" + b + "))";
    if (is_bf16(d)) return "__bfloat162float(__ushort_as_bfloat16(" + b + "))";
    return from_bits(d, b);
  }
  std::string mem_bits(DType d, const std::string& x) {
    if (is_half(d)) return "(unsigned)__half_as_ushort(" + to_mem(d, x) + ")";
    if (is_bf16(d)) return "(unsigned)__bfloat16_as_ushort(" + to_mem(d, x) + ")";
    return "(unsigned)(" + std::string(bits_type(d.itemsize())) + ")" + x;
  }

  const UOp* gate_of(const UOp* idx) {
    const UOp* g = idx->src.size() > 2 ? idx->src[2].get() : nullptr;
    return g && g->op == Ops::CONST && g->const_int() ? nullptr : g;
  }

  // INDEX: the address (element offset) per lane; a contiguous one is its base.
  void index(const UOp* u) {
    Names n;
    for (int l = 0; l < lanes(u); l++) {
      n.lanes.push_back(fresh());
      line(idx_ + " " + n.lanes.back() + " = " + val(u->src[1].get(), l) + ";");
    }
    names_[u] = n;
  }
  std::string addr(const UOp* idx, int l) {
    std::string a = val(idx, contiguous(idx) ? 0 : l);
    return buffer(idx) + "[" + a + (contiguous(idx) && l ? " + " + std::to_string(l) : "") + "]";
  }

  void load(const UOp* u) {
    const UOp* idx = u->src[0].get();
    DType d = u->dtype;
    const UOp* gate = gate_of(idx);
    Names n;
    const int nl = lanes(u);
    std::optional<VecAccess> va = nl == w_ && (!gate || !vec(gate)) ? vector_access(idx) : std::nullopt;
    if (va) {  // the vectors, then each lane from its field
      std::vector<std::string> vs;
      const std::string bits = bits_type(d.itemsize()), zero = make_vec(*va, std::vector<std::string>(size_t(va->fields), va->fields == 1 ? "0u" : "0"));
      for (int c = 0; c < va->count; c++) {
        vs.push_back(fresh());
        std::string base = val(idx) + (c ? " + " + std::to_string(c * va->lanes()) : "");
        std::string ld = "*(const " + va->type + "*)&" + buffer(idx) + "[" + base + "]";
        line(va->type + " " + vs.back() + " = " + (gate ? val(gate) + " ? " + ld + " : " + zero : ld) + ";");
      }
      for (int l = 0; l < nl; l++) {
        const int c = l / va->lanes(), f = l % va->lanes() / va->per_field, part = l % va->per_field;
        std::string x = field(*va, vs[size_t(c)], f);
        if (va->per_field > 1) x = from_mem_bits(d, "(" + bits + ")" + (part ? "(" + x + " >> " + std::to_string(part * 8 * d.itemsize()) + ")" : x));
        n.lanes.push_back(fresh());
        line(reg(d) + " " + n.lanes.back() + " = " + x + ";");
      }
    } else {
      for (int l = 0; l < nl; l++) n.lanes.push_back(fresh());
      for (int l = 0; l < nl; l++) {
        std::string m = from_mem(d, addr(idx, l));
        std::string zero = d.is_bool() ? "false" : d.is_float() ? float_lit(d.scalar == Scalar::Float64 ? d : dtypes::float32, 0.0) : "0";
        line(reg(d) + " " + n.lanes[size_t(l)] + " = " + (gate ? val(gate, l) + " ? " + m + " : " + zero : m) + ";");
      }
    }
    names_[u] = n;
  }

  void store(const UOp* u) {
    const UOp* idx = u->src[0].get();
    const UOp* v = u->src[1].get();
    DType d = v->dtype;
    const UOp* gate = gate_of(idx);
    const int nl = contiguous(idx) || vec(idx) ? w_ : 1;
    std::optional<VecAccess> va = nl == w_ && (!gate || !vec(gate)) ? vector_access(idx) : std::nullopt;
    if (va) {  // each vector from its lanes, packed into words for narrow types
      for (int c = 0; c < va->count; c++) {
        std::vector<std::string> fields;
        for (int f = 0; f < va->fields; f++) {
          const int l0 = c * va->lanes() + f * va->per_field;
          if (va->per_field == 1) {
            fields.push_back(val(v, l0));
            continue;
          }
          std::string word;
          for (int part = 0; part < va->per_field; part++) {
            std::string b = mem_bits(d, val(v, l0 + part));
            word += part ? " | (" + b + " << " + std::to_string(part * 8 * d.itemsize()) + ")" : b;
          }
          fields.push_back(fresh());
          line("unsigned " + fields.back() + " = " + word + ";");
        }
        std::string base = val(idx) + (c ? " + " + std::to_string(c * va->lanes()) : "");
        std::string st = "*(" + va->type + "*)&" + buffer(idx) + "[" + base + "] = " + make_vec(*va, fields) + ";";
        line(gate ? "if (" + val(gate) + ") " + st : st);
      }
      return;
    }
    for (int l = 0; l < nl; l++) {
      std::string st = addr(idx, l) + " = " + to_mem(d, val(v, l)) + ";";
      line(gate ? "if (" + val(gate, l) + ") " + st : st);
    }
  }

  void op(const UOp* u) {
    switch (u->op) {
      case Ops::SPECIAL: names_[u] = Names{{std::get<std::string>(u->arg)}}; return;
      case Ops::DEFINE_LOCAL: {  // shared memory of the block, in the register type
        std::string n = "smem" + std::to_string(std::get<int64_t>(u->arg));
        line("__shared__ " + reg(u->dtype.base()) + " " + n + "[" + std::to_string(u->dtype.ptr_size) + "];");
        names_[u] = Names{{n}};
        return;
      }
      case Ops::BARRIER: line("__syncthreads();"); return;
      case Ops::INDEX: index(u); return;
      case Ops::LOAD: load(u); return;
      case Ops::STORE: store(u); return;
      default: break;
    }
    Names n;
    DType d = u->dtype;
    for (int l = 0; l < lanes(u); l++) {
      std::string e;
      switch (u->op) {
        case Ops::REDUCE: e = round_to(d, accs_.at(u).lanes.size() == 1 ? accs_.at(u).lanes[0] : accs_.at(u).lanes[size_t(l)]); break;
        case Ops::CAST: e = cast(u->src[0]->dtype, d, val(u->src[0].get(), l)); break;
        case Ops::BITCAST: e = from_bits(d, to_bits(u->src[0]->dtype, val(u->src[0].get(), l))); break;
        case Ops::WHERE: e = "(" + val(u->src[0].get(), l) + " ? " + val(u->src[1].get(), l) + " : " + val(u->src[2].get(), l) + ")"; break;
        default: {
          if (!is_alu(u->op)) fail(ErrorKind::Compile, "CUDA renderer: cannot render " + node_str(u));
          DType s = u->src[0]->dtype;
          if (op_group(u->op) == OpGroup::Unary) e = unary(u->op, s, val(u->src[0].get(), l));
          else if (op_group(u->op) == OpGroup::Binary) e = binary(u->op, s, val(u->src[0].get(), l), val(u->src[1].get(), l));
          else fail(ErrorKind::Compile, "CUDA renderer: cannot render " + node_str(u));
          if (d.is_float()) e = round_to(d, e);
        }
      }
      n.lanes.push_back(fresh());
      line(reg(d) + " " + n.lanes.back() + " = " + e + ";");
    }
    names_[u] = n;
  }

  const codegen::Kernel& k_;
  int w_;
  std::string idx_;
  std::string body_;
  int depth_ = 0, n_ = 0;
  bool fp16_ = false, bf16_ = false;
  std::unordered_map<int, std::string> param_types_;
  std::unordered_map<const UOp*, Names> names_, accs_;
  codegen::LaneValues lanes_{k_.lane};
};
}  // namespace

std::string render_cuda(const codegen::Kernel& k) { return Renderer(k).run(); }

}  // namespace mg::cuda
