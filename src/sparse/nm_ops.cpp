#include "frugal/sparse/nm_ops.h"

#include <memory>

#include "frugal/core/error.h"
#include "frugal/kernels/conv2d.h"
#include "frugal/kernels/gemm.h"
#include "frugal/kernels/nm_gemm.h"

namespace frugal::sparse {

using autograd::Var;

NMMode parse_nm_mode(const std::string& text, const std::string& where) {
  if (text == "dense") return NMMode::dense;
  if (text == "forward") return NMMode::forward;
  if (text == "bdwp") return NMMode::bdwp;
  throw Error(where + ": sparsity_mode \"" + text + "\" is unknown; expected \"bdwp\", \"forward\" or \"dense\"");
}

const char* nm_mode_name(NMMode mode) {
  switch (mode) {
    case NMMode::dense: return "dense";
    case NMMode::forward: return "forward";
    case NMMode::bdwp: return "bdwp";
  }
  return "dense";
}

namespace {

// A packed copy with the absolute columns the kernels read, kept alive for the backward closure.
struct KernelCopy {
  NMPacked packed;
  std::vector<int32_t> columns;
  kernels::NMSparseRows view() const {
    return {packed.rows, packed.cols, packed.pattern.n, packed.pattern.m, packed.slots_per_row(),
            packed.values.data(), columns.data()};
  }
};

std::shared_ptr<KernelCopy> kernel_copy(const float* w, int64_t rows, int64_t cols, int64_t row_stride,
                                        int64_t col_stride, const NMPattern& p) {
  auto copy = std::make_shared<KernelCopy>();
  copy->packed = pack_nm(w, rows, cols, row_stride, col_stride, p);
  copy->columns = slot_columns(copy->packed);
  return copy;
}

// w ⊙ mask, as a dense tensor of w's shape.
Tensor masked(const Tensor& w, const Tensor& mask) {
  Tensor out = Tensor::empty(w.shape());
  for (int64_t i = 0; i < w.numel(); ++i) out[i] = w[i] * mask[i];
  return out;
}

void add_decay(const Var& w, const NMConfig& nm, Tensor& dw) {
  if (nm.sr_ste_decay > 0) add_sr_ste_decay(w.value(), forward_mask(w.value(), nm.pattern), nm.sr_ste_decay, dw);
}

}  // namespace

Var nm_linear(const Var& x, const Var& w, const Var& b, const NMConfig& nm) {
  if (nm.mode == NMMode::dense) return autograd::linear(x, w, b);
  check_nm(nm.pattern, "nm_linear");
  const Tensor& xv = x.value();
  const Tensor& wv = w.value();
  require(wv.rank() == 2, "nm_linear: weight must be [out, in], got " + shape_str(wv.shape()));
  int64_t out = wv.dim(0), in = wv.dim(1);
  require(xv.rank() >= 1 && xv.dim(-1) == in,
          "nm_linear: input " + shape_str(xv.shape()) + " does not end in " + std::to_string(in) + " features");
  require(!b.defined() || b.value().numel() == out, "nm_linear: bias must have " + std::to_string(out) + " elements");
  int64_t rows = xv.numel() / in;
  Shape ys = xv.shape();
  ys.back() = out;

  auto fw = kernel_copy(wv.data(), out, in, in, 1, nm.pattern);
  // The backward copy: rows are inputs, groups run along outputs (for dX = dY · W_bw).
  auto bw = nm.mode == NMMode::bdwp ? kernel_copy(wv.data(), in, out, 1, in, nm.pattern) : nullptr;
  Tensor y = Tensor::empty(ys);
  kernels::nm_gemm(fw->view(), xv.data(), rows, y.data());
  if (b.defined()) {
    const float* bp = b.value().data();
    float* yp = y.data();
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < out; ++j) yp[r * out + j] += bp[j];
  }
  return autograd::record(y, {x, w, b}, [x, w, b, rows, in, out, fw, bw, nm](const Tensor& dy) {
    if (x.requires_grad()) {
      Tensor dx = Tensor::empty(x.shape());
      if (bw) {
        kernels::nm_gemm(bw->view(), dy.data(), rows, dx.data());
      } else {
        // dY · (W ⊙ mask_fw): that sparsity runs along inputs, not along the reduced axis, so
        // the product is dense.
        Tensor wm = Tensor::empty({out, in});
        unpack_nm(fw->packed, wm.data(), in, 1);
        kernels::GemmArgs g;
        g.m = rows, g.n = in, g.k = out;
        g.a = dy.data(), g.lda = out, g.b = wm.data(), g.ldb = in, g.c = dx.data(), g.ldc = in;
        kernels::gemm(g);
      }
      x.add_grad(dx);
    }
    if (w.requires_grad()) {
      Tensor dw = Tensor::empty({out, in});
      kernels::GemmArgs g;
      g.trans_a = true;
      g.m = out, g.n = in, g.k = rows;
      g.a = dy.data(), g.lda = out, g.b = x.value().data(), g.ldb = in, g.c = dw.data(), g.ldc = in;
      kernels::gemm(g);
      add_decay(w, nm, dw);
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

Var nm_conv2d(const Var& x, const Var& w, const Var& b, const autograd::Conv2dParams& p, const NMConfig& nm) {
  if (nm.mode == NMMode::dense) return autograd::conv2d(x, w, b, p);
  check_nm(nm.pattern, "nm_conv2d");
  require(p.groups == 1, "nm_conv2d: N:M sparsity needs groups = 1 (got " + std::to_string(p.groups) + ")");
  const Shape& xs0 = x.shape();
  require(xs0.size() == 4 || xs0.size() == 5, "nm_conv2d: input must be [N, C, H, W] or [T, N, C, H, W], got " +
                                                  shape_str(xs0));
  const Tensor& wv = w.value();
  require(wv.rank() == 4, "nm_conv2d: weight must be [O, C, KH, KW], got " + shape_str(wv.shape()));
  kernels::Conv2dShape s;
  size_t lead = xs0.size() - 4;
  s.n = xs0.size() == 5 ? xs0[0] * xs0[1] : xs0[0];
  s.c = xs0[lead + 1];
  s.h = xs0[lead + 2];
  s.w = xs0[lead + 3];
  s.o = wv.dim(0);
  s.kh = wv.dim(2);
  s.kw = wv.dim(3);
  s.stride = p.stride;
  s.pad = p.pad;
  require(p.stride > 0 && p.pad >= 0 && wv.dim(1) == s.c,
          "nm_conv2d: weight " + shape_str(wv.shape()) + " does not fit input " + shape_str(xs0));
  require(s.oh() > 0 && s.ow() > 0, "nm_conv2d: kernel larger than padded input " + shape_str(xs0));
  require(!b.defined() || b.value().numel() == s.o, "nm_conv2d: bias must have " + std::to_string(s.o) + " elements");
  Tensor w_fw = masked(wv, forward_mask(wv, nm.pattern));
  Tensor w_bw = nm.mode == NMMode::bdwp ? masked(wv, backward_mask(wv, nm.pattern)) : w_fw;
  Shape ys = xs0;
  ys[lead + 1] = s.o;
  ys[lead + 2] = s.oh();
  ys[lead + 3] = s.ow();
  Tensor y = Tensor::empty(ys);
  kernels::conv2d_forward(s, x.value().data(), w_fw.data(), b.defined() ? b.value().data() : nullptr, y.data());
  return autograd::record(y, {x, w, b}, [x, w, b, s, w_bw, nm](const Tensor& dy) {
    if (x.requires_grad()) {
      Tensor dx = Tensor::empty(x.shape());
      kernels::conv2d_backward_data(s, dy.data(), w_bw.data(), dx.data());
      x.add_grad(dx);
    }
    if (w.requires_grad() || b.requires_grad()) {
      Tensor dw = Tensor::empty(w.shape());
      Tensor db = Tensor::empty({s.o});
      kernels::conv2d_backward_weights(s, x.value().data(), dy.data(), dw.data(), db.data());
      if (w.requires_grad()) {
        add_decay(w, nm, dw);
        w.add_grad(dw);
      }
      if (b.requires_grad()) b.add_grad(db);
    }
  });
}

NMPacked pack_forward(const Tensor& weight, const NMPattern& p) {
  require(weight.rank() == 2 || weight.rank() == 4,
          "sparse::pack_forward: weight must be [out, in] or [O, C, KH, KW], got " + shape_str(weight.shape()));
  if (weight.rank() == 2) return pack_nm(weight.data(), weight.dim(0), weight.dim(1), weight.dim(1), 1, p);
  // Conv: rows (o, kh, kw), groups along C; an [O, KH, KW, C] copy makes those rows contiguous.
  int64_t o = weight.dim(0), c = weight.dim(1), kk = weight.dim(2) * weight.dim(3);
  Tensor permuted = Tensor::empty({o, kk, c});
  for (int64_t i = 0; i < o; ++i)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t k = 0; k < kk; ++k) permuted[(i * kk + k) * c + ch] = weight[(i * c + ch) * kk + k];
  return pack_nm(permuted.data(), o * kk, c, c, 1, p);
}

}  // namespace frugal::sparse
