// N:M sparse GEMM against oneDNN's dense matmul of the same shape: the forward product
// Y = X · Wᵀ and the backward-data product dX = dY · W of a linear layer, batch × in → out.
// Arguments: batch, in, out, then N, M for the sparse runs. Weight packing (done once per
// training step, after the optimizer) is timed on its own.
#include <benchmark/benchmark.h>

#include <oneapi/dnnl/dnnl.hpp>

#include "frugal/core/rng.h"
#include "frugal/core/tensor.h"
#include "frugal/kernels/nm_gemm.h"
#include "frugal/sparse/nm_packed.h"
#include "frugal/sparse/nm_select.h"

using namespace frugal;

namespace {

Tensor random_tensor(const Shape& shape, uint64_t seed) {
  Rng rng(seed);
  Tensor t(shape);
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = rng.normal();
  return t;
}

// dst [m, n] = a [m, k] · b, with b stored [k, n] (transpose_b false) or [n, k] (true).
void dense_matmul(benchmark::State& state, int64_t m, int64_t k, int64_t n, bool transpose_b) {
  using dnnl::memory;
  dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  dnnl::stream stream(engine);
  Tensor a = random_tensor({m, k}, 1), b = random_tensor({k, n}, 2), c({m, n});
  memory::desc a_md({m, k}, memory::data_type::f32, memory::format_tag::ab);
  memory::desc b_md({k, n}, memory::data_type::f32, transpose_b ? memory::format_tag::ba : memory::format_tag::ab);
  memory::desc c_md({m, n}, memory::data_type::f32, memory::format_tag::ab);
  dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_md, b_md, c_md), engine);
  dnnl::matmul prim(pd);
  memory a_mem(a_md, engine, a.data()), b_mem(b_md, engine, b.data()), c_mem(c_md, engine, c.data());
  for (auto _ : state) {
    prim.execute(stream, {{DNNL_ARG_SRC, a_mem}, {DNNL_ARG_WEIGHTS, b_mem}, {DNNL_ARG_DST, c_mem}});
    stream.wait();
    benchmark::DoNotOptimize(c.data());
  }
  state.counters["GFLOPs"] = benchmark::Counter(2.0 * m * k * n, benchmark::Counter::kIsIterationInvariantRate,
                                                benchmark::Counter::kIs1000);
}

void BM_dense_fwd(benchmark::State& state) {
  dense_matmul(state, state.range(0), state.range(1), state.range(2), true);
}
void BM_dense_bwd_data(benchmark::State& state) {
  dense_matmul(state, state.range(0), state.range(2), state.range(1), false);
}

// forward: rows = out, cols = in; backward-data: rows = in, cols = out.
void sparse_product(benchmark::State& state, bool backward) {
  int64_t batch = state.range(0), in = state.range(1), out = state.range(2);
  sparse::NMPattern p{static_cast<int>(state.range(3)), static_cast<int>(state.range(4))};
  Tensor w = random_tensor({out, in}, 3);
  int64_t rows = backward ? in : out, cols = backward ? out : in;
  sparse::NMPacked packed = backward ? sparse::pack_nm(w.data(), in, out, 1, in, p)
                                     : sparse::pack_nm(w.data(), out, in, in, 1, p);
  std::vector<int32_t> columns = sparse::slot_columns(packed);
  kernels::NMSparseRows a{rows, cols, p.n, p.m, packed.slots_per_row(), packed.values.data(), columns.data()};
  Tensor x = random_tensor({batch, cols}, 4), y({batch, rows});
  for (auto _ : state) {
    kernels::nm_gemm(a, x.data(), batch, y.data());
    benchmark::DoNotOptimize(y.data());
  }
  state.SetLabel(std::string(kernels::nm_gemm_variant()) + " " + p.str());
  // Dense-equivalent rate, so it reads directly against the oneDNN rows.
  state.counters["GFLOPs"] = benchmark::Counter(2.0 * batch * in * out, benchmark::Counter::kIsIterationInvariantRate,
                                                benchmark::Counter::kIs1000);
}

void BM_sparse_fwd(benchmark::State& state) { sparse_product(state, false); }
void BM_sparse_bwd_data(benchmark::State& state) { sparse_product(state, true); }

void BM_pack_both_copies(benchmark::State& state) {
  int64_t in = state.range(1), out = state.range(2);
  sparse::NMPattern p{static_cast<int>(state.range(3)), static_cast<int>(state.range(4))};
  Tensor w = random_tensor({out, in}, 3);
  for (auto _ : state) {
    sparse::NMPacked fw = sparse::pack_nm(w.data(), out, in, in, 1, p);
    sparse::NMPacked bw = sparse::pack_nm(w.data(), in, out, 1, in, p);
    std::vector<int32_t> cf = sparse::slot_columns(fw), cb = sparse::slot_columns(bw);
    benchmark::DoNotOptimize(cf.data());
    benchmark::DoNotOptimize(cb.data());
  }
  state.SetLabel(p.str());
}

// What training uses: both kernel copies straight from the weights (no bit-packing, no decode).
void BM_select_both_copies(benchmark::State& state) {
  int64_t in = state.range(1), out = state.range(2);
  sparse::NMPattern p{static_cast<int>(state.range(3)), static_cast<int>(state.range(4))};
  Tensor w = random_tensor({out, in}, 3);
  for (auto _ : state) {
    sparse::NMRows fw = sparse::select_linear_forward(w, p);
    sparse::NMRows bw = sparse::select_linear_backward(w, p);
    benchmark::DoNotOptimize(fw.values.data());
    benchmark::DoNotOptimize(bw.values.data());
  }
  state.SetLabel(p.str());
}

const int64_t kShapes[][3] = {{256, 1024, 1024}, {256, 784, 2048}, {256, 2048, 2048}, {128, 3136, 512},
                              {128, 512, 128}};
const int64_t kPatterns[][2] = {{2, 4}, {1, 4}, {2, 8}, {1, 8}};

void dense_args(benchmark::internal::Benchmark* b) {
  for (const auto& s : kShapes) b->Args({s[0], s[1], s[2]});
}
void sparse_args(benchmark::internal::Benchmark* b) {
  for (const auto& s : kShapes)
    for (const auto& p : kPatterns) b->Args({s[0], s[1], s[2], p[0], p[1]});
}

}  // namespace

BENCHMARK(BM_dense_fwd)->Apply(dense_args)->ArgNames({"batch", "in", "out"})->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_sparse_fwd)->Apply(sparse_args)->ArgNames({"batch", "in", "out", "n", "m"})->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_dense_bwd_data)->Apply(dense_args)->ArgNames({"batch", "in", "out"})->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_sparse_bwd_data)->Apply(sparse_args)->ArgNames({"batch", "in", "out", "n", "m"})->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_pack_both_copies)->Args({0, 1024, 1024, 2, 8})->Args({0, 2048, 2048, 2, 8})->ArgNames({"", "in", "out", "n", "m"})->Unit(benchmark::kMicrosecond)->UseRealTime();

BENCHMARK(BM_select_both_copies)->Args({0, 1024, 1024, 2, 8})->Args({0, 2048, 2048, 2, 8})->Args({0, 1024, 1024, 2, 4})->Args({0, 1024, 1024, 4, 16})->ArgNames({"", "in", "out", "n", "m"})->Unit(benchmark::kMicrosecond)->UseRealTime();

BENCHMARK_MAIN();
