// oneDNN convolution with primitives cached per shape. Primitives choose their own (blocked)
// memory layouts; frugal's tensors stay NCHW/OIHW, so inputs and outputs are reordered at the
// boundary when the chosen layout differs. 3x3 stride-1 convolutions over enough pixels use
// Winograd F(4x4, 3x3) (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2016)
// when oneDNN has it for the shape. All buffers, including oneDNN's scratchpad, come from
// the tracking allocator (as Tensors), so peak bytes include them.
#include <map>
#include <tuple>

#include "frugal/core/tensor.h"
#include "frugal/kernels/backend.h"
#include "frugal/kernels/conv2d.h"
#include "conv2d_primitives.h"

namespace frugal::kernels {

namespace onednn {

using dnnl::memory;

namespace {
using tag = memory::format_tag;
using dt = memory::data_type;

ConvDescs plain_descs(const Conv2dShape& s) {
  ConvDescs d;
  d.src = memory::desc({s.n, s.c, s.h, s.w}, dt::f32, tag::nchw);
  d.dst = memory::desc({s.n, s.o, s.oh(), s.ow()}, dt::f32, tag::nchw);
  d.bias = memory::desc({s.o}, dt::f32, tag::x);
  d.weights = s.groups == 1 ? memory::desc({s.o, s.c, s.kh, s.kw}, dt::f32, tag::oihw)
                            : memory::desc({s.groups, s.o / s.groups, s.c / s.groups, s.kh, s.kw}, dt::f32, tag::goihw);
  d.strides = {s.stride, s.stride};
  d.padding = {s.pad, s.pad};
  return d;
}

// Winograd trades multiplies for transforms: at batch 128 it ran the reference CNN's conv2
// (32->64, 14x14) forward + both backwards in 0.74x the CPU time of the direct kernel (1 thread,
// AVX-512), and already won at 8 x 14 x 14 output pixels; at a single 14 x 14 image it lost
// (1.3x). oneDNN pads channels to its block of 16, so conv1 (1 input channel) ran 7x slower
// than direct: channel counts must be whole blocks. Outputs differ from the direct ones by ~1e-6
// of their largest magnitude. The rule is fixed (not timed at run time) so every run of a model
// computes the same sums.
constexpr int64_t kWinogradMinPixels = 8 * 14 * 14;
constexpr int64_t kChannelBlock = 16;

bool winograd_candidate(const Conv2dShape& s) {
  return s.kh == 3 && s.kw == 3 && s.stride == 1 && s.groups == 1 && s.c % kChannelBlock == 0 &&
         s.o % kChannelBlock == 0 && s.n * s.oh() * s.ow() >= kWinogradMinPixels;
}

using Key = std::tuple<int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t>;

// The three primitive descriptors of one algorithm (the backward ones describe what a later
// backward pass will run; their primitives are only generated when it does).
void describe(ConvPrimitives& p, dnnl::algorithm a) {
  const ConvDescs& d = p.plain;
  dnnl::convolution_forward::desc fd(dnnl::prop_kind::forward_training, a, any_like(d.src), any_like(d.weights),
                                     d.bias, any_like(d.dst), d.strides, d.padding, d.padding);
  ForwardPd fwd(fd, user_scratchpad(), engine());
  dnnl::convolution_backward_data::desc bd(a, any_like(d.src), any_like(d.weights), any_like(d.dst), d.strides,
                                           d.padding, d.padding);
  auto bwd_data = std::make_unique<BackwardDataPd>(bd, user_scratchpad(), engine(), fwd);
  dnnl::convolution_backward_weights::desc wd(a, any_like(d.src), any_like(d.weights), d.bias, any_like(d.dst),
                                              d.strides, d.padding, d.padding);
  auto bwd_weights = std::make_unique<BackwardWeightsPd>(wd, user_scratchpad(), engine(), fwd);
  p.fwd_pd = fwd;
  p.bwd_data_pd = std::move(bwd_data);
  p.bwd_weights_pd = std::move(bwd_weights);
}

}  // namespace

ConvPrimitives& conv_primitives(const Conv2dShape& s) {
  static std::map<Key, std::unique_ptr<ConvPrimitives>> cache;
  Key key{s.n, s.c, s.h, s.w, s.o, s.kh, s.kw, s.stride, s.pad, s.groups};
  auto it = cache.find(key);
  if (it != cache.end()) return *it->second;
  auto p = std::make_unique<ConvPrimitives>();
  p->plain = plain_descs(s);
  bool described = false;
  if (winograd_candidate(s)) {
    // oneDNN has Winograd only for some CPUs and channel counts, and says so by throwing.
    try {
      describe(*p, dnnl::algorithm::convolution_winograd);
      described = true;
    } catch (const dnnl::error&) {
    }
  }
  if (!described) describe(*p, dnnl::algorithm::convolution_direct);
  p->fwd = dnnl::convolution_forward(p->fwd_pd);
  return *cache.emplace(key, std::move(p)).first->second;
}

void run_forward(ConvPrimitives& p, const float* x, const float* w, const float* b, memory& my, memory& mx,
                 Tensor& hx) {
  Tensor hw, hs, zero_bias;
  if (!b) {
    zero_bias = Tensor::zeros({p.plain.bias.dims()[0]});
    b = zero_bias.data();
  }
  mx = input_as(p.fwd_pd.src_desc(), p.plain.src, x, hx);
  memory mw = input_as(p.fwd_pd.weights_desc(), p.plain.weights, w, hw);
  memory mb(p.plain.bias, engine(), const_cast<float*>(b));
  memory ms = scratchpad(p.fwd_pd.scratchpad_desc(), hs);
  p.fwd.execute(stream(), {{DNNL_ARG_SRC, mx}, {DNNL_ARG_WEIGHTS, mw}, {DNNL_ARG_BIAS, mb}, {DNNL_ARG_DST, my},
                           {DNNL_ARG_SCRATCHPAD, ms}});
  stream().wait();
}

void conv2d_forward(const Conv2dShape& s, const float* x, const float* w, const float* b, float* y) {
  ConvPrimitives& p = conv_primitives(s);
  Tensor hx, hy;
  memory mx;
  memory my = output_as(p.fwd_pd.dst_desc(), p.plain.dst, y, hy);
  run_forward(p, x, w, b, my, mx, hx);
  finish_output(my, p.plain.dst, y);
  stream().wait();
}

namespace {
// Backward primitives are generated on first use: inference never pays for them.
void ensure_backward_data(ConvPrimitives& p) {
  if (!p.bwd_data) p.bwd_data = dnnl::convolution_backward_data(*p.bwd_data_pd);
}

void ensure_backward_weights(ConvPrimitives& p) {
  if (!p.bwd_weights) p.bwd_weights = dnnl::convolution_backward_weights(*p.bwd_weights_pd);
}
}  // namespace

void run_backward_data(ConvPrimitives& p, const memory& mdy, const float* w, float* dx) {
  ensure_backward_data(p);
  auto& pd = *p.bwd_data_pd;
  const ConvDescs& d = p.plain;
  Tensor hw, hdx, hs;
  memory mw = input_as(pd.weights_desc(), d.weights, w, hw);
  memory mdx = output_as(pd.diff_src_desc(), d.src, dx, hdx);
  memory ms = scratchpad(pd.scratchpad_desc(), hs);
  p.bwd_data.execute(stream(),
                     {{DNNL_ARG_DIFF_DST, mdy}, {DNNL_ARG_WEIGHTS, mw}, {DNNL_ARG_DIFF_SRC, mdx}, {DNNL_ARG_SCRATCHPAD, ms}});
  finish_output(mdx, d.src, dx);
  stream().wait();
}

void run_backward_weights(ConvPrimitives& p, const memory& mx, const memory& mdy, float* dw, float* db) {
  ensure_backward_weights(p);
  auto& pd = *p.bwd_weights_pd;
  const ConvDescs& d = p.plain;
  Tensor hdw, hs, bias_sink;
  if (!db) {
    bias_sink = Tensor::empty({d.bias.dims()[0]});
    db = bias_sink.data();
  }
  memory mdw = output_as(pd.diff_weights_desc(), d.weights, dw, hdw);
  memory mdb(d.bias, engine(), db);
  memory ms = scratchpad(pd.scratchpad_desc(), hs);
  p.bwd_weights.execute(stream(), {{DNNL_ARG_SRC, mx}, {DNNL_ARG_DIFF_DST, mdy}, {DNNL_ARG_DIFF_WEIGHTS, mdw},
                                   {DNNL_ARG_DIFF_BIAS, mdb}, {DNNL_ARG_SCRATCHPAD, ms}});
  finish_output(mdw, d.weights, dw);
  stream().wait();
}

void conv2d_backward_data(const Conv2dShape& s, const float* dy, const float* w, float* dx) {
  onednn::conv2d_backward(s, nullptr, dy, w, dx, nullptr, nullptr);
}

void conv2d_backward_weights(const Conv2dShape& s, const float* x, const float* dy, float* dw, float* db) {
  onednn::conv2d_backward(s, x, dy, nullptr, nullptr, dw, db);
}

void conv2d_backward(const Conv2dShape& s, const float* x, const float* dy, const float* w, float* dx, float* dw,
                     float* db) {
  ConvPrimitives& p = conv_primitives(s);
  memory cached_dy;
  Tensor hdy;
  if (dx) {
    cached_dy = input_as(p.bwd_data_pd->diff_dst_desc(), p.plain.dst, dy, hdy);
    run_backward_data(p, cached_dy, w, dx);
  }
  if (dw) {
    // Backward-data and backward-weights usually want the same blocked dy: reorder it once.
    Tensor hdy2, hx;
    memory mdy = cached_dy && cached_dy.get_desc() == p.bwd_weights_pd->diff_dst_desc()
                     ? cached_dy
                     : input_as(p.bwd_weights_pd->diff_dst_desc(), p.plain.dst, dy, hdy2);
    memory mx = input_as(p.bwd_weights_pd->src_desc(), p.plain.src, x, hx);
    run_backward_weights(p, mx, mdy, dw, db);
  }
}

}  // namespace onednn

void conv2d_forward(const Conv2dShape& s, const float* x, const float* w, const float* b, float* y) {
  if (backend() == Backend::reference)
    ref::conv2d_forward(s, x, w, b, y);
  else
    onednn::conv2d_forward(s, x, w, b, y);
}

void conv2d_backward_data(const Conv2dShape& s, const float* dy, const float* w, float* dx) {
  if (backend() == Backend::reference)
    ref::conv2d_backward_data(s, dy, w, dx);
  else
    onednn::conv2d_backward_data(s, dy, w, dx);
}

void conv2d_backward_weights(const Conv2dShape& s, const float* x, const float* dy, float* dw, float* db) {
  if (backend() == Backend::reference)
    ref::conv2d_backward_weights(s, x, dy, dw, db);
  else
    onednn::conv2d_backward_weights(s, x, dy, dw, db);
}

void conv2d_backward(const Conv2dShape& s, const float* x, const float* dy, const float* w, float* dx, float* dw,
                     float* db) {
  if (backend() == Backend::fast) return onednn::conv2d_backward(s, x, dy, w, dx, dw, db);
  if (dx) ref::conv2d_backward_data(s, dy, w, dx);
  if (dw) ref::conv2d_backward_weights(s, x, dy, dw, db);
}

}  // namespace frugal::kernels
