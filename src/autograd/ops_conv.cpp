// conv2d and 2-D pooling. A 5-D input [T, N, C, H, W] (a spiking net's sequence) is folded into
// the batch, so one convolution covers every time step. Sparse (spiking) inputs take the
// event-driven kernel (kernels/event.h), in inference fused with a following 2x2 max-pool.
#include <cstring>

#include "frugal/autograd/ops.h"
#include "frugal/core/error.h"
#include "frugal/kernels/conv2d.h"
#include "frugal/kernels/conv2d_pool.h"
#include "frugal/kernels/event.h"
#include "frugal/kernels/event_backward.h"
#include "frugal/kernels/pool2d.h"

namespace frugal::autograd {

namespace {
// [T, N, C, H, W] -> [T*N, C, H, W]; 4-D passes through.
Shape as_4d(const Shape& s, const char* op) {
  require(s.size() == 4 || s.size() == 5, std::string(op) + ": input must be [N, C, H, W] or [T, N, C, H, W], got " +
                                              shape_str(s));
  if (s.size() == 4) return s;
  return {s[0] * s[1], s[2], s[3], s[4]};
}
Shape restore_time(const Shape& in, int64_t c, int64_t h, int64_t w) {
  if (in.size() == 5) return {in[0], in[1], c, h, w};
  return {in[0], c, h, w};
}

kernels::Conv2dShape conv_shape(const Var& x, const Var& w, const Var& b, const Conv2dParams& p) {
  Shape xs = as_4d(x.shape(), "conv2d");
  const Shape& ws = w.shape();
  require(ws.size() == 4, "conv2d: weight must be [O, C/groups, KH, KW], got " + shape_str(ws));
  kernels::Conv2dShape s;
  s.n = xs[0];
  s.c = xs[1];
  s.h = xs[2];
  s.w = xs[3];
  s.o = ws[0];
  s.kh = ws[2];
  s.kw = ws[3];
  s.stride = p.stride;
  s.pad = p.pad;
  s.groups = p.groups;
  require(p.stride > 0 && p.pad >= 0 && p.groups > 0 && s.c % p.groups == 0 && s.o % p.groups == 0 &&
              ws[1] == s.c / p.groups,
          "conv2d: weight " + shape_str(ws) + " does not fit input " + shape_str(x.shape()) + " with groups " +
              std::to_string(p.groups));
  require(s.oh() > 0 && s.ow() > 0, "conv2d: kernel larger than padded input " + shape_str(x.shape()));
  require(!b.defined() || b.value().numel() == s.o, "conv2d: bias must have " + std::to_string(s.o) + " elements");
  return s;
}
}  // namespace

namespace {
// conv2d of shape s (from conv_shape) with the forward's dense/events choice already made, so a
// caller that has scanned x for it (conv2d_maxpool2) does not scan it again.
Var conv2d_chosen(const Var& x, const Var& w, const Var& b, const kernels::Conv2dShape& s, bool events) {
  Tensor y = Tensor::empty(restore_time(x.shape(), s.o, s.oh(), s.ow()));
  const float* bias = b.defined() ? b.value().data() : nullptr;
  if (events)
    kernels::event_conv2d_forward(s, x.value().data(), w.value().data(), bias, y.data());
  else
    kernels::conv2d_forward(s, x.value().data(), w.value().data(), bias, y.data());
  return record(y, {x, w, b}, [x, w, b, s](const Tensor& dy) {
    // The first layer's input needs no gradient: skipping backward-data there saves a third of its cost.
    Tensor dx = x.requires_grad() ? Tensor::empty(x.shape()) : Tensor();
    Tensor dw = w.requires_grad() || b.requires_grad() ? Tensor::empty(w.shape()) : Tensor();
    Tensor db = dw.defined() ? Tensor::empty({s.o}) : Tensor();
    float* pdx = dx.defined() ? dx.data() : nullptr;
    float* pdw = dw.defined() ? dw.data() : nullptr;
    float* pdb = db.defined() ? db.data() : nullptr;
    // In a spiking net (a time-folded [T, N, C, H, W] input), spikes in x and the max-pool's zeros
    // in dy make either product event-driven. Other convs keep oneDNN, whose results the fused
    // conv + pool op reproduces bit for bit.
    const bool spiking = x.shape().size() == 5;
    const bool dx_events = spiking && pdx &&
                           kernels::use_backward_events(dy.data(), dy.numel(),
                                                        kernels::event_backward_data_threshold(s));
    const bool dw_events = spiking && pdw &&
                           kernels::use_backward_events(x.value().data(), x.value().numel(),
                                                        kernels::event_backward_weights_threshold(s));
    if (dx_events || dw_events)
      kernels::event_conv2d_backward(s, x.value().data(), dy.data(), w.value().data(), dx_events ? pdx : nullptr,
                                     dw_events ? pdw : nullptr, dw_events ? pdb : nullptr);
    if ((pdx && !dx_events) || (pdw && !dw_events))
      kernels::conv2d_backward(s, x.value().data(), dy.data(), w.value().data(), dx_events ? nullptr : pdx,
                               dw_events ? nullptr : pdw, dw_events ? nullptr : pdb);
    if (x.requires_grad()) x.add_grad(dx);
    if (w.requires_grad()) w.add_grad(dw);
    if (b.requires_grad()) b.add_grad(db);
  });
}
}  // namespace

Var conv2d(const Var& x, const Var& w, const Var& b, const Conv2dParams& p) {
  return conv2d_chosen(x, w, b, conv_shape(x, w, b, p),
                       kernels::use_events(kernels::EventOp::conv2d, x.value().data(), x.value().numel()));
}

Var conv2d_maxpool2(const Var& x, const Var& w, const Var& b, const Conv2dParams& p) {
  const kernels::Conv2dShape s = conv_shape(x, w, b, p);
  const bool events = kernels::use_events(kernels::EventOp::conv2d, x.value().data(), x.value().numel());
  // Inference on spikes: the event kernel pools in registers, so neither the full-size output
  // nor the pooling argmax is written (only a backward would read them).
  const bool taped = grad_enabled() && (x.requires_grad() || w.requires_grad() || (b.defined() && b.requires_grad()));
  if (events && !taped && s.oh() >= 2 && s.ow() >= 2) {
    Tensor y = Tensor::empty(restore_time(x.shape(), s.o, s.oh() / 2, s.ow() / 2));
    kernels::event_conv2d_max_pool2_forward(s, x.value().data(), w.value().data(),
                                            b.defined() ? b.value().data() : nullptr, y.data());
    return Var(y);
  }
  if (x.shape().size() != 4 || !kernels::conv2d_maxpool2_fusable(s) || events)
    return max_pool2d(conv2d_chosen(x, w, b, s, events), 2, 2, 0);
  Tensor y = Tensor::empty({s.n, s.o, s.oh() / 2, s.ow() / 2});
  // The window offsets live in a tracked float-sized buffer so their bytes are counted too.
  Tensor window = Tensor::empty({kernels::conv2d_maxpool2_window_elements(s)});
  Tensor x_in_layout;
  kernels::conv2d_maxpool2_forward(s, x.value().data(), w.value().data(), b.defined() ? b.value().data() : nullptr,
                                   y.data(), reinterpret_cast<int32_t*>(window.data()), x_in_layout);
  return record(y, {x, w, b}, [x, w, b, s, window, x_in_layout](const Tensor& dy) {
    Tensor dx = x.requires_grad() ? Tensor::empty(x.shape()) : Tensor();
    Tensor dw = w.requires_grad() || b.requires_grad() ? Tensor::empty(w.shape()) : Tensor();
    Tensor db = dw.defined() ? Tensor::empty({s.o}) : Tensor();
    kernels::conv2d_maxpool2_backward(s, x.value().data(), x_in_layout, dy.data(),
                                      reinterpret_cast<const int32_t*>(window.data()), w.value().data(),
                                      dx.defined() ? dx.data() : nullptr, dw.defined() ? dw.data() : nullptr,
                                      db.defined() ? db.data() : nullptr);
    if (x.requires_grad()) x.add_grad(dx);
    if (w.requires_grad()) w.add_grad(dw);
    if (b.requires_grad()) b.add_grad(db);
  });
}

namespace {
kernels::Pool2dShape pool_shape(const Var& x, int kernel, int stride, int pad, const char* op) {
  Shape xs = as_4d(x.shape(), op);
  require(kernel > 0 && stride > 0 && pad >= 0 && 2 * pad <= kernel,
          std::string(op) + ": kernel and stride must be positive and pad at most half the kernel");
  kernels::Pool2dShape s;
  s.planes = xs[0] * xs[1];
  s.h = xs[2];
  s.w = xs[3];
  s.kernel = kernel;
  s.stride = stride;
  s.pad = pad;
  require(s.oh() > 0 && s.ow() > 0, std::string(op) + ": window larger than input " + shape_str(x.shape()));
  return s;
}
}  // namespace

Var max_pool2d(const Var& x, int kernel, int stride, int pad) {
  kernels::Pool2dShape s = pool_shape(x, kernel, stride, pad, "max_pool2d");
  Shape ys = restore_time(x.shape(), as_4d(x.shape(), "max_pool2d")[1], s.oh(), s.ow());
  Tensor y = Tensor::empty(ys);
  // The argmax indices live in a tracked float-sized buffer so their bytes are counted too; only
  // backward reads them, so inference (no tape) skips them.
  Tensor argmax = grad_enabled() && x.requires_grad() ? Tensor::empty(ys) : Tensor();
  auto* idx = argmax.defined() ? reinterpret_cast<int32_t*>(argmax.data()) : nullptr;
  kernels::max_pool2d_forward(s, x.value().data(), y.data(), idx);
  return record(y, {x}, [x, s, argmax](const Tensor& dy) {
    Tensor dx = Tensor::empty(x.shape());
    kernels::max_pool2d_backward(s, dy.data(), reinterpret_cast<const int32_t*>(argmax.data()), dx.data());
    x.add_grad(dx);
  });
}

Var avg_pool2d(const Var& x, int kernel, int stride, int pad) {
  kernels::Pool2dShape s = pool_shape(x, kernel, stride, pad, "avg_pool2d");
  Tensor y = Tensor::empty(restore_time(x.shape(), as_4d(x.shape(), "avg_pool2d")[1], s.oh(), s.ow()));
  kernels::avg_pool2d_forward(s, x.value().data(), y.data());
  return record(y, {x}, [x, s](const Tensor& dy) {
    Tensor dx = Tensor::empty(x.shape());
    kernels::avg_pool2d_backward(s, dy.data(), dx.data());
    x.add_grad(dx);
  });
}

}  // namespace frugal::autograd
