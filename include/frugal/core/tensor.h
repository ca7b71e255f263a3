// Tensor: float32, a shape, contiguous row-major storage from the tracking allocator.
// Copies share storage (like a handle); clone() makes a deep copy. reshape() shares storage.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace frugal {

using Shape = std::vector<int64_t>;

int64_t shape_numel(const Shape& shape);
std::string shape_str(const Shape& shape);  // "[128, 1, 28, 28]"

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(Shape shape);  // zero-filled
  Tensor(Shape shape, const std::vector<float>& values);

  static Tensor zeros(Shape shape) { return Tensor(std::move(shape)); }
  static Tensor full(Shape shape, float value);
  static Tensor empty(Shape shape);  // uninitialised: for outputs a kernel overwrites entirely

  bool defined() const { return storage_ != nullptr; }
  const Shape& shape() const { return shape_; }
  int rank() const { return static_cast<int>(shape_.size()); }
  int64_t dim(int axis) const;  // negative axis counts from the end
  int64_t numel() const { return numel_; }
  size_t bytes() const { return static_cast<size_t>(numel_) * sizeof(float); }

  float* data() { return storage_.get(); }
  const float* data() const { return storage_.get(); }
  float& operator[](int64_t i) { return storage_.get()[i]; }
  float operator[](int64_t i) const { return storage_.get()[i]; }

  // True when no other Tensor shares this storage (so it may be adopted instead of copied).
  bool sole_owner() const { return storage_.use_count() == 1; }

  Tensor reshape(Shape shape) const;  // same storage; one dimension may be -1
  Tensor clone() const;
  void fill(float value);
  void copy_from(const Tensor& src);  // same numel required
  std::vector<float> to_vector() const;

 private:
  std::shared_ptr<float> storage_;
  Shape shape_;
  int64_t numel_ = 0;
};

}  // namespace frugal
