// Metrics on prometheus-cpp: the registry, callback metrics and the text exposition.

#include "common/metrics.h"

#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <map>
#include <mutex>

namespace skua::common {
namespace {

prometheus::Labels ToPrometheus(const Labels& labels) {
  return prometheus::Labels(labels.begin(), labels.end());
}

// Gauges and counters whose values are computed when scraped; prometheus-cpp has none, so they
// are a Collectable of their own next to the registry.
class CallbackMetrics final : public prometheus::Collectable {
 public:
  void Add(std::string_view name, std::string_view help, prometheus::MetricType type,
           const Labels& labels, std::function<double()> fn) {
    std::lock_guard lock(mu_);
    auto& family = families_[std::string(name)];
    family.help = help;
    family.type = type;
    family.series.emplace_back(labels, std::move(fn));
  }

  std::vector<prometheus::MetricFamily> Collect() const override {
    std::lock_guard lock(mu_);
    std::vector<prometheus::MetricFamily> out;
    for (const auto& [name, family] : families_) {
      prometheus::MetricFamily f;
      f.name = name;
      f.help = family.help;
      f.type = family.type;
      for (const auto& [labels, fn] : family.series) {
        prometheus::ClientMetric m;
        for (const auto& [k, v] : ToPrometheus(labels)) m.label.push_back({k, v});
        double value = fn();
        if (family.type == prometheus::MetricType::Counter) {
          m.counter.value = value;
        } else {
          m.gauge.value = value;
        }
        f.metric.push_back(std::move(m));
      }
      out.push_back(std::move(f));
    }
    return out;
  }

 private:
  struct Family {
    std::string help;
    prometheus::MetricType type;
    std::vector<std::pair<Labels, std::function<double()>>> series;
  };
  mutable std::mutex mu_;
  std::map<std::string, Family> families_;  // guarded by mu_
};

// Skua's handle for each metric prometheus-cpp made, created with it.
template <typename Handle, typename Metric>
Handle& HandleOf(std::map<const void*, std::unique_ptr<Handle>>& handles, Metric& metric) {
  auto& h = handles[&metric];
  if (h == nullptr) h = std::make_unique<Handle>(metric);
  return *h;
}

}  // namespace

void Counter::Increment(uint64_t n) { c_.Increment(static_cast<double>(n)); }
void Gauge::Set(int64_t v) { g_.Set(static_cast<double>(v)); }
void Histogram::Observe(double v) { h_.Observe(v); }

struct MetricsRegistry::Impl {
  std::mutex mu;
  prometheus::Registry registry;
  CallbackMetrics callbacks;
  // Families by name, and the handles of their metrics; guarded by mu.
  std::map<std::string, prometheus::Family<prometheus::Counter>*, std::less<>> counters;
  std::map<std::string, prometheus::Family<prometheus::Gauge>*, std::less<>> gauges;
  std::map<std::string, prometheus::Family<prometheus::Histogram>*, std::less<>> histograms;
  std::map<const void*, std::unique_ptr<Counter>> counter_handles;
  std::map<const void*, std::unique_ptr<Gauge>> gauge_handles;
  std::map<const void*, std::unique_ptr<Histogram>> histogram_handles;

  template <typename Builder, typename Metric>
  prometheus::Family<Metric>& FamilyLocked(
      std::map<std::string, prometheus::Family<Metric>*, std::less<>>& families,
      std::string_view name, std::string_view help, Builder builder) {
    auto it = families.find(name);
    if (it == families.end()) {
      auto& family = builder.Name(std::string(name)).Help(std::string(help)).Register(registry);
      it = families.emplace(std::string(name), &family).first;
    }
    return *it->second;
  }
};

MetricsRegistry::MetricsRegistry() : impl_(std::make_unique<Impl>()) {}
MetricsRegistry::~MetricsRegistry() = default;

Counter& MetricsRegistry::GetCounter(std::string_view name, std::string_view help,
                                     const Labels& labels) {
  std::lock_guard lock(impl_->mu);
  auto& family = impl_->FamilyLocked(impl_->counters, name, help, prometheus::BuildCounter());
  return HandleOf(impl_->counter_handles, family.Add(ToPrometheus(labels)));
}

Gauge& MetricsRegistry::GetGauge(std::string_view name, std::string_view help,
                                 const Labels& labels) {
  std::lock_guard lock(impl_->mu);
  auto& family = impl_->FamilyLocked(impl_->gauges, name, help, prometheus::BuildGauge());
  return HandleOf(impl_->gauge_handles, family.Add(ToPrometheus(labels)));
}

Histogram& MetricsRegistry::GetHistogram(std::string_view name, std::string_view help,
                                         const std::vector<double>& bounds, const Labels& labels) {
  std::lock_guard lock(impl_->mu);
  auto& family = impl_->FamilyLocked(impl_->histograms, name, help, prometheus::BuildHistogram());
  return HandleOf(impl_->histogram_handles, family.Add(ToPrometheus(labels), bounds));
}

void MetricsRegistry::AddCallbackGauge(std::string_view name, std::string_view help,
                                       const Labels& labels, std::function<double()> fn) {
  impl_->callbacks.Add(name, help, prometheus::MetricType::Gauge, labels, std::move(fn));
}

void MetricsRegistry::AddCallbackCounter(std::string_view name, std::string_view help,
                                         const Labels& labels, std::function<double()> fn) {
  impl_->callbacks.Add(name, help, prometheus::MetricType::Counter, labels, std::move(fn));
}

std::string MetricsRegistry::RenderPrometheus() const {
  std::vector<prometheus::MetricFamily> families = impl_->registry.Collect();
  for (auto& f : impl_->callbacks.Collect()) families.push_back(std::move(f));
  std::stable_sort(families.begin(), families.end(),
                   [](const auto& a, const auto& b) { return a.name < b.name; });
  return prometheus::TextSerializer().Serialize(families);
}

const std::vector<double>& LatencyBucketsSeconds() {
  static const std::vector<double> kBuckets = {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                               0.005,   0.01,   0.025,   0.05,   0.1,   0.25,
                                               0.5,     1,      2.5,     5,      10};
  return kBuckets;
}

}  // namespace skua::common
