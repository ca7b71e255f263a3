// oneDNN 3-D convolution (NCDHW / OIDHW, grouped as GOIDHW) with primitives cached per shape.
// Primitives pick their own blocked layouts; frugal's tensors stay plain, so operands are
// reordered at the boundary when the chosen layout differs. Every buffer oneDNN touches,
// including its scratchpad, is a Tensor from the tracking allocator, so peak bytes include it.
#include <map>
#include <memory>
#include <oneapi/dnnl/dnnl.hpp>
#include <tuple>

#include "frugal/core/tensor.h"
#include "frugal/kernels/backend.h"
#include "frugal/kernels/conv3d.h"

namespace frugal::kernels {

namespace onednn {

namespace {
using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

dnnl::engine& engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}
dnnl::stream& stream() {
  static dnnl::stream s(engine());
  return s;
}

Tensor scratch_for(const memory::desc& md) {
  return Tensor::empty({static_cast<int64_t>((md.get_size() + sizeof(float) - 1) / sizeof(float)) + 1});
}

struct Descs {
  memory::desc src, weights, bias, dst;  // plain layouts of frugal's tensors
  memory::dims strides, padding;
};

Descs plain_descs(const Conv3dShape& s) {
  Descs d;
  d.src = memory::desc({s.n, s.c, s.d, s.h, s.w}, dt::f32, tag::ncdhw);
  d.dst = memory::desc({s.n, s.o, s.od(), s.oh(), s.ow()}, dt::f32, tag::ncdhw);
  d.bias = memory::desc({s.o}, dt::f32, tag::x);
  d.weights = s.groups == 1 ? memory::desc({s.o, s.c, s.kd, s.kh, s.kw}, dt::f32, tag::oidhw)
                            : memory::desc({s.groups, s.o / s.groups, s.c / s.groups, s.kd, s.kh, s.kw}, dt::f32,
                                           tag::goidhw);
  d.strides = {s.stride, s.stride, s.stride};
  d.padding = {s.pad, s.pad, s.pad};
  return d;
}

memory::desc any_like(const memory::desc& md) { return memory::desc(md.dims(), dt::f32, tag::any); }

dnnl::primitive_attr user_scratchpad() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

struct ConvPrimitives {
  Descs plain;
  dnnl::convolution_forward::primitive_desc fwd_pd;
  dnnl::convolution_forward fwd;
  std::unique_ptr<dnnl::convolution_backward_data::primitive_desc> bwd_data_pd;
  std::unique_ptr<dnnl::convolution_backward_weights::primitive_desc> bwd_weights_pd;
  dnnl::convolution_backward_data bwd_data;
  dnnl::convolution_backward_weights bwd_weights;
};

using Key = std::tuple<int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                       int64_t, int64_t>;

ConvPrimitives& primitives(const Conv3dShape& s) {
  static std::map<Key, std::unique_ptr<ConvPrimitives>> cache;
  Key key{s.n, s.c, s.d, s.h, s.w, s.o, s.kd, s.kh, s.kw, s.stride, s.pad, s.groups};
  auto it = cache.find(key);
  if (it != cache.end()) return *it->second;
  auto p = std::make_unique<ConvPrimitives>();
  p->plain = plain_descs(s);
  const Descs& d = p->plain;
  dnnl::convolution_forward::desc fd(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct,
                                     any_like(d.src), any_like(d.weights), d.bias, any_like(d.dst), d.strides,
                                     d.padding, d.padding);
  p->fwd_pd = dnnl::convolution_forward::primitive_desc(fd, user_scratchpad(), engine());
  p->fwd = dnnl::convolution_forward(p->fwd_pd);
  return *cache.emplace(key, std::move(p)).first->second;
}

memory input_as(const memory::desc& want, const memory::desc& plain, const float* ptr, Tensor& holder) {
  memory user(plain, engine(), const_cast<float*>(ptr));
  if (want == plain) return user;
  holder = scratch_for(want);
  memory m(want, engine(), holder.data());
  dnnl::reorder(user, m).execute(stream(), user, m);
  return m;
}

memory output_as(const memory::desc& have, const memory::desc& plain, float* ptr, Tensor& holder) {
  if (have == plain) return memory(plain, engine(), ptr);
  holder = scratch_for(have);
  return memory(have, engine(), holder.data());
}
void finish_output(memory& m, const memory::desc& plain, float* ptr) {
  if (m.get_desc() == plain) return;
  memory user(plain, engine(), ptr);
  dnnl::reorder(m, user).execute(stream(), m, user);
}

memory scratchpad(const memory::desc& md, Tensor& holder) {
  holder = scratch_for(md);
  return memory(md, engine(), holder.data());
}
}  // namespace

void conv3d_forward(const Conv3dShape& s, const float* x, const float* w, const float* b, float* y) {
  ConvPrimitives& p = primitives(s);
  Tensor hx, hw, hy, hs, zero_bias;
  if (!b) {
    zero_bias = Tensor::zeros({s.o});
    b = zero_bias.data();
  }
  memory mx = input_as(p.fwd_pd.src_desc(), p.plain.src, x, hx);
  memory mw = input_as(p.fwd_pd.weights_desc(), p.plain.weights, w, hw);
  memory mb(p.plain.bias, engine(), const_cast<float*>(b));
  memory my = output_as(p.fwd_pd.dst_desc(), p.plain.dst, y, hy);
  memory ms = scratchpad(p.fwd_pd.scratchpad_desc(), hs);
  p.fwd.execute(stream(), {{DNNL_ARG_SRC, mx}, {DNNL_ARG_WEIGHTS, mw}, {DNNL_ARG_BIAS, mb}, {DNNL_ARG_DST, my},
                           {DNNL_ARG_SCRATCHPAD, ms}});
  finish_output(my, p.plain.dst, y);
  stream().wait();
}

void conv3d_backward_data(const Conv3dShape& s, const float* dy, const float* w, float* dx) {
  ConvPrimitives& p = primitives(s);
  const Descs& d = p.plain;
  if (!p.bwd_data_pd) {
    dnnl::convolution_backward_data::desc bd(dnnl::algorithm::convolution_direct, any_like(d.src),
                                             any_like(d.weights), any_like(d.dst), d.strides, d.padding, d.padding);
    p.bwd_data_pd = std::make_unique<dnnl::convolution_backward_data::primitive_desc>(bd, user_scratchpad(),
                                                                                      engine(), p.fwd_pd);
    p.bwd_data = dnnl::convolution_backward_data(*p.bwd_data_pd);
  }
  auto& pd = *p.bwd_data_pd;
  Tensor hdy, hw, hdx, hs;
  memory mdy = input_as(pd.diff_dst_desc(), d.dst, dy, hdy);
  memory mw = input_as(pd.weights_desc(), d.weights, w, hw);
  memory mdx = output_as(pd.diff_src_desc(), d.src, dx, hdx);
  memory ms = scratchpad(pd.scratchpad_desc(), hs);
  p.bwd_data.execute(stream(),
                     {{DNNL_ARG_DIFF_DST, mdy}, {DNNL_ARG_WEIGHTS, mw}, {DNNL_ARG_DIFF_SRC, mdx}, {DNNL_ARG_SCRATCHPAD, ms}});
  finish_output(mdx, d.src, dx);
  stream().wait();
}

void conv3d_backward_weights(const Conv3dShape& s, const float* x, const float* dy, float* dw, float* db) {
  ConvPrimitives& p = primitives(s);
  const Descs& d = p.plain;
  if (!p.bwd_weights_pd) {
    dnnl::convolution_backward_weights::desc bd(dnnl::algorithm::convolution_direct, any_like(d.src),
                                                any_like(d.weights), d.bias, any_like(d.dst), d.strides, d.padding,
                                                d.padding);
    p.bwd_weights_pd = std::make_unique<dnnl::convolution_backward_weights::primitive_desc>(
        bd, user_scratchpad(), engine(), p.fwd_pd);
    p.bwd_weights = dnnl::convolution_backward_weights(*p.bwd_weights_pd);
  }
  auto& pd = *p.bwd_weights_pd;
  Tensor hx, hdy, hdw, hs, bias_sink;
  if (!db) {
    bias_sink = Tensor::empty({s.o});
    db = bias_sink.data();
  }
  memory mx = input_as(pd.src_desc(), d.src, x, hx);
  memory mdy = input_as(pd.diff_dst_desc(), d.dst, dy, hdy);
  memory mdw = output_as(pd.diff_weights_desc(), d.weights, dw, hdw);
  memory mdb(d.bias, engine(), db);
  memory ms = scratchpad(pd.scratchpad_desc(), hs);
  p.bwd_weights.execute(stream(), {{DNNL_ARG_SRC, mx}, {DNNL_ARG_DIFF_DST, mdy}, {DNNL_ARG_DIFF_WEIGHTS, mdw},
                                   {DNNL_ARG_DIFF_BIAS, mdb}, {DNNL_ARG_SCRATCHPAD, ms}});
  finish_output(mdw, d.weights, dw);
  stream().wait();
}

}  // namespace onednn

void conv3d_forward(const Conv3dShape& s, const float* x, const float* w, const float* b, float* y) {
  if (backend() == Backend::reference)
    ref::conv3d_forward(s, x, w, b, y);
  else
    onednn::conv3d_forward(s, x, w, b, y);
}

void conv3d_backward_data(const Conv3dShape& s, const float* dy, const float* w, float* dx) {
  if (backend() == Backend::reference)
    ref::conv3d_backward_data(s, dy, w, dx);
  else
    onednn::conv3d_backward_data(s, dy, w, dx);
}

void conv3d_backward_weights(const Conv3dShape& s, const float* x, const float* dy, float* dw, float* db) {
  if (backend() == Backend::reference)
    ref::conv3d_backward_weights(s, x, dy, dw, db);
  else
    onednn::conv3d_backward_weights(s, x, dy, dw, db);
}

}  // namespace frugal::kernels
