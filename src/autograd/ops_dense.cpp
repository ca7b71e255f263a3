// linear and matmul: GEMMs through kernels::gemm (oneDNN sgemm or the reference loops); a sparse
// (spiking) input to linear takes the event-driven kernel instead (kernels/event.h).
#include "frugal/autograd/ops.h"
#include "frugal/core/error.h"
#include "frugal/kernels/event.h"
#include "frugal/kernels/gemm.h"

namespace frugal::autograd {

Var linear(const Var& x, const Var& w, const Var& b) {
  const Tensor& xv = x.value();
  const Tensor& wv = w.value();
  require(wv.rank() == 2, "linear: weight must be [out, in], got " + shape_str(wv.shape()));
  int64_t out = wv.dim(0), in = wv.dim(1);
  require(xv.rank() >= 1 && xv.dim(-1) == in,
          "linear: input " + shape_str(xv.shape()) + " does not end in " + std::to_string(in) + " features");
  require(!b.defined() || b.value().numel() == out, "linear: bias must have " + std::to_string(out) + " elements");
  int64_t rows = xv.numel() / in;
  Shape ys = xv.shape();
  ys.back() = out;
  Tensor y = Tensor::empty(ys);
  if (kernels::use_events(kernels::EventOp::linear, xv.data(), xv.numel())) {
    kernels::event_linear_forward(rows, in, out, xv.data(), wv.data(), b.defined() ? b.value().data() : nullptr,
                                  y.data());
  } else {
    if (b.defined()) {
      const float* bp = b.value().data();
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t j = 0; j < out; ++j) y[r * out + j] = bp[j];
    }
    kernels::gemm_packed(false, true, rows, out, in, xv.data(), wv.data(), y.data(), b.defined());
  }
  return record(y, {x, w, b}, [x, w, b, rows, in, out](const Tensor& dy) {
    if (x.requires_grad()) {
      Tensor dx = Tensor::empty(x.shape());
      kernels::gemm_packed(false, false, rows, in, out, dy.data(), w.value().data(), dx.data());
      x.add_grad(dx);
    }
    if (w.requires_grad()) {
      Tensor dw = Tensor::empty(w.shape());
      kernels::gemm_packed(true, false, out, in, rows, dy.data(), x.value().data(), dw.data());
      w.add_grad(dw);
    }
    if (b.requires_grad()) {
      Tensor db = Tensor::zeros({out});
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t j = 0; j < out; ++j) db[j] += dy[r * out + j];
      b.add_grad(db);
    }
  });
}

Var matmul(const Var& a, const Var& b) {
  const Tensor& av = a.value();
  const Tensor& bv = b.value();
  require(av.rank() == 2 && bv.rank() == 2 && av.dim(1) == bv.dim(0),
          "matmul: shapes " + shape_str(av.shape()) + " and " + shape_str(bv.shape()) + " do not chain");
  int64_t m = av.dim(0), k = av.dim(1), n = bv.dim(1);
  Tensor y = Tensor::empty({m, n});
  kernels::gemm_packed(false, false, m, n, k, av.data(), bv.data(), y.data());
  return record(y, {a, b}, [a, b, m, k, n](const Tensor& dy) {
    if (a.requires_grad()) {
      Tensor da = Tensor::empty({m, k});
      kernels::gemm_packed(false, true, m, k, n, dy.data(), b.value().data(), da.data());
      a.add_grad(da);
    }
    if (b.requires_grad()) {
      Tensor db = Tensor::empty({k, n});
      kernels::gemm_packed(true, false, k, n, m, a.value().data(), dy.data(), db.data());
      b.add_grad(db);
    }
  });
}

}  // namespace frugal::autograd
