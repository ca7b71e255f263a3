#include "frugal/core/tensor.h"

#include <cstring>

#include "frugal/core/allocator.h"
#include "frugal/core/error.h"

namespace frugal {

int64_t shape_numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    require(d >= 0, "negative dimension in shape " + shape_str(shape));
    n *= d;
  }
  return n;
}

std::string shape_str(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

Tensor Tensor::empty(Shape shape) {
  Tensor t;
  t.numel_ = shape_numel(shape);
  t.shape_ = std::move(shape);
  size_t bytes = t.bytes();
  t.storage_ = std::shared_ptr<float>(static_cast<float*>(tracked_alloc(bytes)),
                                      [bytes](float* p) { tracked_free(p, bytes); });
  return t;
}

Tensor::Tensor(Shape shape) : Tensor(empty(std::move(shape))) { fill(0.0f); }

Tensor::Tensor(Shape shape, const std::vector<float>& values) : Tensor(empty(std::move(shape))) {
  require(static_cast<int64_t>(values.size()) == numel_,
          "tensor of shape " + shape_str(shape_) + " given " + std::to_string(values.size()) + " values");
  std::memcpy(data(), values.data(), bytes());
}

Tensor Tensor::full(Shape shape, float value) {
  Tensor t = empty(std::move(shape));
  t.fill(value);
  return t;
}

int64_t Tensor::dim(int axis) const {
  int r = rank();
  if (axis < 0) axis += r;
  // The message is built only on failure: dim() sits in hot loop conditions.
  if (axis < 0 || axis >= r) throw Error("axis " + std::to_string(axis) + " out of range for shape " + shape_str(shape_));
  return shape_[axis];
}

Tensor Tensor::reshape(Shape shape) const {
  int64_t known = 1;
  int infer = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      require(infer < 0, "reshape: more than one -1 in " + shape_str(shape));
      infer = static_cast<int>(i);
    } else {
      known *= shape[i];
    }
  }
  if (infer >= 0) {
    require(known > 0 && numel_ % known == 0, "reshape: cannot infer -1 in " + shape_str(shape) + " from " + shape_str(shape_));
    shape[infer] = numel_ / known;
  }
  require(shape_numel(shape) == numel_, "reshape: " + shape_str(shape_) + " to " + shape_str(shape) + " changes the element count");
  Tensor t = *this;
  t.shape_ = std::move(shape);
  return t;
}

Tensor Tensor::clone() const {
  if (!defined()) return {};
  Tensor t = empty(shape_);
  std::memcpy(t.data(), data(), bytes());
  return t;
}

void Tensor::fill(float value) {
  float* p = data();
  for (int64_t i = 0; i < numel_; ++i) p[i] = value;
}

void Tensor::copy_from(const Tensor& src) {
  require(src.numel() == numel_, "copy_from: " + shape_str(src.shape()) + " into " + shape_str(shape_));
  std::memcpy(data(), src.data(), bytes());
}

std::vector<float> Tensor::to_vector() const { return std::vector<float>(data(), data() + numel_); }

}  // namespace frugal
