#include "frugal/sparse/nm_select.h"

#include <algorithm>
#include <cmath>

#include "frugal/core/error.h"
#include "frugal/kernels/backend.h"
#include "frugal/kernels/nm_select.h"

namespace frugal::sparse {

namespace {

// Lanes per block: one cache line of a row of `a`, and one vector of 16 floats (AVX-512) or two
// of 8; every loop below runs over exactly kLanes so it compiles to straight vector code.
constexpr int kLanes = 16;

// Selects the kept members of one group for kLanes lanes at once. val[j][l] is member j of lane
// l's group; writes slot s of lane l to out_v[s][l], out_c[s][l] (position within the group).
void select_block(const float (&val)[16][kLanes], int len, int n, float (&out_v)[16][kLanes],
                  int32_t (&out_c)[16][kLanes]) {
  float key[16][kLanes];
  for (int j = 0; j < len; ++j)
    for (int l = 0; l < kLanes; ++l) {
      float v = val[j][l];
      key[j][l] = v != v ? -1.0f : std::fabs(v);
    }
  int32_t count[kLanes] = {};
  for (int s = 0; s < n; ++s)
    for (int l = 0; l < kLanes; ++l) out_c[s][l] = 0;
  for (int j = 0; j < len; ++j) {
    // rank = how many members beat member j in (magnitude, lower index first); kept when < n.
    int32_t rank[kLanes] = {};
    for (int k = 0; k < j; ++k)
      for (int l = 0; l < kLanes; ++l) rank[l] += key[k][l] >= key[j][l];
    for (int k = j + 1; k < len; ++k)
      for (int l = 0; l < kLanes; ++l) rank[l] += key[k][l] > key[j][l];
    // Kept members fill slots in ascending position: slot = members kept before this one.
    // Integer arithmetic instead of a branch or blend keeps this loop vector code.
    for (int s = 0; s < n; ++s)
      for (int l = 0; l < kLanes; ++l) out_c[s][l] += ((rank[l] < n) & (count[l] == s)) * j;
    for (int l = 0; l < kLanes; ++l) count[l] += rank[l] < n;
  }
  for (int s = 0; s < n; ++s)
    for (int l = 0; l < kLanes; ++l) out_v[s][l] = s < count[l] ? val[out_c[s][l]][l] : 0.0f;
}

}  // namespace

NMRows select_down(const float* a, int64_t axis, int64_t lanes, const NMPattern& p) {
  check_nm(p, "sparse::select_down");
  require(axis > 0 && lanes > 0 && axis < (int64_t{1} << 31) && axis * lanes <= (int64_t{1} << 34),
          "sparse::select_down: matrix " + std::to_string(axis) + " x " + std::to_string(lanes) +
              " must be non-empty, with fewer than 2^31 rows and 2^34 elements");
  NMRows r;
  r.rows = lanes;
  r.cols = axis;
  r.pattern = p;
  int64_t groups = (axis + p.m - 1) / p.m;
  r.slots = groups * p.n;
  r.values = Tensor::empty({lanes, r.slots});
  r.columns.resize(static_cast<size_t>(lanes * r.slots));
  float* values = r.values.data();
  int32_t* columns = r.columns.data();
  int64_t slots = r.slots;
  // A panel of lanes walks all groups: each row of `a` is then read as kPanel contiguous floats
  // (a column of 16 lanes alone would touch a new page per row and defeat the prefetcher).
  constexpr int64_t kPanel = 256;
  int64_t panels = (lanes + kPanel - 1) / kPanel;
#pragma omp parallel for schedule(static)
  for (int64_t panel = 0; panel < panels; ++panel) {
    int64_t end = std::min(lanes, (panel + 1) * kPanel);
    float val[16][kLanes] = {};
    float out_v[16][kLanes];
    int32_t out_c[16][kLanes];
    for (int64_t g = 0; g < groups; ++g) {
      int len = static_cast<int>(std::min<int64_t>(p.m, axis - g * p.m));
      int32_t first = static_cast<int32_t>(g * p.m);
      for (int64_t i0 = panel * kPanel; i0 < end; i0 += kLanes) {
        int nl = static_cast<int>(std::min<int64_t>(kLanes, end - i0));
        for (int j = 0; j < len; ++j) {
          const float* row = a + (g * p.m + j) * lanes + i0;
          if (nl == kLanes) {
            for (int l = 0; l < kLanes; ++l) val[j][l] = row[l];  // fixed length: vector loads
          } else {
            for (int l = 0; l < nl; ++l) val[j][l] = row[l];
          }
        }
        select_block(val, len, p.n, out_v, out_c);
        for (int l = 0; l < nl; ++l) {
          float* v = values + (i0 + l) * slots + g * p.n;
          int32_t* c = columns + (i0 + l) * slots + g * p.n;
          for (int s = 0; s < p.n; ++s) {
            v[s] = out_v[s][l];
            c[s] = first + out_c[s][l];
          }
        }
      }
    }
  }
  return r;
}

void transpose(const float* src, int64_t rows, int64_t cols, float* dst) {
  constexpr int64_t kBlock = 16;
#pragma omp parallel for schedule(static)
  for (int64_t c0 = 0; c0 < cols; c0 += kBlock)
    for (int64_t r0 = 0; r0 < rows; r0 += kBlock) {
      if (c0 + kBlock <= cols && r0 + kBlock <= rows) {
        // Whole blocks with fixed bounds: the compiler unrolls them into register shuffles.
        float block[kBlock][kBlock];
        for (int64_t r = 0; r < kBlock; ++r)
          for (int64_t c = 0; c < kBlock; ++c) block[c][r] = src[(r0 + r) * cols + c0 + c];
        for (int64_t c = 0; c < kBlock; ++c)
          for (int64_t r = 0; r < kBlock; ++r) dst[(c0 + c) * rows + r0 + r] = block[c][r];
        continue;
      }
      for (int64_t c = c0; c < std::min(cols, c0 + kBlock); ++c)
        for (int64_t r = r0; r < std::min(rows, r0 + kBlock); ++r) dst[c * rows + r] = src[r * cols + c];
    }
}

NMRows select_linear_forward(const Tensor& w, const NMPattern& p) {
  require(w.rank() == 2, "sparse::select_linear_forward: weight must be [out, in], got " + shape_str(w.shape()));
  // Groups run along `in` within a row; the transposed [in, out] puts them down its columns.
  Tensor wt = Tensor::empty({w.dim(1), w.dim(0)});
  transpose(w.data(), w.dim(0), w.dim(1), wt.data());
  return select_down(wt.data(), w.dim(1), w.dim(0), p);
}

NMRows select_linear_backward(const Tensor& w, const NMPattern& p) {
  require(w.rank() == 2, "sparse::select_linear_backward: weight must be [out, in], got " + shape_str(w.shape()));
  return select_down(w.data(), w.dim(0), w.dim(1), p);
}

bool select_linear_fused(int64_t out, int64_t in, const NMPattern& p) {
#if defined(__x86_64__)
  static const bool avx512 = __builtin_cpu_supports("avx512f");
  return avx512 && kernels::backend() != kernels::Backend::reference && 16 % p.m == 0 && out % p.m == 0 &&
         in % p.m == 0 && in * (out / p.m * p.n) < (int64_t{1} << 31);
#else
  (void)out, (void)in, (void)p;
  return false;
#endif
}

namespace {

// Gives r the layout of a copy [rows, slots] over `cols`, keeping its storage if it has it.
void shape_rows(NMRows& r, int64_t rows, int64_t cols, const NMPattern& p) {
  int64_t slots = (cols + p.m - 1) / p.m * p.n;
  if (r.rows == rows && r.cols == cols && r.pattern.n == p.n && r.pattern.m == p.m && r.values.defined()) return;
  r.rows = rows;
  r.cols = cols;
  r.pattern = p;
  r.slots = slots;
  r.values = Tensor::empty({rows, slots});
  r.columns.assign(static_cast<size_t>(rows * slots), 0);
}

}  // namespace

void select_linear(const Tensor& w, const NMPattern& p, NMRows& fw, NMRows* bw) {
  check_nm(p, "sparse::select_linear");
  require(w.rank() == 2, "sparse::select_linear: weight must be [out, in], got " + shape_str(w.shape()));
  int64_t out = w.dim(0), in = w.dim(1);
  if (!select_linear_fused(out, in, p)) {
    fw = select_linear_forward(w, p);
    if (bw) *bw = select_linear_backward(w, p);
    return;
  }
  shape_rows(fw, out, in, p);
  if (bw) shape_rows(*bw, in, out, p);
  kernels::nm_select_linear_avx512(w.data(), out, in, p.n, p.m, fw.values.data(), fw.columns.data(),
                                   bw ? bw->values.data() : nullptr, bw ? bw->columns.data() : nullptr);
}

void expand(const NMRows& r, float* dense) {
  const float* values = r.values.data();
  const int32_t* columns = r.columns.data();
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < r.rows; ++i) {
    float* row = dense + i * r.cols;
    for (int64_t c = 0; c < r.cols; ++c) row[c] = 0.0f;
    // Unused tail slots hold 0 at their group's first column and come after the kept slots of
    // their group, so writing slots last to first lets a kept weight there win.
    for (int64_t s = r.slots - 1; s >= 0; --s) row[columns[i * r.slots + s]] = values[i * r.slots + s];
  }
}

}  // namespace frugal::sparse
