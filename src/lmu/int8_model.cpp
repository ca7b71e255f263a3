// The deployable int8 L2MU: export from a trained model, the file format, and the integer-weight
// runtime (layout and semantics: include/frugal/lmu/int8_model.h).
#include "frugal/lmu/int8_model.h"

#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>

#include "frugal/core/error.h"
#include "frugal/hardwire/quant.h"
#include "frugal/lmu/legendre.h"
#include "frugal/snn/neurons.h"
#include "frugal/snn/readouts.h"

namespace frugal::lmu {

namespace {

constexpr char kMagic[8] = {'F', 'L', '2', 'M', 'U', '8', '\n', '\0'};
constexpr uint32_t kVersion = 1;
constexpr int64_t kMaxDim = int64_t{1} << 20;
constexpr int64_t kMaxElements = int64_t{1} << 28;

int reset_code(kernels::Reset r) { return r == kernels::Reset::subtract ? 0 : r == kernels::Reset::zero ? 1 : 2; }

std::vector<float> expand(const autograd::Var& p, int64_t size, bool clamp01, const std::string& what) {
  require(p.defined() && (p.value().numel() == 1 || p.value().numel() == size),
          "l2mu int8 export: " + what + " must hold 1 or " + std::to_string(size) + " values");
  std::vector<float> v(static_cast<size_t>(size));
  for (int64_t i = 0; i < size; ++i) {
    float x = p.value()[p.value().numel() == 1 ? 0 : i];
    if (clamp01) x = std::fmin(std::fmax(x, 0.0f), 1.0f);  // as lmu_core and snnTorch clamp decays
    v[static_cast<size_t>(i)] = x;
  }
  return v;
}

Int8Population export_population(const Population& p, int64_t size, bool cuba, const std::string& what) {
  Int8Population q;
  q.beta = expand(p.beta, size, true, what + " beta");
  q.threshold = expand(p.threshold, size, false, what + " threshold");
  if (cuba) q.alpha = expand(p.alpha, size, true, what + " alpha");
  return q;
}

Int8Matrix export_matrix(const autograd::Var& w) {
  Int8Matrix m;
  if (!w.defined()) return m;
  m.rows = w.shape()[0];
  m.cols = w.value().numel() / m.rows;
  m.scale.resize(static_cast<size_t>(m.rows));
  m.level.resize(static_cast<size_t>(m.rows * m.cols));
  int64_t nonzero = 0;
  for (int64_t r = 0; r < m.rows; ++r) {
    hardwire::QuantRow q = hardwire::quantize_row(w.value().data() + r * m.cols, static_cast<int>(m.cols), hardwire::WeightFormat::int8);
    m.scale[r] = q.scale;
    for (int64_t c = 0; c < m.cols; ++c) {
      m.level[r * m.cols + c] = static_cast<int8_t>(q.level[c]);
      nonzero += q.level[c] != 0;
    }
  }
  m.sparse = (m.rows * m.cols + 7) / 8 + nonzero < m.rows * m.cols;
  return m;
}

void import_matrix(autograd::Var& w, const Int8Matrix& m, const std::string& name) {
  if (!w.defined()) return;
  require(w.shape()[0] == m.rows && w.value().numel() == m.rows * m.cols, "l2mu int8: " + name + " does not match the model");
  for (int64_t r = 0; r < m.rows; ++r)
    for (int64_t c = 0; c < m.cols; ++c) w.value()[r * m.cols + c] = m.scale[r] * static_cast<float>(m.level[r * m.cols + c]);
}

// ---- file writing and bounds-checked reading ----

template <typename T>
void put(std::ofstream& f, const T* v, size_t n) {
  f.write(reinterpret_cast<const char*>(v), static_cast<std::streamsize>(n * sizeof(T)));
}
void put_i32(std::ofstream& f, int64_t v) {
  const int32_t x = static_cast<int32_t>(v);
  put(f, &x, 1);
}
void put_floats(std::ofstream& f, const std::vector<float>& v) {
  put_i32(f, static_cast<int64_t>(v.size()));
  put(f, v.data(), v.size());
}

struct Reader {
  std::string path;
  std::vector<char> bytes;
  size_t pos = 0;

  void need(int64_t n, const std::string& what) {
    require(n >= 0 && static_cast<uint64_t>(n) <= bytes.size() - pos,
            path + ": " + what + ": needs " + std::to_string(n) + " bytes at offset " + std::to_string(pos) + ", file has " +
                std::to_string(bytes.size()));
  }
  template <typename T>
  std::vector<T> get(int64_t count, const std::string& what) {
    require(count >= 0 && count <= kMaxElements, path + ": " + what + ": bad element count " + std::to_string(count));
    need(count * static_cast<int64_t>(sizeof(T)), what);
    std::vector<T> v(static_cast<size_t>(count));
    if (count > 0) std::memcpy(v.data(), bytes.data() + pos, static_cast<size_t>(count) * sizeof(T));
    pos += static_cast<size_t>(count) * sizeof(T);
    return v;
  }
  int64_t i32(const std::string& what) { return get<int32_t>(1, what)[0]; }
  int64_t dim(const std::string& what, int64_t lo) {
    const int64_t v = i32(what);
    require(v >= lo && v <= kMaxDim, path + ": " + what + ": expected " + std::to_string(lo) + ".." + std::to_string(kMaxDim) +
                                         ", got " + std::to_string(v));
    return v;
  }
  std::vector<float> floats(int64_t expected, const std::string& what) {
    const int64_t n = i32(what + " count");
    require(n == expected, path + ": " + what + ": expected " + std::to_string(expected) + " values, got " + std::to_string(n));
    return get<float>(n, what);
  }
};

Int8Population read_population(Reader& r, int64_t size, bool cuba, const std::string& what) {
  Int8Population p;
  p.beta = r.floats(size, what + " beta");
  p.threshold = r.floats(size, what + " threshold");
  p.alpha = r.floats(cuba ? size : 0, what + " alpha");
  for (int64_t i = 0; i < size; ++i) {
    require(p.beta[i] >= 0.0f && p.beta[i] <= 1.0f, r.path + ": " + what + " beta must be in [0, 1]");
    require(std::isfinite(p.threshold[i]) && p.threshold[i] > 0.0f, r.path + ": " + what + " threshold must be positive");
    if (cuba) require(p.alpha[i] >= 0.0f && p.alpha[i] <= 1.0f, r.path + ": " + what + " alpha must be in [0, 1]");
  }
  return p;
}

// rows must be `rows` (or 0 when the term may be off), cols must be `cols`.
Int8Matrix read_matrix(Reader& r, int64_t rows, int64_t cols, bool optional, const std::string& what) {
  Int8Matrix m;
  m.rows = r.i32(what + " rows");
  m.cols = r.i32(what + " cols");
  if (optional && m.rows == 0) return m;
  require(m.rows == rows && m.cols == cols, r.path + ": " + what + ": expected [" + std::to_string(rows) + ", " +
                                                std::to_string(cols) + "], got [" + std::to_string(m.rows) + ", " +
                                                std::to_string(m.cols) + "]");
  const int64_t n = rows * cols;
  require(n <= kMaxElements, r.path + ": " + what + ": too many elements");
  const uint8_t layout = r.get<uint8_t>(1, what + " layout")[0];
  require(layout <= 1, r.path + ": " + what + " layout: expected 0 (dense) or 1 (sparse), got " + std::to_string(layout));
  m.sparse = layout == 1;
  m.scale = r.get<float>(rows, what + " scales");
  for (float s : m.scale) require(std::isfinite(s) && s >= 0.0f, r.path + ": " + what + ": scales must be finite and >= 0");
  if (!m.sparse) {
    m.level = r.get<int8_t>(n, what + " levels");
  } else {
    const std::vector<uint8_t> mask = r.get<uint8_t>((n + 7) / 8, what + " bitmask");
    int64_t nonzero = 0;
    for (int64_t i = 0; i < n; ++i) nonzero += (mask[i / 8] >> (i % 8)) & 1;
    const std::vector<int8_t> values = r.get<int8_t>(nonzero, what + " nonzero levels");
    m.level.assign(static_cast<size_t>(n), 0);
    int64_t k = 0;
    for (int64_t i = 0; i < n; ++i)
      if ((mask[i / 8] >> (i % 8)) & 1) m.level[i] = values[k++];
  }
  for (int8_t v : m.level) require(v >= -127, r.path + ": " + what + ": int8 levels must be in [-127, 127]");
  return m;
}

void write_matrix(std::ofstream& f, const Int8Matrix& m) {
  put_i32(f, m.rows);
  put_i32(f, m.cols);
  if (m.rows == 0) return;
  const uint8_t layout = m.sparse ? 1 : 0;
  put(f, &layout, 1);
  put(f, m.scale.data(), m.scale.size());
  if (!m.sparse) {
    put(f, m.level.data(), m.level.size());
    return;
  }
  std::vector<uint8_t> mask(static_cast<size_t>((m.level.size() + 7) / 8), 0);
  std::vector<int8_t> values;
  for (size_t i = 0; i < m.level.size(); ++i)
    if (m.level[i] != 0) {
      mask[i / 8] |= static_cast<uint8_t>(1u << (i % 8));
      values.push_back(m.level[i]);
    }
  put(f, mask.data(), mask.size());
  put(f, values.data(), values.size());
}

// ---- runtime ----

// Row r of m times the raw float input x: the int8 levels meet x in float, one scale at the end.
float dot_input(const Int8Matrix& m, int64_t r, const float* x) {
  float acc = 0.0f;
  const int8_t* w = m.level.data() + r * m.cols;
  for (int64_t j = 0; j < m.cols; ++j) acc += static_cast<float>(w[j]) * x[j];
  return m.scale[r] * acc;
}

// Row r of m times a spike vector given by the indices that fired: an int32 sum of int8 levels.
float dot_spikes(const Int8Matrix& m, int64_t r, const std::vector<int32_t>& fired) {
  int32_t acc = 0;
  const int8_t* w = m.level.data() + r * m.cols;
  for (int32_t j : fired) acc += w[j];
  return m.scale[r] * static_cast<float>(acc);
}

// One step of a population, the arithmetic of lmu_core's pop_forward (kernels/lif.h semantics).
void neuron_step(const Int8Population& p, bool cuba, int reset, const std::vector<float>& cur, std::vector<float>& mem,
                 std::vector<float>& syn, std::vector<int32_t>& fired) {
  fired.clear();
  for (size_t i = 0; i < cur.size(); ++i) {
    const float b = p.beta[i], th = p.threshold[i], up = mem[i];
    const bool was = up > th;
    float u;
    if (cuba) {
      const float c = p.alpha[i] * syn[i] + cur[i];
      u = b * up + c;
      if (was && reset == 0) u = u - th;
      if (was && reset == 1) u = 0.0f;
      syn[i] = c;
    } else if (reset == 1) {
      u = b * (was ? 0.0f : up) + cur[i];
    } else {
      u = b * up + cur[i];
      if (reset == 0 && was) u = u - th;
    }
    mem[i] = u;
    if (u > th) fired.push_back(static_cast<int32_t>(i));
  }
}

}  // namespace

Int8L2mu export_int8(L2mu& model) {
  const L2muConfig& c = model.config;
  require(c.encoder == "plain", "l2mu int8 export: only the plain encoder is supported, got '" + c.encoder + "'");
  require(c.readout == "spike_count", "l2mu int8 export: only the spike_count readout is supported, got '" + c.readout + "'");
  require(c.batch_first, "l2mu int8 export: the model must be batch_first");
  Int8L2mu q;
  q.in = c.in;
  q.memory_size = c.memory_size;
  q.order = c.order;
  q.hidden = c.hidden;
  q.out = c.out;
  q.cuba = c.neuron == "cuba_lif";
  q.reset = reset_code(snn::parse_reset(c.reset));
  const int64_t d = c.order, M = c.memory_size;
  const double theta = 1.0 / static_cast<double>(model.weights.theta_inv.value()[0]);
  const LmuMatrices disc = parse_discretizer(c.discretizer) == Discretizer::zoh ? discretize_zoh(c.order, theta)
                                                                                 : discretize_euler(c.order, theta);
  q.E.resize(static_cast<size_t>(d * d));
  q.B.resize(static_cast<size_t>(d));
  for (int64_t j = 0; j < d; ++j) {
    q.B[j] = static_cast<float>(disc.B[j]);
    for (int64_t l = 0; l < d; ++l) q.E[j * d + l] = static_cast<float>(c.transpose_a ? disc.A[l * d + j] : disc.A[j * d + l]);
  }
  q.u = export_population(model.u, M, q.cuba, "u");
  q.m = export_population(model.m, M * d, q.cuba, "m");
  q.h = export_population(model.h, c.hidden, q.cuba, "h");
  q.o = export_population(model.out_pop, c.out, q.cuba, "out");
  const LmuWeights& w = model.weights;
  q.e_x = export_matrix(w.e_x);
  q.e_h = export_matrix(w.e_h);
  q.e_m = export_matrix(w.e_m);
  q.W_x = export_matrix(w.W_x);
  q.W_h = export_matrix(w.W_h);
  q.W_m = export_matrix(w.W_m);
  q.W_o = export_matrix(model.out_weight);
  q.out_bias.assign(model.out_bias.value().data(), model.out_bias.value().data() + c.out);
  return q;
}

void load_int8_weights(L2mu& model, const Int8L2mu& q) {
  LmuWeights& w = model.weights;
  import_matrix(w.e_x, q.e_x, "e_x");
  import_matrix(w.e_h, q.e_h, "e_h");
  import_matrix(w.e_m, q.e_m, "e_m");
  import_matrix(w.W_x, q.W_x, "W_x");
  import_matrix(w.W_h, q.W_h, "W_h");
  import_matrix(w.W_m, q.W_m, "W_m");
  import_matrix(model.out_weight, q.W_o, "out.weight");
}

void write_int8_l2mu(const std::string& path, const Int8L2mu& q) {
  std::ofstream f(path, std::ios::binary);
  require(f.good(), path + ": cannot open for writing");
  put(f, kMagic, 8);
  put(f, &kVersion, 1);
  for (int64_t v : {int64_t{q.in}, int64_t{q.memory_size}, int64_t{q.order}, int64_t{q.hidden}, int64_t{q.out},
                    int64_t{q.cuba ? 1 : 0}, int64_t{q.reset}})
    put_i32(f, v);
  put(f, q.E.data(), q.E.size());
  put(f, q.B.data(), q.B.size());
  for (const Int8Population* p : {&q.u, &q.m, &q.h, &q.o}) {
    put_floats(f, p->beta);
    put_floats(f, p->threshold);
    put_floats(f, p->alpha);
  }
  for (const Int8Matrix* m : {&q.e_x, &q.e_h, &q.e_m, &q.W_x, &q.W_h, &q.W_m, &q.W_o}) write_matrix(f, *m);
  put(f, q.out_bias.data(), q.out_bias.size());
  require(f.good(), path + ": write failed");
}

Int8L2mu read_int8_l2mu(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  require(f.good(), path + ": cannot open");
  Reader r;
  r.path = path;
  r.bytes.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  r.need(12, "header");
  require(std::memcmp(r.bytes.data(), kMagic, 8) == 0, path + ": not an int8 L2MU file (magic 'FL2MU8')");
  r.pos = 8;
  const uint32_t version = r.get<uint32_t>(1, "version")[0];
  require(version == kVersion, path + ": version: expected 1, got " + std::to_string(version));
  Int8L2mu q;
  q.in = static_cast<int>(r.dim("in", 1));
  q.memory_size = static_cast<int>(r.dim("memory_size", 1));
  q.order = static_cast<int>(r.dim("order", 1));
  require(q.order <= 1024, path + ": order must be at most 1024");
  q.hidden = static_cast<int>(r.dim("hidden", 1));
  q.out = static_cast<int>(r.dim("out", 1));
  const int64_t neuron = r.i32("neuron");
  require(neuron == 0 || neuron == 1, path + ": neuron: expected 0 (lif) or 1 (cuba_lif), got " + std::to_string(neuron));
  q.cuba = neuron == 1;
  q.reset = static_cast<int>(r.i32("reset"));
  require(q.reset >= 0 && q.reset <= 2, path + ": reset: expected 0, 1 or 2, got " + std::to_string(q.reset));
  const int64_t M = q.memory_size, d = q.order, H = q.hidden, Md = M * d;
  require(Md <= kMaxDim, path + ": memory_size x order must be at most " + std::to_string(kMaxDim));
  q.E = r.get<float>(d * d, "E");
  q.B = r.get<float>(d, "B");
  q.u = read_population(r, M, q.cuba, "u");
  q.m = read_population(r, Md, q.cuba, "m");
  q.h = read_population(r, H, q.cuba, "h");
  q.o = read_population(r, q.out, q.cuba, "out");
  q.e_x = read_matrix(r, M, q.in, false, "e_x");
  q.e_h = read_matrix(r, M, H, true, "e_h");
  q.e_m = read_matrix(r, M, Md, true, "e_m");
  q.W_x = read_matrix(r, H, q.in, true, "W_x");
  q.W_h = read_matrix(r, H, H, true, "W_h");
  q.W_m = read_matrix(r, H, Md, false, "W_m");
  q.W_o = read_matrix(r, q.out, H, false, "out.weight");
  q.out_bias = r.get<float>(q.out, "out bias");
  require(r.pos == r.bytes.size(), path + ": " + std::to_string(r.bytes.size() - r.pos) + " trailing bytes after the model");
  return q;
}

Tensor run_int8(const Int8L2mu& q, const Tensor& x) {
  require(x.rank() == 3 && x.dim(2) == q.in,
          "l2mu int8 run: input must be [N, T, " + std::to_string(q.in) + "], got " + shape_str(x.shape()));
  const int64_t N = x.dim(0), T = x.dim(1), F = q.in, M = q.memory_size, d = q.order, H = q.hidden, Md = M * d;
  Tensor counts = Tensor::zeros({N, q.out});
  std::vector<float> cu(M), cm(Md), ch(H), co(q.out);
  std::vector<float> mem_u(M), syn_u(M), mem_m(Md), syn_m(Md), mem_h(H), syn_h(H), mem_o(q.out), syn_o(q.out);
  std::vector<float> s_m_prev(Md), s_u(M);
  std::vector<int32_t> fired_u, fired_m, fired_m_prev, fired_h, fired_h_prev, fired_o;
  for (int64_t n = 0; n < N; ++n) {
    for (std::vector<float>* v : {&mem_u, &syn_u, &mem_m, &syn_m, &mem_h, &syn_h, &mem_o, &syn_o, &s_m_prev})
      std::fill(v->begin(), v->end(), 0.0f);
    fired_m_prev.clear();
    fired_h_prev.clear();
    for (int64_t t = 0; t < T; ++t) {
      const float* xt = x.data() + (n * T + t) * F;
      for (int64_t i = 0; i < M; ++i) {
        float c = dot_input(q.e_x, i, xt);
        if (q.e_h.rows) c += dot_spikes(q.e_h, i, fired_h_prev);
        if (q.e_m.rows) c += dot_spikes(q.e_m, i, fired_m_prev);
        cu[i] = c;
      }
      neuron_step(q.u, q.cuba, q.reset, cu, mem_u, syn_u, fired_u);
      std::fill(s_u.begin(), s_u.end(), 0.0f);
      for (int32_t i : fired_u) s_u[i] = 1.0f;
      // The memory's d x d recurrence stays in float: Ā and B̄ are fixed, not quantized weights.
      for (int64_t r = 0; r < M; ++r)
        for (int64_t j = 0; j < d; ++j) {
          float acc = 0.0f;
          if (t > 0)
            for (int64_t l = 0; l < d; ++l) acc += q.E[j * d + l] * s_m_prev[r * d + l];
          cm[r * d + j] = acc + q.B[j] * s_u[r];
        }
      neuron_step(q.m, q.cuba, q.reset, cm, mem_m, syn_m, fired_m);
      for (int64_t i = 0; i < H; ++i) {
        float c = q.W_x.rows ? dot_input(q.W_x, i, xt) : 0.0f;
        if (q.W_h.rows) c += dot_spikes(q.W_h, i, fired_h_prev);
        ch[i] = c + dot_spikes(q.W_m, i, fired_m);
      }
      neuron_step(q.h, q.cuba, q.reset, ch, mem_h, syn_h, fired_h);
      for (int64_t k = 0; k < q.out; ++k) co[k] = dot_spikes(q.W_o, k, fired_h) + q.out_bias[k];
      neuron_step(q.o, q.cuba, q.reset, co, mem_o, syn_o, fired_o);
      for (int32_t k : fired_o) counts[n * q.out + k] += 1.0f;
      std::fill(s_m_prev.begin(), s_m_prev.end(), 0.0f);
      for (int32_t i : fired_m) s_m_prev[i] = 1.0f;
      fired_m_prev.swap(fired_m);
      fired_h_prev.swap(fired_h);
    }
  }
  return counts;
}

}  // namespace frugal::lmu
