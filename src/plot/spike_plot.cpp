#include "frugal/plot/spike_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "frugal/core/error.h"

namespace frugal::plot {

namespace {

// Tableau 10, readable on white.
const Rgb kPalette[] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44}, {214, 39, 40}, {148, 103, 189}, {140, 86, 75}};

void line(Image& img, int x0, int y0, int x1, int y1, Rgb c, bool dashed) {
  // Bresenham; a dashed line draws 4 pixels of every 8.
  const int dx = std::abs(x1 - x0), dy = -std::abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
  int err = dx + dy;
  for (int i = 0;; ++i) {
    if (!dashed || i % 8 < 4) img.set(x0, y0, c);
    if (x0 == x1 && y0 == y1) break;
    const int e2 = 2 * err;
    if (e2 >= dy) {
      err += dy;
      x0 += sx;
    }
    if (e2 <= dx) {
      err += dx;
      y0 += sy;
    }
  }
}

void gap_rows(Image& img, int top) {
  for (int y = top; y < top + kRasterGap; ++y)
    for (int x = 0; x < img.width; ++x) img.set(x, y, kGray);
}

}  // namespace

Raster draw_raster(const std::vector<snn::LayerTrace>& traces) {
  require(!traces.empty(), "plot: the model has no spiking layers to draw");
  int64_t steps = 0, height = 0;
  for (const snn::LayerTrace& tr : traces) {
    steps = std::max(steps, tr.steps);
    height += std::min(tr.neurons, kRasterMaxRows);
  }
  height += kRasterGap * static_cast<int64_t>(traces.size() - 1);
  require(steps >= 1 && steps <= 4096, "plot: raster needs 1..4096 time steps, got " + std::to_string(steps));
  Raster r{Image(1, 1, kWhite), 1, {}, {}};
  r.step_width = static_cast<int>(std::clamp<int64_t>(512 / steps, 1, 16));
  r.image = Image(static_cast<int>(steps) * r.step_width, static_cast<int>(height), kWhite);
  int top = 0;
  for (size_t li = 0; li < traces.size(); ++li) {
    const snn::LayerTrace& tr = traces[li];
    if (li > 0) {
      gap_rows(r.image, top);
      top += kRasterGap;
    }
    const int64_t rows = std::min(tr.neurons, kRasterMaxRows);
    r.top.push_back(top);
    r.rows.push_back(rows);
    for (int64_t t = 0; t < tr.steps; ++t)
      for (int64_t n = 0; n < rows; ++n) {
        if (tr.spikes[static_cast<size_t>(t * tr.neurons + n)] == 0.0f) continue;
        for (int dx = 0; dx < r.step_width; ++dx)
          r.image.set(static_cast<int>(t) * r.step_width + dx, top + static_cast<int>(n), kBlack);
      }
    top += static_cast<int>(rows);
  }
  return r;
}

Image draw_membranes(const std::vector<snn::LayerTrace>& traces) {
  std::vector<const snn::LayerTrace*> panels;
  for (const snn::LayerTrace& tr : traces)
    if (!tr.membranes.empty()) panels.push_back(&tr);
  require(!panels.empty(), "plot: the model has no layer with membranes to draw");
  const int n = static_cast<int>(panels.size());
  Image img(kPanelWidth, n * kPanelHeight + (n - 1) * kRasterGap, kWhite);
  const int margin = 8;
  for (int p = 0; p < n; ++p) {
    const snn::LayerTrace& tr = *panels[static_cast<size_t>(p)];
    const int top = p * (kPanelHeight + kRasterGap);
    if (p > 0) gap_rows(img, top - kRasterGap);
    // Most active neurons first; never-firing ones by their highest membrane.
    std::vector<int64_t> order(static_cast<size_t>(tr.neurons));
    std::vector<float> count(order.size(), 0.0f), peak(order.size(), -INFINITY);
    for (int64_t i = 0; i < tr.neurons; ++i) {
      order[static_cast<size_t>(i)] = i;
      for (int64_t t = 0; t < tr.steps; ++t) {
        const size_t k = static_cast<size_t>(t * tr.neurons + i);
        count[static_cast<size_t>(i)] += tr.spikes[k] != 0.0f;
        peak[static_cast<size_t>(i)] = std::max(peak[static_cast<size_t>(i)], tr.membranes[k]);
      }
    }
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
      const size_t i = static_cast<size_t>(a), j = static_cast<size_t>(b);
      return count[i] != count[j] ? count[i] > count[j] : peak[i] > peak[j];
    });
    order.resize(static_cast<size_t>(std::min<int64_t>(tr.neurons, kTracesPerPanel)));
    auto thr = [&](int64_t i) { return tr.threshold[tr.threshold.size() == 1 ? 0 : static_cast<size_t>(i)]; };
    float lo = 0.0f, hi = 0.0f;
    for (int64_t i : order) {
      lo = std::min(lo, thr(i));
      hi = std::max(hi, thr(i));
      for (int64_t t = 0; t < tr.steps; ++t) {
        const float v = tr.membranes[static_cast<size_t>(t * tr.neurons + i)];
        if (!std::isfinite(v)) continue;
        lo = std::min(lo, v);
        hi = std::max(hi, v);
      }
    }
    if (hi - lo < 1e-6f) hi = lo + 1.0f;
    auto px = [&](int64_t t) {
      return tr.steps == 1 ? kPanelWidth / 2
                           : margin + static_cast<int>(t * (kPanelWidth - 2 * margin - 1) / (tr.steps - 1));
    };
    auto py = [&](float v) {
      const float f = (hi - std::clamp(v, lo, hi)) / (hi - lo);
      return top + margin + static_cast<int>(std::lround(f * static_cast<float>(kPanelHeight - 2 * margin - 1)));
    };
    line(img, margin, py(0.0f), kPanelWidth - margin - 1, py(0.0f), kGray, false);
    for (size_t k = 0; k < order.size(); ++k) {
      const int64_t i = order[k];
      const Rgb c = kPalette[k % (sizeof(kPalette) / sizeof(kPalette[0]))];
      line(img, margin, py(thr(i)), kPanelWidth - margin - 1, py(thr(i)), c, true);
      for (int64_t t = 0; t + 1 < tr.steps; ++t)
        line(img, px(t), py(tr.membranes[static_cast<size_t>(t * tr.neurons + i)]), px(t + 1),
             py(tr.membranes[static_cast<size_t>((t + 1) * tr.neurons + i)]), c, false);
      if (tr.steps == 1) img.set(px(0), py(tr.membranes[static_cast<size_t>(i)]), c);
    }
  }
  return img;
}

}  // namespace frugal::plot
