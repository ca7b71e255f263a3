// Direct depthwise 3-D convolution (see conv3d.h): one (sample, channel) plane at a time, each
// kernel tap a unit-stride row update the compiler vectorizes, planes split across threads. The
// row loops are cloned for AVX2 + FMA (x86-64-v3) and picked at load time by the CPU.
#include "frugal/kernels/conv3d.h"

namespace frugal::kernels {

namespace {
constexpr int64_t kMaxTaps = 7 * 7 * 7;

// dst[z, y, :] += sum over taps of tap * src[z + kz - pad, y + ky - pad, : + kx - pad], for one
// plane. With the taps flipped and pad' = k - 1 - pad this is also the transposed convolution
// (backward data), which is why both passes share it.
__attribute__((target_clones("arch=x86-64-v3", "default"))) void correlate_plane(
    const float* src, int64_t sd, int64_t sh, int64_t sw, const float* taps, int64_t kd, int64_t kh, int64_t kw,
    int64_t pad_d, int64_t pad_h, int64_t pad_w, float* dst, int64_t dd, int64_t dh, int64_t dw) {
  for (int64_t z = 0; z < dd; ++z)
    for (int64_t y = 0; y < dh; ++y) {
      float* row = dst + (z * dh + y) * dw;
      for (int64_t kz = 0; kz < kd; ++kz) {
        int64_t iz = z + kz - pad_d;
        if (iz < 0 || iz >= sd) continue;
        for (int64_t ky = 0; ky < kh; ++ky) {
          int64_t iy = y + ky - pad_h;
          if (iy < 0 || iy >= sh) continue;
          const float* src_row = src + (iz * sh + iy) * sw;
          const float* tap = taps + (kz * kh + ky) * kw;
          // Inside [lo, hi) every tap of the row lands in the source: all kw taps in one pass.
          int64_t lo = pad_w < dw ? pad_w : dw;
          int64_t hi = sw - (kw - 1) + pad_w < dw ? sw - (kw - 1) + pad_w : dw;
          if (hi < lo) hi = lo;
          for (int64_t x = 0; x < dw; ++x) {
            if (x == lo) x = hi;  // the interior below
            if (x >= dw) break;
            float sum = 0;
            for (int64_t kx = 0; kx < kw; ++kx) {
              int64_t ix = x + kx - pad_w;
              if (ix >= 0 && ix < sw) sum += tap[kx] * src_row[ix];
            }
            row[x] += sum;
          }
          if (kw == 3) {
            float t0 = tap[0], t1 = tap[1], t2 = tap[2];
#pragma omp simd
            for (int64_t x = lo; x < hi; ++x)
              row[x] += t0 * src_row[x - pad_w] + t1 * src_row[x + 1 - pad_w] + t2 * src_row[x + 2 - pad_w];
          } else {
            for (int64_t kx = 0; kx < kw; ++kx) {
              float t = tap[kx];
#pragma omp simd
              for (int64_t x = lo; x < hi; ++x) row[x] += t * src_row[x + kx - pad_w];
            }
          }
        }
      }
    }
}
}  // namespace

bool depthwise_conv3d_supported(const Conv3dShape& s) {
  return s.groups == s.c && s.o == s.c && s.stride == 1 && s.kd * s.kh * s.kw <= kMaxTaps && s.pad < s.kd &&
         s.pad < s.kh && s.pad < s.kw;
}

void depthwise_conv3d_forward(const Conv3dShape& s, const float* x, const float* w, const float* b, float* y) {
  int64_t in_plane = s.d * s.h * s.w, out_plane = s.od() * s.oh() * s.ow(), taps = s.kd * s.kh * s.kw;
#pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < s.n * s.c; ++p) {
    int64_t c = p % s.c;
    float* dst = y + p * out_plane;
    float bias = b ? b[c] : 0.0f;
    for (int64_t i = 0; i < out_plane; ++i) dst[i] = bias;
    correlate_plane(x + p * in_plane, s.d, s.h, s.w, w + c * taps, s.kd, s.kh, s.kw, s.pad, s.pad, s.pad, dst, s.od(),
                    s.oh(), s.ow());
  }
}

void depthwise_conv3d_backward_data(const Conv3dShape& s, const float* dy, const float* w, float* dx) {
  int64_t in_plane = s.d * s.h * s.w, out_plane = s.od() * s.oh() * s.ow(), taps = s.kd * s.kh * s.kw;
#pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < s.n * s.c; ++p) {
    const float* tap = w + (p % s.c) * taps;
    float flipped[kMaxTaps];
    for (int64_t t = 0; t < taps; ++t) flipped[t] = tap[taps - 1 - t];
    float* dst = dx + p * in_plane;
    for (int64_t i = 0; i < in_plane; ++i) dst[i] = 0;
    correlate_plane(dy + p * out_plane, s.od(), s.oh(), s.ow(), flipped, s.kd, s.kh, s.kw, s.kd - 1 - s.pad,
                    s.kh - 1 - s.pad, s.kw - 1 - s.pad, dst, s.d, s.h, s.w);
  }
}

namespace {
// Adds to acc[tap] the dot products of one output-gradient row with the input rows it saw.
__attribute__((target_clones("arch=x86-64-v3", "default"))) void accumulate_taps(
    const Conv3dShape& s, const float* src, const float* grad_row, int64_t z, int64_t y, double* acc) {
  int64_t ow = s.ow();
  for (int64_t kz = 0; kz < s.kd; ++kz) {
    int64_t iz = z + kz - s.pad;
    if (iz < 0 || iz >= s.d) continue;
    for (int64_t ky = 0; ky < s.kh; ++ky) {
      int64_t iy = y + ky - s.pad;
      if (iy < 0 || iy >= s.h) continue;
      const float* src_row = src + (iz * s.h + iy) * s.w;
      for (int64_t kx = 0; kx < s.kw; ++kx) {
        int64_t shift = kx - s.pad;
        int64_t lo = shift < 0 ? -shift : 0, hi = s.w - shift < ow ? s.w - shift : ow;
        float dot = 0;
#pragma omp simd reduction(+ : dot)
        for (int64_t i = lo; i < hi; ++i) dot += grad_row[i] * src_row[i + shift];
        acc[(kz * s.kh + ky) * s.kw + kx] += dot;
      }
    }
  }
}
}  // namespace

void depthwise_conv3d_backward_weights(const Conv3dShape& s, const float* x, const float* dy, float* dw, float* db) {
  int64_t in_plane = s.d * s.h * s.w, out_plane = s.od() * s.oh() * s.ow(), taps = s.kd * s.kh * s.kw;
  int64_t od = s.od(), oh = s.oh(), ow = s.ow();
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < s.c; ++c) {
    double acc[kMaxTaps] = {};
    double bias = 0;
    for (int64_t n = 0; n < s.n; ++n) {
      const float* src = x + (n * s.c + c) * in_plane;
      const float* grad = dy + (n * s.c + c) * out_plane;
      for (int64_t z = 0; z < od; ++z)
        for (int64_t y = 0; y < oh; ++y) {
          const float* grad_row = grad + (z * oh + y) * ow;
          float row_sum = 0;
#pragma omp simd reduction(+ : row_sum)
          for (int64_t x = 0; x < ow; ++x) row_sum += grad_row[x];
          bias += row_sum;
          accumulate_taps(s, src, grad_row, z, y, acc);
        }
    }
    for (int64_t t = 0; t < taps; ++t) dw[c * taps + t] = static_cast<float>(acc[t]);
    if (db) db[c] = static_cast<float>(bias);
  }
}

}  // namespace frugal::kernels
