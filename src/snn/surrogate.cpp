#include "frugal/snn/surrogate.h"

#include "frugal/core/error.h"

namespace frugal::snn {

float default_surrogate_param(SurrogateKind kind) {
  switch (kind) {
    case SurrogateKind::atan: return 2.0f;
    case SurrogateKind::fast_sigmoid: return 25.0f;
    case SurrogateKind::sigmoid: return 25.0f;
    case SurrogateKind::triangle: return 1.0f;
  }
  return 0.0f;
}

std::string surrogate_name(SurrogateKind kind) {
  switch (kind) {
    case SurrogateKind::atan: return "atan";
    case SurrogateKind::fast_sigmoid: return "fast_sigmoid";
    case SurrogateKind::sigmoid: return "sigmoid";
    case SurrogateKind::triangle: return "triangle";
  }
  return "";
}

Surrogate make_surrogate(const std::string& name, float param) {
  Surrogate s;
  if (name == "atan") s.kind = SurrogateKind::atan;
  else if (name == "fast_sigmoid") s.kind = SurrogateKind::fast_sigmoid;
  else if (name == "sigmoid") s.kind = SurrogateKind::sigmoid;
  else if (name == "triangle") s.kind = SurrogateKind::triangle;
  else throw Error("surrogate: unknown name '" + name + "', expected atan, fast_sigmoid, sigmoid or triangle");
  s.param = std::isnan(param) ? default_surrogate_param(s.kind) : param;
  require(std::isfinite(s.param) && s.param > 0.0f,
          "surrogate " + name + ": parameter must be positive and finite, got " + std::to_string(param));
  return s;
}

}  // namespace frugal::snn
