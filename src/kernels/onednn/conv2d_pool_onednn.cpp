// Fused convolution + 2x2 max-pool over oneDNN's blocked output layout (kernels/conv2d_pool.h).
// Blocked layout aBcd<B>b: channel c of pixel (y, x) of sample n lives at
// ((n * ceil(C/B) + c / B) * H * W + y * W + x) * B + c % B, so one pixel's B channels are adjacent
// and the pooling compares whole channel blocks at once.
#include "frugal/kernels/conv2d_pool.h"

#include <algorithm>
#include <cstring>

#include "conv2d_primitives.h"
#include "frugal/kernels/backend.h"

namespace frugal::kernels {

namespace {
using dnnl::memory;

// 16 or 8 when `md` is the blocked layout of [N, C, H, W] with that channel block, else 0.
int64_t channel_block(const memory::desc& md) {
  const memory::dims d = md.dims();
  if (md == memory::desc(d, memory::data_type::f32, memory::format_tag::nChw16c)) return 16;
  if (md == memory::desc(d, memory::data_type::f32, memory::format_tag::nChw8c)) return 8;
  return 0;
}

struct PoolGeometry {
  int64_t n, c, h, w, block;
  int64_t blocks() const { return (c + block - 1) / block; }
  int64_t ph() const { return h / 2; }
  int64_t pw() const { return w / 2; }
};

// The comparisons of kernels::max_pool2d_forward's 2x2 path, in its order: a later value wins
// when it is not <= the best so far (so ties keep the first, and NaN wins). Input, output and
// window offsets all blocked, so each step is B adjacent lanes.
template <int64_t B>
void pool_blocked(const PoolGeometry& g, const float* yb, float* pooled, int32_t* window) {
  const int64_t ph = g.ph(), pw = g.pw();
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t plane = 0; plane < g.n * g.blocks(); ++plane)
    for (int64_t oy = 0; oy < ph; ++oy) {
      const float* row = yb + (plane * g.h + 2 * oy) * g.w * B;
      float* out = pooled + (plane * ph + oy) * pw * B;
      int32_t* at = window + (plane * ph + oy) * pw * B;
      for (int64_t ox = 0; ox < pw; ++ox) {
        const float* p0 = row + 2 * ox * B;
        const float* p1 = p0 + B;
        const float* p2 = p0 + g.w * B;
        const float* p3 = p2 + B;
#pragma omp simd
        for (int64_t l = 0; l < B; ++l) {
          float v = p0[l];
          int32_t k = 0;
          bool take = !(p1[l] <= v);
          v = take ? p1[l] : v;
          k = take ? 1 : k;
          take = !(p2[l] <= v);
          v = take ? p2[l] : v;
          k = take ? 2 : k;
          take = !(p3[l] <= v);
          v = take ? p3[l] : v;
          k = take ? 3 : k;
          out[ox * B + l] = v;
          at[ox * B + l] = k;
        }
      }
    }
}

// The pooled gradient (blocked) into the blocked full-size gradient: every element of a 2x2
// window gets 0 + g at the window's maximum (as the unfused backward's accumulation into zeros,
// which turns -0 into +0) and 0 elsewhere; rows and columns no window covers get 0.
template <int64_t B>
void unpool_blocked(const PoolGeometry& g, const float* dpooled, const int32_t* window, float* dyb) {
  const int64_t ph = g.ph(), pw = g.pw();
#pragma omp parallel for schedule(static)
  for (int64_t plane = 0; plane < g.n * g.blocks(); ++plane) {
    float* full = dyb + plane * g.h * g.w * B;
    for (int64_t oy = 0; oy < ph; ++oy) {
      const float* d = dpooled + (plane * ph + oy) * pw * B;
      const int32_t* at = window + (plane * ph + oy) * pw * B;
      float* r0 = full + 2 * oy * g.w * B;
      float* r1 = r0 + g.w * B;
      for (int64_t ox = 0; ox < pw; ++ox) {
        // Selected with bit masks: GCC leaves `k == 0 ? v : 0` as branches here.
        float sum[B];
        uint32_t v[B], e0[B], e1[B], e2[B], e3[B];
        for (int64_t l = 0; l < B; ++l) sum[l] = 0.0f + d[ox * B + l];
        std::memcpy(v, sum, sizeof v);
        for (int64_t l = 0; l < B; ++l) {
          const uint32_t k = static_cast<uint32_t>(at[ox * B + l]);
          e0[l] = v[l] & (0u - (k == 0));
          e1[l] = v[l] & (0u - (k == 1));
          e2[l] = v[l] & (0u - (k == 2));
          e3[l] = v[l] & (0u - (k == 3));
        }
        std::memcpy(r0 + 2 * ox * B, e0, sizeof e0);
        std::memcpy(r0 + (2 * ox + 1) * B, e1, sizeof e1);
        std::memcpy(r1 + 2 * ox * B, e2, sizeof e2);
        std::memcpy(r1 + (2 * ox + 1) * B, e3, sizeof e3);
      }
      if (g.w % 2) {
        std::memset(r0 + (g.w - 1) * B, 0, B * sizeof(float));
        std::memset(r1 + (g.w - 1) * B, 0, B * sizeof(float));
      }
    }
    if (g.h % 2) std::memset(full + (g.h - 1) * g.w * B, 0, static_cast<size_t>(g.w * B) * sizeof(float));
  }
}

PoolGeometry geometry(const onednn::ConvPrimitives& p, const Conv2dShape& s) {
  return {s.n, s.o, s.oh(), s.ow(), channel_block(p.fwd_pd.dst_desc())};
}

// The pooled tensor [N, O, OH/2, OW/2] in the convolution output's blocked layout, and plain.
memory::desc pooled_desc(const Conv2dShape& s, const onednn::ConvPrimitives& p) {
  const memory::format_tag t = channel_block(p.fwd_pd.dst_desc()) == 16 ? memory::format_tag::nChw16c
                                                                          : memory::format_tag::nChw8c;
  return memory::desc({s.n, s.o, s.oh() / 2, s.ow() / 2}, memory::data_type::f32, t);
}
memory::desc pooled_plain(const Conv2dShape& s) {
  return memory::desc({s.n, s.o, s.oh() / 2, s.ow() / 2}, memory::data_type::f32, memory::format_tag::nchw);
}
}  // namespace

bool conv2d_maxpool2_fusable(const Conv2dShape& s) {
  if (backend() != Backend::fast || s.oh() < 2 || s.ow() < 2) return false;
  onednn::ConvPrimitives& p = onednn::conv_primitives(s);
  const memory::desc& dst = p.fwd_pd.dst_desc();
  return channel_block(dst) > 0 && p.bwd_data_pd->diff_dst_desc() == dst &&
         p.bwd_weights_pd->diff_dst_desc() == dst;
}

int64_t conv2d_maxpool2_window_elements(const Conv2dShape& s) {
  return static_cast<int64_t>(pooled_desc(s, onednn::conv_primitives(s)).get_size() / sizeof(float));
}

void conv2d_maxpool2_forward(const Conv2dShape& s, const float* x, const float* w, const float* b, float* y,
                             int32_t* window, Tensor& x_in_layout) {
  onednn::ConvPrimitives& p = onednn::conv_primitives(s);
  Tensor hy, hpooled;
  memory my = onednn::output_as(p.fwd_pd.dst_desc(), p.plain.dst, nullptr, hy);
  memory mx;
  x_in_layout = Tensor();
  onednn::run_forward(p, x, w, b, my, mx, x_in_layout);
  const PoolGeometry g = geometry(p, s);
  memory mpooled = onednn::output_as(pooled_desc(s, p), pooled_plain(s), y, hpooled);
  if (g.block == 16)
    pool_blocked<16>(g, hy.data(), hpooled.data(), window);
  else
    pool_blocked<8>(g, hy.data(), hpooled.data(), window);
  onednn::finish_output(mpooled, pooled_plain(s), y);
  onednn::stream().wait();
}

void conv2d_maxpool2_backward(const Conv2dShape& s, const float* x, const Tensor& x_in_layout, const float* dy,
                              const int32_t* window, const float* w, float* dx, float* dw, float* db) {
  onednn::ConvPrimitives& p = onednn::conv_primitives(s);
  Tensor hdy, hdpooled;
  const memory dpooled = onednn::input_as(pooled_desc(s, p), pooled_plain(s), dy, hdpooled);
  onednn::stream().wait();
  memory mdy = onednn::output_as(p.fwd_pd.dst_desc(), p.plain.dst, nullptr, hdy);
  const PoolGeometry g = geometry(p, s);
  if (g.block == 16)
    unpool_blocked<16>(g, hdpooled.data(), window, hdy.data());
  else
    unpool_blocked<8>(g, hdpooled.data(), window, hdy.data());
  if (dx) onednn::run_backward_data(p, mdy, w, dx);
  if (dw) {
    const memory::desc& want = p.bwd_weights_pd->src_desc();
    Tensor hx;
    memory mx = x_in_layout.defined() && want == p.fwd_pd.src_desc()
                    ? memory(want, onednn::engine(), const_cast<float*>(x_in_layout.data()))
                    : onednn::input_as(want, p.plain.src, x, hx);
    onednn::run_backward_weights(p, mx, mdy, dw, db);
  }
}

}  // namespace frugal::kernels
