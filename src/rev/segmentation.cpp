// Dice + cross-entropy loss and the region scores (Dice, 95th-percentile Hausdorff distance).
#include "frugal/rev/segmentation.h"

#include <algorithm>
#include <cmath>

#include "frugal/core/error.h"

namespace frugal::rev {

namespace {
// Rows: WT, TC, ET; columns: classes 0..3.
constexpr bool kMembership[kRegions][4] = {{false, true, true, true}, {false, true, false, true}, {false, false, false, true}};
constexpr double kSmooth = 1.0;
}  // namespace

const char* region_name(int region) {
  static const char* names[kRegions] = {"WT", "TC", "ET"};
  return names[region];
}

bool class_in_region(int cls, int region) { return kMembership[region][cls]; }

autograd::Var dice_ce_loss(const autograd::Var& logits, const std::vector<uint8_t>& labels) {
  const Shape& s = logits.shape();
  require(s.size() == 5 && s[1] == 4, "dice_ce_loss: logits must be [N, 4, D, H, W], got " + shape_str(s));
  int64_t n = s[0], k = 4, vox = s[2] * s[3] * s[4], total = n * vox;
  require(static_cast<int64_t>(labels.size()) == total,
          "dice_ce_loss: " + std::to_string(labels.size()) + " labels for " + std::to_string(total) + " voxels");
  for (uint8_t l : labels) require(l < 4, "dice_ce_loss: label " + std::to_string(l) + " outside 0..3");
  const float* lp = logits.value().data();
  Tensor prob = Tensor::empty(s);
  double ce = 0;
  double inter[kRegions] = {0, 0, 0}, psum[kRegions] = {0, 0, 0}, tsum[kRegions] = {0, 0, 0};
  for (int64_t i = 0; i < n; ++i)
    for (int64_t v = 0; v < vox; ++v) {
      float mx = lp[(i * k) * vox + v];
      for (int64_t c = 1; c < k; ++c) mx = std::max(mx, lp[(i * k + c) * vox + v]);
      double z = 0;
      for (int64_t c = 0; c < k; ++c) z += std::exp(static_cast<double>(lp[(i * k + c) * vox + v] - mx));
      for (int64_t c = 0; c < k; ++c)
        prob[(i * k + c) * vox + v] = static_cast<float>(std::exp(static_cast<double>(lp[(i * k + c) * vox + v] - mx)) / z);
      int label = labels[static_cast<size_t>(i * vox + v)];
      ce -= std::log(std::max(1e-30, static_cast<double>(prob[(i * k + label) * vox + v])));
      for (int r = 0; r < kRegions; ++r) {
        double p = 0;
        for (int64_t c = 0; c < k; ++c)
          if (kMembership[r][c]) p += prob[(i * k + c) * vox + v];
        double t = kMembership[r][label] ? 1.0 : 0.0;
        inter[r] += p * t;
        psum[r] += p;
        tsum[r] += t;
      }
    }
  double dice_mean = 0;
  for (int r = 0; r < kRegions; ++r) dice_mean += (2 * inter[r] + kSmooth) / (psum[r] + tsum[r] + kSmooth) / kRegions;
  float loss = static_cast<float>(ce / static_cast<double>(total) + 1.0 - dice_mean);
  std::vector<double> in(inter, inter + kRegions), ps(psum, psum + kRegions), ts(tsum, tsum + kRegions);
  return autograd::record(Tensor::full({1}, loss), {logits}, [logits, prob, labels, n, k, vox, total, in, ps, ts](
                                                                 const Tensor& dloss) {
    Tensor dx = Tensor::empty(logits.shape());
    double scale = dloss[0];
    for (int64_t i = 0; i < n; ++i)
      for (int64_t v = 0; v < vox; ++v) {
        int label = labels[static_cast<size_t>(i * vox + v)];
        // d loss / d prob_c from the Dice term: each region's P is a sum of class probabilities.
        double g[4] = {0, 0, 0, 0};
        for (int r = 0; r < kRegions; ++r) {
          double t = kMembership[r][label] ? 1.0 : 0.0, u = ps[r] + ts[r] + kSmooth;
          double d_dice = (2 * t * u - (2 * in[r] + kSmooth)) / (u * u);
          for (int64_t c = 0; c < k; ++c)
            if (kMembership[r][c]) g[c] -= d_dice / kRegions;
        }
        double pg = 0;
        for (int64_t c = 0; c < k; ++c) pg += prob[(i * k + c) * vox + v] * g[c];
        for (int64_t c = 0; c < k; ++c) {
          double p = prob[(i * k + c) * vox + v];
          double d = p * (g[c] - pg) + (p - (c == label ? 1.0 : 0.0)) / static_cast<double>(total);
          dx[(i * k + c) * vox + v] = static_cast<float>(scale * d);
        }
      }
    logits.add_grad(dx);
  });
}

std::vector<uint8_t> argmax_classes(const Tensor& logits, int64_t n) {
  const Shape& s = logits.shape();
  require(s.size() == 5 && n >= 0 && n < s[0], "argmax_classes: logits must be [N, C, D, H, W] and n < N");
  int64_t k = s[1], vox = s[2] * s[3] * s[4];
  std::vector<uint8_t> out(static_cast<size_t>(vox));
  const float* p = logits.data() + n * k * vox;
  for (int64_t v = 0; v < vox; ++v) {
    int64_t best = 0;
    for (int64_t c = 1; c < k; ++c)
      if (p[c * vox + v] > p[best * vox + v]) best = c;
    out[static_cast<size_t>(v)] = static_cast<uint8_t>(best);
  }
  return out;
}

namespace {
// Voxels of the mask with at least one 6-neighbour outside it (or on the volume's edge).
std::vector<int64_t> surface(const std::vector<bool>& mask, int64_t d, int64_t h, int64_t w) {
  std::vector<int64_t> out;
  for (int64_t z = 0; z < d; ++z)
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x) {
        int64_t i = (z * h + y) * w + x;
        if (!mask[static_cast<size_t>(i)]) continue;
        bool edge = z == 0 || y == 0 || x == 0 || z == d - 1 || y == h - 1 || x == w - 1 ||
                    !mask[static_cast<size_t>(i - 1)] || !mask[static_cast<size_t>(i + 1)] ||
                    !mask[static_cast<size_t>(i - w)] || !mask[static_cast<size_t>(i + w)] ||
                    !mask[static_cast<size_t>(i - h * w)] || !mask[static_cast<size_t>(i + h * w)];
        if (edge) out.push_back(i);
      }
  return out;
}

// For each point of a, the distance to the nearest point of b.
void nearest_distances(const std::vector<int64_t>& a, const std::vector<int64_t>& b, int64_t h, int64_t w,
                       std::vector<double>& out) {
  for (int64_t i : a) {
    int64_t z = i / (h * w), y = (i / w) % h, x = i % w;
    int64_t best = INT64_MAX;
    for (int64_t j : b) {
      int64_t dz = z - j / (h * w), dy = y - (j / w) % h, dx = x - j % w;
      best = std::min(best, dz * dz + dy * dy + dx * dx);
    }
    out.push_back(std::sqrt(static_cast<double>(best)));
  }
}
double percentile95(std::vector<double>& v) {
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(std::ceil(0.95 * static_cast<double>(v.size()))) - 1];
}
}  // namespace

RegionScores score_volume(const std::vector<uint8_t>& predicted, const std::vector<uint8_t>& truth, int64_t d,
                          int64_t h, int64_t w) {
  size_t vox = static_cast<size_t>(d * h * w);
  require(predicted.size() == vox && truth.size() == vox, "score_volume: class maps must have D*H*W voxels");
  RegionScores s;
  double diagonal = std::sqrt(static_cast<double>(d * d + h * h + w * w));
  for (int r = 0; r < kRegions; ++r) {
    std::vector<bool> pm(vox), tm(vox);
    int64_t inter = 0, np = 0, nt = 0;
    for (size_t v = 0; v < vox; ++v) {
      require(predicted[v] < 4 && truth[v] < 4, "score_volume: classes must be in 0..3");
      pm[v] = kMembership[r][predicted[v]];
      tm[v] = kMembership[r][truth[v]];
      inter += pm[v] && tm[v];
      np += pm[v];
      nt += tm[v];
    }
    s.dice[r] = np + nt == 0 ? 1.0 : 2.0 * static_cast<double>(inter) / static_cast<double>(np + nt);
    if (np == 0 && nt == 0) {
      s.hd95[r] = 0;
      continue;
    }
    if (np == 0 || nt == 0) {
      s.hd95[r] = diagonal;
      continue;
    }
    std::vector<int64_t> ps = surface(pm, d, h, w), ts = surface(tm, d, h, w);
    // MedPy's hd95: the larger of the two directed 95th-percentile surface distances.
    std::vector<double> a, b;
    nearest_distances(ps, ts, h, w, a);
    nearest_distances(ts, ps, h, w, b);
    s.hd95[r] = std::max(percentile95(a), percentile95(b));
  }
  return s;
}

}  // namespace frugal::rev
