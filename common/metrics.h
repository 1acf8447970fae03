// The process's metrics: counters, gauges and histograms in a prometheus-cpp registry, rendered
// by its text serializer (Prometheus exposition format 0.0.4). prometheus-cpp's types stay in
// metrics.cc: the rest of Skua sees the small handles below.
//
// Thread-safety: registration takes a lock; updating a metric does not. References returned by
// Get* stay valid for the registry's lifetime. A name is one family of one type; asking for it
// as another type is a programming error (it throws std::invalid_argument).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace prometheus {
class Counter;
class Gauge;
class Histogram;
}  // namespace prometheus

namespace skua::common {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  explicit Counter(prometheus::Counter& c) : c_(c) {}
  void Increment(uint64_t n = 1);

 private:
  prometheus::Counter& c_;
};

class Gauge {
 public:
  explicit Gauge(prometheus::Gauge& g) : g_(g) {}
  void Set(int64_t v);

 private:
  prometheus::Gauge& g_;
};

// Cumulative histogram with fixed upper bounds (plus +Inf).
class Histogram {
 public:
  explicit Histogram(prometheus::Histogram& h) : h_(h) {}
  void Observe(double v);

 private:
  prometheus::Histogram& h_;
};

class MetricsRegistry {
 public:
  MetricsRegistry();
  ~MetricsRegistry();
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  Counter& GetCounter(std::string_view name, std::string_view help, const Labels& labels = {});
  Gauge& GetGauge(std::string_view name, std::string_view help, const Labels& labels = {});
  Histogram& GetHistogram(std::string_view name, std::string_view help,
                          const std::vector<double>& bounds, const Labels& labels = {});
  // A gauge whose value is computed at scrape time. `fn` must stay callable for the registry's
  // lifetime and must be thread-safe.
  void AddCallbackGauge(std::string_view name, std::string_view help, const Labels& labels,
                        std::function<double()> fn);
  // As AddCallbackGauge, for a value that only grows (exposed as a counter).
  void AddCallbackCounter(std::string_view name, std::string_view help, const Labels& labels,
                          std::function<double()> fn);

  // Every family, sorted by name.
  std::string RenderPrometheus() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Default latency buckets in seconds, 50 µs .. 10 s.
const std::vector<double>& LatencyBucketsSeconds();

}  // namespace skua::common
