// InternalVector: a growable array of trivially copyable T in InternalMmap memory, for the
// audits' snapshots (live blocks, regions, candidates). Never calls malloc: it is filled
// while the heap tables are locked and from threads that must not re-enter the allocator.
// Its memory lives as long as the process (no destructor: the audits' vectors are static
// state, and a destructor would make them dynamic initializers of the preload).
#pragma once

#include <cstddef>
#include <cstring>
#include <type_traits>

#include "shadow/base/internal_mmap.h"

namespace cgosan {

template <typename T>
class InternalVector {
  static_assert(std::is_trivially_copyable<T>::value, "InternalVector holds plain data");

 public:
  InternalVector() = default;
  InternalVector(const InternalVector&) = delete;
  InternalVector& operator=(const InternalVector&) = delete;

  // False when memory ran out (the element is dropped).
  bool Push(const T& v) {
    if (size_ == capacity_ && !Grow()) return false;
    data_[size_++] = v;
    return true;
  }
  // Makes room for n elements, so that pushes up to n map no new memory. False when out.
  bool Reserve(size_t n) {
    while (capacity_ < n) {
      if (!Grow()) return false;
    }
    return true;
  }
  void Clear() { size_ = 0; }
  void Truncate(size_t n) {
    if (n < size_) size_ = n;
  }
  size_t size() const { return size_; }
  T* data() { return data_; }
  const T* data() const { return data_; }
  T& operator[](size_t i) { return data_[i]; }
  const T& operator[](size_t i) const { return data_[i]; }
  T* begin() { return data_; }
  T* end() { return data_ + size_; }

 private:
  bool Grow() {
    size_t capacity = capacity_ ? capacity_ * 2 : (PageSize() + sizeof(T) - 1) / sizeof(T) * 4;
    T* data = static_cast<T*>(InternalMmap(capacity * sizeof(T)));
    if (!data) return false;
    if (data_) {
      memcpy(static_cast<void*>(data), data_, size_ * sizeof(T));
      InternalMunmap(data_, capacity_ * sizeof(T));
    }
    data_ = data;
    capacity_ = capacity;
    return true;
  }

  T* data_ = nullptr;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

}  // namespace cgosan
