// The process's metrics: counters, gauges and histograms, rendered in the Prometheus text
// exposition format (version 0.0.4). All of Prometheus lives in this one place.
//
// Thread-safety: registration takes a lock; updating a metric is lock-free. References returned
// by Get* stay valid for the registry's lifetime.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace skua::common {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void Increment(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

class Gauge {
 public:
  void Set(int64_t v) { value_.store(v, std::memory_order_relaxed); }
  void Add(int64_t d) { value_.fetch_add(d, std::memory_order_relaxed); }
  int64_t Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
};

// Cumulative histogram with fixed upper bounds (plus +Inf).
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void Observe(double v);
  uint64_t Count() const { return count_.load(std::memory_order_relaxed); }
  double Sum() const;
  // Cumulative count of observations <= bounds()[i]; index bounds().size() is +Inf.
  uint64_t CumulativeCount(size_t i) const;
  const std::vector<double>& bounds() const { return bounds_; }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_micros_{0};  // sum kept in fixed point to stay lock-free
};

class MetricsRegistry {
 public:
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

  std::string RenderPrometheus() const;

 private:
  enum class Type { kCounter, kGauge, kHistogram };
  struct Family {
    Type type;
    std::string help;
    std::map<std::string, std::unique_ptr<Counter>> counters;
    std::map<std::string, std::unique_ptr<Gauge>> gauges;
    std::map<std::string, std::function<double()>> callbacks;
    std::map<std::string, std::unique_ptr<Histogram>> histograms;
  };
  Family& FamilyLocked(std::string_view name, std::string_view help, Type type);

  mutable std::mutex mu_;
  std::map<std::string, Family, std::less<>> families_;  // guarded by mu_
};

// Default latency buckets in seconds, 50 µs .. 10 s.
const std::vector<double>& LatencyBucketsSeconds();

}  // namespace skua::common
