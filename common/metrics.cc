#include "common/metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace skua::common {
namespace {

std::string EscapeLabelValue(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\' || c == '"') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// Renders `a="x",b="y"` (without braces); the map key of a series within its family.
std::string RenderLabels(const Labels& labels) {
  std::string out;
  for (const auto& [k, v] : labels) {
    if (!out.empty()) out.push_back(',');
    out += fmt::format("{}=\"{}\"", k, EscapeLabelValue(v));
  }
  return out;
}

std::string Braced(const std::string& labels, std::string_view extra = {}) {
  if (labels.empty() && extra.empty()) return "";
  if (labels.empty()) return fmt::format("{{{}}}", extra);
  if (extra.empty()) return fmt::format("{{{}}}", labels);
  return fmt::format("{{{},{}}}", labels, extra);
}

std::string FormatDouble(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", v);
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), buckets_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  std::sort(bounds_.begin(), bounds_.end());
  for (size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0);
}

void Histogram::Observe(double v) {
  size_t i = std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin();
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_micros_.fetch_add(static_cast<uint64_t>(std::max(0.0, v) * 1e6), std::memory_order_relaxed);
}

double Histogram::Sum() const { return sum_micros_.load(std::memory_order_relaxed) / 1e6; }

uint64_t Histogram::CumulativeCount(size_t i) const {
  uint64_t total = 0;
  for (size_t j = 0; j <= i && j <= bounds_.size(); ++j) {
    total += buckets_[j].load(std::memory_order_relaxed);
  }
  return total;
}

MetricsRegistry::Family& MetricsRegistry::FamilyLocked(std::string_view name, std::string_view help,
                                                       Type type) {
  auto it = families_.find(name);
  if (it == families_.end()) {
    it =
        families_.emplace(std::string(name), Family{type, std::string(help), {}, {}, {}, {}}).first;
  } else if (it->second.type != type) {
    // A programming error: one name registered with two types.
    throw std::logic_error(fmt::format("metric {} registered with two types", name));
  }
  return it->second;
}

Counter& MetricsRegistry::GetCounter(std::string_view name, std::string_view help,
                                     const Labels& labels) {
  std::lock_guard lock(mu_);
  auto& slot = FamilyLocked(name, help, Type::kCounter).counters[RenderLabels(labels)];
  if (!slot) slot = std::make_unique<Counter>();
  return *slot;
}

Gauge& MetricsRegistry::GetGauge(std::string_view name, std::string_view help,
                                 const Labels& labels) {
  std::lock_guard lock(mu_);
  auto& slot = FamilyLocked(name, help, Type::kGauge).gauges[RenderLabels(labels)];
  if (!slot) slot = std::make_unique<Gauge>();
  return *slot;
}

Histogram& MetricsRegistry::GetHistogram(std::string_view name, std::string_view help,
                                         const std::vector<double>& bounds, const Labels& labels) {
  std::lock_guard lock(mu_);
  auto& slot = FamilyLocked(name, help, Type::kHistogram).histograms[RenderLabels(labels)];
  if (!slot) slot = std::make_unique<Histogram>(bounds);
  return *slot;
}

void MetricsRegistry::AddCallbackGauge(std::string_view name, std::string_view help,
                                       const Labels& labels, std::function<double()> fn) {
  std::lock_guard lock(mu_);
  FamilyLocked(name, help, Type::kGauge).callbacks[RenderLabels(labels)] = std::move(fn);
}

void MetricsRegistry::AddCallbackCounter(std::string_view name, std::string_view help,
                                         const Labels& labels, std::function<double()> fn) {
  std::lock_guard lock(mu_);
  FamilyLocked(name, help, Type::kCounter).callbacks[RenderLabels(labels)] = std::move(fn);
}

std::string MetricsRegistry::RenderPrometheus() const {
  std::lock_guard lock(mu_);
  std::string out;
  for (const auto& [name, f] : families_) {
    static constexpr const char* kTypeNames[] = {"counter", "gauge", "histogram"};
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, f.help, name,
                       kTypeNames[static_cast<int>(f.type)]);
    for (const auto& [labels, c] : f.counters) {
      out += fmt::format("{}{} {}\n", name, Braced(labels), c->Value());
    }
    for (const auto& [labels, g] : f.gauges) {
      out += fmt::format("{}{} {}\n", name, Braced(labels), g->Value());
    }
    for (const auto& [labels, fn] : f.callbacks) {
      out += fmt::format("{}{} {}\n", name, Braced(labels), FormatDouble(fn()));
    }
    for (const auto& [labels, h] : f.histograms) {
      const auto& bounds = h->bounds();
      for (size_t i = 0; i <= bounds.size(); ++i) {
        std::string le = i < bounds.size() ? FormatDouble(bounds[i]) : "+Inf";
        out += fmt::format("{}_bucket{} {}\n", name, Braced(labels, fmt::format("le=\"{}\"", le)),
                           h->CumulativeCount(i));
      }
      out += fmt::format("{}_sum{} {}\n", name, Braced(labels), FormatDouble(h->Sum()));
      out += fmt::format("{}_count{} {}\n", name, Braced(labels), h->Count());
    }
  }
  return out;
}

const std::vector<double>& LatencyBucketsSeconds() {
  static const std::vector<double> kBuckets = {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                               0.005,   0.01,   0.025,   0.05,   0.1,   0.25,
                                               0.5,     1,      2.5,     5,      10};
  return kBuckets;
}

}  // namespace skua::common
