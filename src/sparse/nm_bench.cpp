#include "frugal/sparse/nm_bench.h"

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <sstream>

#include "frugal/core/error.h"
#include "frugal/core/parallel.h"
#include "frugal/core/rng.h"
#include "frugal/kernels/gemm.h"
#include "frugal/kernels/nm_gemm.h"
#include "frugal/sparse/nm_select.h"

namespace frugal::sparse {

std::vector<NMGemmShape> read_nm_shapes(const std::string& path) {
  std::ifstream in(path);
  require(in.good(), path + ": cannot open the shape list");
  std::vector<NMGemmShape> shapes;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    std::string text = line.substr(0, line.find('#'));
    std::istringstream fields(text);
    std::vector<int64_t> v;
    std::string word;
    while (fields >> word) {
      size_t used = 0;
      int64_t x = 0;
      try {
        x = std::stoll(word, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      require(used == word.size() && x >= 1 && x <= 65536,
              path + ":" + std::to_string(number) + ": size '" + word + "' is not an integer in [1, 65536]");
      v.push_back(x);
    }
    if (v.empty()) continue;
    require(v.size() == 3, path + ":" + std::to_string(number) + ": expected three sizes 'm n k', got " +
                               std::to_string(v.size()));
    shapes.push_back({v[0], v[1], v[2]});
    require(shapes.size() <= 10000, path + ": more than 10000 shapes");
  }
  require(!shapes.empty(), path + ": no shapes (expected lines 'm n k')");
  return shapes;
}

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t h = v.size() / 2;
  return v.size() % 2 ? v[h] : 0.5 * (v[h - 1] + v[h]);
}

}  // namespace

double process_cpu_ms() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_nsec) * 1e-6;
}

namespace {

// Runs f once, appending its wall and process CPU milliseconds.
struct Samples {
  std::vector<double> wall, cpu;
  template <typename F>
  void run(F&& f) {
    auto t0 = std::chrono::steady_clock::now();
    double c0 = process_cpu_ms();
    f();
    cpu.push_back(process_cpu_ms() - c0);
    wall.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  NMTime median_time() const { return {median(wall), median(cpu)}; }
};

}  // namespace

NMGemmTiming time_nm_gemm(const NMGemmShape& s, const NMPattern& p, int reps) {
  check_nm(p, "bench nm-gemm: pattern");
  require(reps >= 1, "bench nm-gemm: reps must be at least 1");
  require(s.m >= 1 && s.n >= 1 && s.k >= 1 && s.m * s.k <= (int64_t{1} << 28) && s.n * s.k <= (int64_t{1} << 28),
          "bench nm-gemm: shape " + std::to_string(s.m) + " " + std::to_string(s.n) + " " + std::to_string(s.k) +
              " must have at most 2^28 elements per operand");
  Rng rng(7);
  Tensor a = Tensor::empty({s.m, s.k}), b = Tensor::empty({s.n, s.k});
  for (int64_t i = 0; i < a.numel(); ++i) a[i] = rng.normal();
  for (int64_t i = 0; i < b.numel(); ++i) b[i] = rng.normal();
  Tensor dense = Tensor::empty({s.m, s.n}), sparse = Tensor::empty({s.m, s.n});
  NMRows fw, bw;
  select_linear(b, p, fw, &bw);

  NMGemmTiming t;
  t.shape = s;
  t.pattern = p;
  t.reps = reps;
  t.threads = num_threads();
  // Correctness of what is timed: the N:M result equals the dense product of B ⊙ mask.
  Tensor masked = Tensor::empty({s.n, s.k});
  expand(fw, masked.data());
  kernels::gemm_packed(false, true, s.m, s.n, s.k, a.data(), masked.data(), dense.data());
  kernels::nm_gemm(fw.view(), a.data(), s.m, sparse.data());
  for (int64_t i = 0; i < dense.numel(); ++i)
    t.max_abs_error = std::max(t.max_abs_error, static_cast<double>(std::fabs(dense[i] - sparse[i])));

  Samples d, sp, sel;
  for (int r = 0; r <= reps; ++r) {  // run 0 warms caches and oneDNN's primitive cache
    if (r == 1) d = sp = sel = Samples();
    d.run([&] { kernels::gemm_packed(false, true, s.m, s.n, s.k, a.data(), b.data(), dense.data()); });
    sp.run([&] { kernels::nm_gemm(fw.view(), a.data(), s.m, sparse.data()); });
    sel.run([&] { select_linear(b, p, fw, &bw); });
  }
  t.dense = d.median_time();
  t.sparse = sp.median_time();
  t.select = sel.median_time();
  return t;
}

NMLinearTiming time_linear_products(int64_t batch, int64_t in, int64_t out, const NMPattern& p, int reps) {
  check_nm(p, "bench nm-step: pattern");
  require(reps >= 1 && batch >= 1 && in >= 1 && out >= 1, "bench nm-step: sizes and reps must be positive");
  Rng rng(11);
  Tensor x = Tensor::empty({batch, in}), w = Tensor::empty({out, in}), dy = Tensor::empty({batch, out});
  for (int64_t i = 0; i < x.numel(); ++i) x[i] = rng.normal();
  for (int64_t i = 0; i < w.numel(); ++i) w[i] = rng.normal();
  for (int64_t i = 0; i < dy.numel(); ++i) dy[i] = rng.normal();
  Tensor y = Tensor::empty({batch, out}), dx = Tensor::empty({batch, in}), dw = Tensor::empty({out, in});
  NMRows fw, bw;
  select_linear(w, p, fw, &bw);
  Samples t[6];
  for (int r = 0; r <= reps; ++r) {
    if (r == 1)
      for (Samples& x : t) x = Samples();
    t[0].run([&] { kernels::gemm_packed(false, true, batch, out, in, x.data(), w.data(), y.data()); });
    t[1].run([&] { kernels::gemm_packed(false, false, batch, in, out, dy.data(), w.data(), dx.data()); });
    t[2].run([&] { kernels::gemm_packed(true, false, out, in, batch, dy.data(), x.data(), dw.data()); });
    t[3].run([&] { kernels::nm_gemm(fw.view(), x.data(), batch, y.data()); });
    t[4].run([&] { kernels::nm_gemm(bw.view(), dy.data(), batch, dx.data()); });
    t[5].run([&] { select_linear(w, p, fw, &bw); });
  }
  NMLinearTiming l;
  l.batch = batch, l.in = in, l.out = out;
  l.dense_forward = t[0].median_time();
  l.dense_backward_data = t[1].median_time();
  l.weight_grad = t[2].median_time();
  l.nm_forward = t[3].median_time();
  l.nm_backward_data = t[4].median_time();
  l.select = t[5].median_time();
  return l;
}

}  // namespace frugal::sparse
