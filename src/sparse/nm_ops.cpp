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

const char* nm_kernel_name(NMKernel k) { return k == NMKernel::nm_gemm ? "nm_gemm" : "masked_dense"; }

namespace {

// w ⊙ mask, as a dense tensor of w's shape.
Tensor masked(const Tensor& w, const Tensor& mask) {
  Tensor out = Tensor::empty(w.shape());
  for (int64_t i = 0; i < w.numel(); ++i) out[i] = w[i] * mask[i];
  return out;
}

// dst [rows, n] = a [rows, k] · bᵀ with b [n, k] (trans_b) or b [k, n].
void dense_product(const float* a, int64_t rows, int64_t k, const float* b, int64_t n, bool trans_b, float* dst) {
  kernels::gemm_packed(false, trans_b, rows, n, k, a, b, dst);
}

// SR-STE for a linear weight: dw += decay · (W − W ⊙ mask_fw); the kept weights are fw's values.
void add_linear_decay(const Tensor& w, const NMRows& fw, float decay, Tensor& dw) {
  const float* wp = w.data();
  float* g = dw.data();
  int64_t cols = fw.cols;
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < fw.rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) g[r * cols + c] += decay * wp[r * cols + c];
    // Unused tail slots (value 0, first column of their group) subtract nothing.
    for (int64_t s = 0; s < fw.slots; ++s) g[r * cols + fw.columns[r * fw.slots + s]] -= decay * fw.values[r * fw.slots + s];
  }
}

}  // namespace

NMLinearWeights prepare_linear(const Tensor& w, const NMConfig& nm) {
  NMLinearWeights prepared;
  prepare_linear(w, nm, prepared);
  return prepared;
}

void prepare_linear(const Tensor& w, const NMConfig& nm, NMLinearWeights& prepared, bool backward) {
  check_nm(nm.pattern, "nm_linear");
  require(w.rank() == 2, "nm_linear: weight must be [out, in], got " + shape_str(w.shape()));
  // A copy still captured by a recorded backward must stay as it is: that step reads it.
  if (!prepared.fw || prepared.fw.use_count() > 1) prepared.fw = std::make_shared<NMRows>();
  bool bdwp = nm.mode == NMMode::bdwp && backward;
  if (!bdwp) {
    prepared.bw.reset();
  } else if (!prepared.bw || prepared.bw.use_count() > 1) {
    prepared.bw = std::make_shared<NMRows>();
  }
  select_linear(w, nm.pattern, *prepared.fw, bdwp ? prepared.bw.get() : nullptr);
}

Var nm_linear(const Var& x, const Var& w, const Var& b, const NMConfig& nm) {
  if (nm.mode == NMMode::dense) return autograd::linear(x, w, b);
  return nm_linear(x, w, b, nm, prepare_linear(w.value(), nm));
}

Var nm_linear(const Var& x, const Var& w, const Var& b, const NMConfig& nm, const NMLinearWeights& prepared,
              NMKernel kernel) {
  if (nm.mode == NMMode::dense) return autograd::linear(x, w, b);
  const Tensor& xv = x.value();
  const Tensor& wv = w.value();
  require(wv.rank() == 2, "nm_linear: weight must be [out, in], got " + shape_str(wv.shape()));
  int64_t out = wv.dim(0), in = wv.dim(1);
  require(prepared.fw && prepared.fw->rows == out && prepared.fw->cols == in &&
              (nm.mode != NMMode::bdwp || !x.requires_grad() || (prepared.bw && prepared.bw->rows == in)),
          "nm_linear: prepared copies do not match weight " + shape_str(wv.shape()) + " and mode " +
              nm_mode_name(nm.mode));
  require(xv.rank() >= 1 && xv.dim(-1) == in,
          "nm_linear: input " + shape_str(xv.shape()) + " does not end in " + std::to_string(in) + " features");
  require(!b.defined() || b.value().numel() == out, "nm_linear: bias must have " + std::to_string(out) + " elements");
  int64_t rows = xv.numel() / in;
  Shape ys = xv.shape();
  ys.back() = out;
  std::shared_ptr<const NMRows> fw = prepared.fw;
  std::shared_ptr<const NMRows> bw = prepared.bw;
  Tensor y = Tensor::empty(ys);
  if (kernel == NMKernel::nm_gemm) {
    kernels::nm_gemm(fw->view(), xv.data(), rows, y.data());
  } else {
    Tensor wm = Tensor::empty({out, in});
    expand(*fw, wm.data());
    dense_product(xv.data(), rows, in, wm.data(), out, true, y.data());
  }
  if (b.defined()) {
    const float* bp = b.value().data();
    float* yp = y.data();
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < out; ++j) yp[r * out + j] += bp[j];
  }
  return autograd::record(y, {x, w, b}, [x, w, b, rows, in, out, fw, bw, nm, kernel](const Tensor& dy) {
    if (x.requires_grad()) {
      Tensor dx = Tensor::empty(x.shape());
      if (bw && kernel == NMKernel::nm_gemm) {
        kernels::nm_gemm(bw->view(), dy.data(), rows, dx.data());
      } else if (bw) {
        Tensor wt = Tensor::empty({in, out});  // (W ⊙ mask_bw)ᵀ
        expand(*bw, wt.data());
        dense_product(dy.data(), rows, out, wt.data(), in, true, dx.data());
      } else {
        // dY · (W ⊙ mask_fw): that sparsity runs along inputs, not along the reduced axis, so
        // the product is dense.
        Tensor wm = Tensor::empty({out, in});
        expand(*fw, wm.data());
        dense_product(dy.data(), rows, out, wm.data(), in, false, dx.data());
      }
      x.add_grad(dx);
    }
    if (w.requires_grad()) {
      Tensor dw = Tensor::empty({out, in});
      kernels::gemm_packed(true, false, out, in, rows, dy.data(), x.value().data(), dw.data());
      if (nm.sr_ste_decay > 0) add_linear_decay(w.value(), *fw, nm.sr_ste_decay, dw);
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

bool conv2d_gemm_fits(const Tensor& w, const NMPattern& p) { return w.rank() == 4 && w.dim(1) % p.m == 0; }

NMConvWeights prepare_conv2d(const Tensor& w, const NMConfig& nm, NMKernel kernel) {
  check_nm(nm.pattern, "nm_conv2d");
  require(w.rank() == 4, "nm_conv2d: weight must be [O, C, KH, KW], got " + shape_str(w.shape()));
  NMConvWeights prepared;
  prepared.kernel = kernel;
  if (kernel == NMKernel::masked_dense) {
    prepared.w_fw = masked(w, forward_mask(w, nm.pattern));
    prepared.w_bw = nm.mode == NMMode::bdwp ? masked(w, backward_mask(w, nm.pattern)) : prepared.w_fw;
    return prepared;
  }
  require(conv2d_gemm_fits(w, nm.pattern), "nm_conv2d: the N:M GEMM path needs input channels (" +
                                               std::to_string(w.dim(1)) + ") divisible by M = " +
                                               std::to_string(nm.pattern.m));
  int64_t o = w.dim(0), c = w.dim(1), kk = w.dim(2) * w.dim(3);
  // Forward: [(k, c), o] so each column o holds its groups of M channels per kernel position.
  Tensor wt = Tensor::empty({kk * c, o});
  const float* wp = w.data();
  float* t = wt.data();
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < o; ++i)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t k = 0; k < kk; ++k) t[(k * c + ch) * o + i] = wp[(i * c + ch) * kk + k];
  prepared.fw = std::make_shared<NMRows>(select_down(wt.data(), kk * c, o, nm.pattern));
  // Backward: W is already [o, (c, k)]: groups of M output channels down each column (c, k).
  if (nm.mode == NMMode::bdwp) prepared.bw = std::make_shared<NMRows>(select_down(wp, o, c * kk, nm.pattern));
  return prepared;
}

namespace {

// patches [n·oh·ow, kh·kw·c]: column (k, c) of row (n, y, x) is the input under kernel position k.
void im2col_kc(const kernels::Conv2dShape& s, const float* x, float* patches) {
  int64_t oh = s.oh(), ow = s.ow(), kk = s.kh * s.kw, cols = kk * s.c;
#pragma omp parallel for schedule(static)
  for (int64_t ny = 0; ny < s.n * oh; ++ny) {
    int64_t n = ny / oh, y = ny % oh;
    for (int64_t xo = 0; xo < ow; ++xo) {
      float* row = patches + (ny * ow + xo) * cols;
      for (int64_t ki = 0; ki < s.kh; ++ki)
        for (int64_t kj = 0; kj < s.kw; ++kj) {
          int64_t iy = y * s.stride - s.pad + ki, ix = xo * s.stride - s.pad + kj;
          float* dst = row + (ki * s.kw + kj) * s.c;
          bool inside = iy >= 0 && iy < s.h && ix >= 0 && ix < s.w;
          for (int64_t ch = 0; ch < s.c; ++ch)
            dst[ch] = inside ? x[((n * s.c + ch) * s.h + iy) * s.w + ix] : 0.0f;
        }
    }
  }
}

// dx [n, c, h, w] = Σ over the patch rows of dcols [n·oh·ow, (c, kh, kw)] (a fresh dx, not added).
void col2im_ck(const kernels::Conv2dShape& s, const float* dcols, float* dx) {
  int64_t oh = s.oh(), ow = s.ow(), kk = s.kh * s.kw, cols = s.c * kk;
#pragma omp parallel for schedule(static)
  for (int64_t nc = 0; nc < s.n * s.c; ++nc) {
    int64_t n = nc / s.c, ch = nc % s.c;
    float* plane = dx + nc * s.h * s.w;
    for (int64_t i = 0; i < s.h * s.w; ++i) plane[i] = 0.0f;
    for (int64_t y = 0; y < oh; ++y)
      for (int64_t xo = 0; xo < ow; ++xo) {
        const float* src = dcols + ((n * oh + y) * ow + xo) * cols + ch * kk;
        for (int64_t ki = 0; ki < s.kh; ++ki) {
          int64_t iy = y * s.stride - s.pad + ki;
          if (iy < 0 || iy >= s.h) continue;
          for (int64_t kj = 0; kj < s.kw; ++kj) {
            int64_t ix = xo * s.stride - s.pad + kj;
            if (ix >= 0 && ix < s.w) plane[iy * s.w + ix] += src[ki * s.kw + kj];
          }
        }
      }
  }
}

// Between [n, p, o] (GEMM rows) and [n, o, p] (NCHW planes), p = oh·ow.
void rows_to_planes(const float* rows, int64_t n, int64_t p, int64_t o, const float* bias, float* planes) {
#pragma omp parallel for schedule(static)
  for (int64_t no = 0; no < n * o; ++no) {
    int64_t i = no / o, ch = no % o;
    float add = bias ? bias[ch] : 0.0f;
    for (int64_t q = 0; q < p; ++q) planes[no * p + q] = rows[(i * p + q) * o + ch] + add;
  }
}

void planes_to_rows(const float* planes, int64_t n, int64_t p, int64_t o, float* rows) {
#pragma omp parallel for schedule(static)
  for (int64_t iq = 0; iq < n * p; ++iq) {
    int64_t i = iq / p, q = iq % p;
    for (int64_t ch = 0; ch < o; ++ch) rows[iq * o + ch] = planes[(i * o + ch) * p + q];
  }
}

}  // namespace

Var nm_conv2d(const Var& x, const Var& w, const Var& b, const autograd::Conv2dParams& p, const NMConfig& nm) {
  if (nm.mode == NMMode::dense) return autograd::conv2d(x, w, b, p);
  return nm_conv2d(x, w, b, p, nm, prepare_conv2d(w.value(), nm, NMKernel::masked_dense));
}

Var nm_conv2d(const Var& x, const Var& w, const Var& b, const autograd::Conv2dParams& p, const NMConfig& nm,
              const NMConvWeights& prepared) {
  if (nm.mode == NMMode::dense) return autograd::conv2d(x, w, b, p);
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
  bool gemm = prepared.kernel == NMKernel::nm_gemm;
  require(gemm ? prepared.fw && prepared.fw->rows == s.o && (nm.mode != NMMode::bdwp || prepared.bw)
               : prepared.w_fw.shape() == wv.shape() && prepared.w_bw.shape() == wv.shape(),
          "nm_conv2d: prepared copies do not match weight " + shape_str(wv.shape()) + " and mode " +
              nm_mode_name(nm.mode));
  Shape ys = xs0;
  ys[lead + 1] = s.o;
  ys[lead + 2] = s.oh();
  ys[lead + 3] = s.ow();
  Tensor y = Tensor::empty(ys);
  const float* bias = b.defined() ? b.value().data() : nullptr;
  int64_t plane = s.oh() * s.ow(), kk = s.kh * s.kw;
  if (gemm) {
    Tensor patches = Tensor::empty({s.n * plane, kk * s.c});
    im2col_kc(s, x.value().data(), patches.data());
    Tensor rows = Tensor::empty({s.n * plane, s.o});
    kernels::nm_gemm(prepared.fw->view(), patches.data(), s.n * plane, rows.data());
    rows_to_planes(rows.data(), s.n, plane, s.o, bias, y.data());
  } else {
    kernels::conv2d_forward(s, x.value().data(), prepared.w_fw.data(), bias, y.data());
  }
  std::shared_ptr<const NMRows> fw = prepared.fw, bw = prepared.bw;
  Tensor w_bw = prepared.w_bw;
  return autograd::record(y, {x, w, b}, [x, w, b, s, gemm, fw, bw, w_bw, nm, plane, kk](const Tensor& dy) {
    if (x.requires_grad()) {
      Tensor dx = Tensor::empty(x.shape());
      if (gemm) {
        Tensor dy_rows = Tensor::empty({s.n * plane, s.o});
        planes_to_rows(dy.data(), s.n, plane, s.o, dy_rows.data());
        Tensor dcols = Tensor::empty({s.n * plane, s.c * kk});
        if (bw) {
          kernels::nm_gemm(bw->view(), dy_rows.data(), s.n * plane, dcols.data());
        } else {
          // Forward mode: dY · (W ⊙ mask_fw), a dense product over (k, c) columns.
          Tensor wm = Tensor::empty({s.o, kk * s.c});
          expand(*fw, wm.data());
          Tensor dcols_kc = Tensor::empty({s.n * plane, kk * s.c});
          dense_product(dy_rows.data(), s.n * plane, s.o, wm.data(), kk * s.c, false, dcols_kc.data());
          float* d = dcols.data();
          const float* e = dcols_kc.data();
#pragma omp parallel for schedule(static)
          for (int64_t r = 0; r < s.n * plane; ++r)
            for (int64_t ch = 0; ch < s.c; ++ch)
              for (int64_t k = 0; k < kk; ++k) d[(r * s.c + ch) * kk + k] = e[(r * kk + k) * s.c + ch];
        }
        col2im_ck(s, dcols.data(), dx.data());
      } else {
        kernels::conv2d_backward_data(s, dy.data(), w_bw.data(), dx.data());
      }
      x.add_grad(dx);
    }
    if (w.requires_grad() || b.requires_grad()) {
      Tensor dw = Tensor::empty(w.shape());
      Tensor db = Tensor::empty({s.o});
      kernels::conv2d_backward_weights(s, x.value().data(), dy.data(), dw.data(), db.data());
      if (w.requires_grad()) {
        if (nm.sr_ste_decay > 0)
          add_sr_ste_decay(w.value(), forward_mask(w.value(), nm.pattern), nm.sr_ste_decay, dw);
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
