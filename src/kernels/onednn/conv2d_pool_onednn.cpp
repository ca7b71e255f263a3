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
// when it is not <= the best so far (so ties keep the first, and NaN wins).
void pool_blocked(const PoolGeometry& g, const float* yb, float* y, int32_t* window) {
  const int64_t ph = g.ph(), pw = g.pw(), B = g.block;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t cb = 0; cb < g.blocks(); ++cb) {
      const float* plane = yb + (n * g.blocks() + cb) * g.h * g.w * B;
      const int64_t lanes = std::min(B, g.c - cb * B);
      for (int64_t oy = 0; oy < ph; ++oy)
        for (int64_t ox = 0; ox < pw; ++ox) {
          const float* p0 = plane + (2 * oy * g.w + 2 * ox) * B;
          const float* p1 = p0 + B;
          const float* p2 = p0 + g.w * B;
          const float* p3 = p2 + B;
          float best[16];
          int32_t at[16];
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
            best[l] = v;
            at[l] = k;
          }
          for (int64_t l = 0; l < lanes; ++l) {
            const int64_t o = ((n * g.c + cb * B + l) * ph + oy) * pw + ox;
            y[o] = best[l];
            window[o] = at[l];
          }
        }
    }
}

// The pooled gradient into a zeroed blocked buffer, each value at its window's maximum.
void unpool_blocked(const PoolGeometry& g, const float* dy, const int32_t* window, float* dyb) {
  const int64_t ph = g.ph(), pw = g.pw(), B = g.block;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t cb = 0; cb < g.blocks(); ++cb) {
      float* plane = dyb + (n * g.blocks() + cb) * g.h * g.w * B;
      std::memset(plane, 0, static_cast<size_t>(g.h * g.w * B) * sizeof(float));
      const int64_t lanes = std::min(B, g.c - cb * B);
      for (int64_t l = 0; l < lanes; ++l) {
        const int64_t base = (n * g.c + cb * B + l) * ph * pw;
        for (int64_t oy = 0; oy < ph; ++oy)
          for (int64_t ox = 0; ox < pw; ++ox) {
            const int32_t k = window[base + oy * pw + ox];
            const int64_t iy = 2 * oy + k / 2, ix = 2 * ox + k % 2;
            // 0 + g, as the unfused backward's accumulation into zeros (turns -0 into +0).
            plane[(iy * g.w + ix) * B + l] = 0.0f + dy[base + oy * pw + ox];
          }
      }
    }
}

PoolGeometry geometry(const onednn::ConvPrimitives& p, const Conv2dShape& s) {
  return {s.n, s.o, s.oh(), s.ow(), channel_block(p.fwd_pd.dst_desc())};
}
}  // namespace

bool conv2d_maxpool2_fusable(const Conv2dShape& s) {
  if (backend() != Backend::fast || s.oh() < 2 || s.ow() < 2) return false;
  onednn::ConvPrimitives& p = onednn::conv_primitives(s);
  const memory::desc& dst = p.fwd_pd.dst_desc();
  return channel_block(dst) > 0 && p.bwd_data_pd->diff_dst_desc() == dst &&
         p.bwd_weights_pd->diff_dst_desc() == dst;
}

void conv2d_maxpool2_forward(const Conv2dShape& s, const float* x, const float* w, const float* b, float* y,
                             int32_t* window, Tensor& x_in_layout) {
  onednn::ConvPrimitives& p = onednn::conv_primitives(s);
  Tensor hy;
  memory my = onednn::output_as(p.fwd_pd.dst_desc(), p.plain.dst, nullptr, hy);
  memory mx;
  x_in_layout = Tensor();
  onednn::run_forward(p, x, w, b, my, mx, x_in_layout);
  pool_blocked(geometry(p, s), hy.data(), y, window);
}

void conv2d_maxpool2_backward(const Conv2dShape& s, const float* x, const Tensor& x_in_layout, const float* dy,
                              const int32_t* window, const float* w, float* dx, float* dw, float* db) {
  onednn::ConvPrimitives& p = onednn::conv_primitives(s);
  Tensor hdy;
  memory mdy = onednn::output_as(p.fwd_pd.dst_desc(), p.plain.dst, nullptr, hdy);
  unpool_blocked(geometry(p, s), dy, window, hdy.data());
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
