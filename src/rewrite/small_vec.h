// SmallVec: a vector that keeps its first N elements inline. The symbolic rules build many
// short-lived term lists (a sum's terms, its coefficients); keeping them off the heap removes
// a malloc and a free per list.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstring>
#include <initializer_list>
#include <type_traits>
#include <memory>
#include <new>
#include <utility>

namespace mg {

template <class T, size_t N>
class SmallVec {
 public:
  SmallVec() = default;
  SmallVec(size_t n, const T& v) { resize(n, v); }
  SmallVec(std::initializer_list<T> l) { for (const T& x : l) push_back(x); }
  SmallVec(const SmallVec& o) { append(o); }
  SmallVec(SmallVec&& o) noexcept { take(std::move(o)); }
  SmallVec& operator=(const SmallVec& o) {
    if (this != &o) { clear(); append(o); }
    return *this;
  }
  SmallVec& operator=(SmallVec&& o) noexcept {
    if (this != &o) { release(); take(std::move(o)); }
    return *this;
  }
  ~SmallVec() { release(); }

  size_t size() const { return n_; }
  bool empty() const { return n_ == 0; }
  T* data() { return p_; }
  const T* data() const { return p_; }
  T* begin() { return p_; }
  T* end() { return p_ + n_; }
  const T* begin() const { return p_; }
  const T* end() const { return p_ + n_; }
  T& operator[](size_t i) { return p_[i]; }
  const T& operator[](size_t i) const { return p_[i]; }
  T& back() { return p_[n_ - 1]; }

  void push_back(T v) {
    if (n_ == cap_) grow(cap_ * 2);
    new (p_ + n_) T(std::move(v));
    n_++;
  }
  void pop_back() { p_[--n_].~T(); }
  void resize(size_t n, const T& v = T()) {
    if (n > cap_) grow(n);
    while (n_ < n) new (p_ + n_++) T(v);
    if constexpr (std::is_trivially_destructible_v<T>) n_ = std::min(n_, n);
    else while (n_ > n) p_[--n_].~T();
  }
  void clear() { resize(0); }

 private:
  T* inline_buf() { return std::launder(reinterpret_cast<T*>(buf_)); }
  void append(const SmallVec& o) {
    if (n_ + o.n_ > cap_) grow(n_ + o.n_);
    if constexpr (std::is_trivially_copyable_v<T>) {
      if (o.n_) std::memcpy(static_cast<void*>(p_ + n_), o.p_, o.n_ * sizeof(T));
      n_ += o.n_;
    } else {
      for (const T& x : o) new (p_ + n_++) T(x);
    }
  }
  void grow(size_t cap) {
    T* q = static_cast<T*>(::operator new(cap * sizeof(T), std::align_val_t(alignof(T))));
    for (size_t i = 0; i < n_; i++) { new (q + i) T(std::move(p_[i])); p_[i].~T(); }
    free_heap();
    p_ = q;
    cap_ = cap;
  }
  void free_heap() {
    if (p_ != inline_buf()) ::operator delete(p_, std::align_val_t(alignof(T)));
  }
  void release() {
    clear();
    free_heap();
    p_ = inline_buf();
    cap_ = N;
  }
  // o's elements move here (its heap block, if it has one, changes hands)
  void take(SmallVec&& o) {
    if (o.p_ != o.inline_buf()) {
      p_ = o.p_; n_ = o.n_; cap_ = o.cap_;
      o.p_ = o.inline_buf(); o.n_ = 0; o.cap_ = N;
      return;
    }
    for (size_t i = 0; i < o.n_; i++) { new (p_ + i) T(std::move(o.p_[i])); o.p_[i].~T(); }
    n_ = o.n_;
    o.n_ = 0;
  }

  alignas(T) unsigned char buf_[N * sizeof(T)];
  T* p_ = inline_buf();
  size_t n_ = 0, cap_ = N;
};

}  // namespace mg
