// linear and matmul: GEMMs through kernels::gemm (oneDNN sgemm or the reference loops); a sparse
// (spiking) input to linear takes the event-driven kernel instead (kernels/event.h).
#include "frugal/autograd/ops.h"
#include "frugal/core/error.h"
#include "frugal/kernels/event.h"
#include "frugal/kernels/gemm.h"

namespace frugal::autograd {

namespace {
kernels::GemmArgs gemm_args(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
                            const float* b, int64_t ldb, float* c, int64_t ldc, float beta = 0) {
  kernels::GemmArgs g;
  g.trans_a = ta;
  g.trans_b = tb;
  g.m = m;
  g.n = n;
  g.k = k;
  g.a = a;
  g.lda = lda;
  g.b = b;
  g.ldb = ldb;
  g.c = c;
  g.ldc = ldc;
  g.beta = beta;
  return g;
}
}  // namespace

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
  if (kernels::use_events(xv.data(), xv.numel())) {
    kernels::event_linear_forward(rows, in, out, xv.data(), wv.data(), b.defined() ? b.value().data() : nullptr,
                                  y.data());
  } else {
    if (b.defined()) {
      const float* bp = b.value().data();
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t j = 0; j < out; ++j) y[r * out + j] = bp[j];
    }
    kernels::gemm(gemm_args(false, true, rows, out, in, xv.data(), in, wv.data(), in, y.data(), out,
                            b.defined() ? 1.0f : 0.0f));
  }
  return record(y, {x, w, b}, [x, w, b, rows, in, out](const Tensor& dy) {
    if (x.requires_grad()) {
      Tensor dx = Tensor::empty(x.shape());
      kernels::gemm(gemm_args(false, false, rows, in, out, dy.data(), out, w.value().data(), in, dx.data(), in));
      x.add_grad(dx);
    }
    if (w.requires_grad()) {
      Tensor dw = Tensor::empty(w.shape());
      kernels::gemm(gemm_args(true, false, out, in, rows, dy.data(), out, x.value().data(), in, dw.data(), in));
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
  kernels::gemm(gemm_args(false, false, m, n, k, av.data(), k, bv.data(), n, y.data(), n));
  return record(y, {a, b}, [a, b, m, k, n](const Tensor& dy) {
    if (a.requires_grad()) {
      Tensor da = Tensor::empty({m, k});
      kernels::gemm(gemm_args(false, true, m, k, n, dy.data(), n, b.value().data(), n, da.data(), k));
      a.add_grad(da);
    }
    if (b.requires_grad()) {
      Tensor db = Tensor::empty({k, n});
      kernels::gemm(gemm_args(true, false, k, n, m, a.value().data(), k, dy.data(), n, db.data(), n));
      b.add_grad(db);
    }
  });
}

}  // namespace frugal::autograd
