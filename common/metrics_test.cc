// The metrics exposition: counters, gauges, callbacks, histograms and label escaping.

#include "common/metrics.h"

#include <gtest/gtest.h>

namespace skua::common {
namespace {

TEST(MetricsTest, RendersCountersGaugesAndHistograms) {
  MetricsRegistry r;
  r.GetCounter("skua_x_total", "X things", {{"transport", "grpc"}}).Increment(3);
  r.GetCounter("skua_x_total", "X things", {{"transport", "grpc"}}).Increment();
  r.GetGauge("skua_q_bytes", "Queue", {{"shard", "0"}}).Set(42);
  r.AddCallbackGauge("skua_live", "Live", {}, [] { return 7.5; });
  auto& h = r.GetHistogram("skua_lat_seconds", "Latency", {0.1, 1});
  h.Observe(0.05);
  h.Observe(0.5);
  h.Observe(5);
  std::string text = r.RenderPrometheus();
  EXPECT_NE(text.find("# TYPE skua_x_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("skua_x_total{transport=\"grpc\"} 4\n"), std::string::npos);
  EXPECT_NE(text.find("skua_q_bytes{shard=\"0\"} 42\n"), std::string::npos);
  EXPECT_NE(text.find("skua_live 7.5\n"), std::string::npos);
  EXPECT_NE(text.find("skua_lat_seconds_bucket{le=\"0.1\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("skua_lat_seconds_bucket{le=\"1\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("skua_lat_seconds_bucket{le=\"+Inf\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("skua_lat_seconds_count 3\n"), std::string::npos);
}

TEST(MetricsTest, EscapesLabelValues) {
  MetricsRegistry r;
  r.GetCounter("c_total", "c", {{"k", "a\"b\\c\nd"}}).Increment();
  EXPECT_NE(r.RenderPrometheus().find("c_total{k=\"a\\\"b\\\\c\\nd\"} 1"), std::string::npos);
}

}  // namespace
}  // namespace skua::common
