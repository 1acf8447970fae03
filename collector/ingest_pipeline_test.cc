// The ingest pipeline over a real store: invalid spans, full queues, stopping, metrics.

#include "collector/ingest_pipeline.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "tests/testing/otlp_builders.h"

namespace skua::collector {
namespace {

// Real time: these tests do not depend on index sealing by age.
common::SystemClock clock_;

using testing::AddResource;
using testing::AddSpan;
using testing::CountSpans;
using testing::ExportRequest;

class IngestPipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("ingest-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    Open(64 << 20);
  }
  // (Re)opens the store with shard queues of `max_queue_bytes`.
  void Open(uint64_t max_queue_bytes) {
    store_.reset();
    auto s = storage::SpanStore::Open(testing::TestStorage(dir_.string(), 2), clock_,
                                      {.max_queue_bytes = max_queue_bytes, .metrics = &metrics_});
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  int SpansOf(std::string_view trace_hex) {
    auto t = store_->GetTrace("", *common::ParseTraceIdHex(trace_hex));
    EXPECT_TRUE(t.ok());
    return t.ok() && t->has_value() ? CountSpans(**t) : 0;
  }

  std::filesystem::path dir_;
  common::MetricsRegistry metrics_;
  std::unique_ptr<storage::SpanStore> store_;
};

TEST_F(IngestPipelineTest, StoresValidSpansAndRejectsInvalidOnesIndividually) {
  IngestPipeline pipeline(*store_, metrics_);
  ExportRequest req;
  auto* ss = AddResource(req, "svc");
  AddSpan(ss, "a1", 1, 0, "ok-1", 1000, 10);
  AddSpan(ss, "a1", 2, 1, "ok-2", 1000, 10);
  AddSpan(ss, "b2", 3, 0, "ok-3", 1000, 10);
  AddSpan(ss, "a1", 4, 0, "short-trace", 1000, 10)->set_trace_id("short");
  AddSpan(ss, "a1", 5, 0, "zero-trace", 1000, 10)->set_trace_id(std::string(16, '\0'));
  AddSpan(ss, "a1", 6, 0, "zero-span", 1000, 10)->set_span_id(std::string(8, '\0'));
  AddSpan(ss, "a1", 7, 0, "long-span", 1000, 10)->set_span_id("123456789");
  AddSpan(ss, "a1", 8, 0, "bad-parent", 1000, 10)->set_parent_span_id("12");
  AddSpan(ss, "a1", 9, 0, "end-before-start", 1000, 0)->set_end_time_unix_nano(1);

  auto r = pipeline.Export(req, "grpc");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->accepted, 4);
  EXPECT_EQ(r->rejected, 5);
  EXPECT_NE(r->rejection_message.find("5 invalid spans"), std::string::npos);
  EXPECT_NE(r->rejection_message.find("spans[3]: trace_id must be 16 bytes"), std::string::npos)
      << r->rejection_message;
  EXPECT_EQ(SpansOf("a1"), 3);
  EXPECT_EQ(SpansOf("b2"), 1);
  std::string m = metrics_.RenderPrometheus();
  EXPECT_NE(m.find("skua_spans_received_total{transport=\"grpc\"} 9"), std::string::npos);
  EXPECT_NE(m.find("skua_spans_accepted_total{transport=\"grpc\"} 4"), std::string::npos);
  EXPECT_NE(m.find("skua_spans_rejected_total{reason=\"invalid\",transport=\"grpc\"} 5"),
            std::string::npos);
}

TEST_F(IngestPipelineTest, FullQueueRefusesAtOnceAndStoresNothingOfTheRequest) {
  Open(1500);  // queues smaller than the first request below, larger than the second
  IngestPipeline pipeline(*store_, metrics_);
  ExportRequest req;
  auto* ss = AddResource(req, "svc");
  for (int i = 1; i <= 100; ++i) {
    AddSpan(ss, fmt::format("{:x}", 0x100 + i), static_cast<uint64_t>(i), 0, "op", 1000, 10);
  }
  auto r = pipeline.Export(req, "http");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(r.status().message().find("queue"), absl::string_view::npos);
  for (int i = 1; i <= 100; ++i) EXPECT_EQ(SpansOf(fmt::format("{:x}", 0x100 + i)), 0);
  EXPECT_EQ(store_->QueuedBytes(0) + store_->QueuedBytes(1), 0u);
  EXPECT_NE(metrics_.RenderPrometheus().find(
                "skua_spans_rejected_total{reason=\"queue_full\",transport=\"http\"} 100"),
            std::string::npos);

  // A request that fits is still accepted.
  ExportRequest small;
  AddSpan(AddResource(small, "s"), "5", 1, 0, "o", 1, 1);
  auto ok = pipeline.Export(small, "http");
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(SpansOf("5"), 1);
}

TEST_F(IngestPipelineTest, QueueBytesNeverExceedTheBoundUnderConcurrentLoad) {
  Open(4096);
  IngestPipeline pipeline(*store_, metrics_);
  std::atomic<int> accepted{0}, refused{0};
  std::atomic<bool> done{false};
  std::atomic<uint64_t> max_seen{0};
  std::thread watcher([&] {
    while (!done) {
      for (int s = 0; s < 2; ++s) {
        uint64_t q = store_->QueuedBytes(s);
        uint64_t prev = max_seen.load();
        while (q > prev && !max_seen.compare_exchange_weak(prev, q)) {
        }
      }
    }
  });
  std::vector<std::thread> senders;
  std::vector<std::vector<std::string>> acked(8);
  for (int t = 0; t < 8; ++t) {
    senders.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        ExportRequest req;
        auto* ss = AddResource(req, "svc");
        std::string trace = fmt::format("{:x}{:04x}", t + 1, i);
        for (int j = 1; j <= 5; ++j) AddSpan(ss, trace, static_cast<uint64_t>(j), 0, "op", 1, 1);
        auto r = pipeline.Export(req, "grpc");
        if (r.ok()) {
          ++accepted;
          acked[t].push_back(trace);
        } else {
          EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);
          ++refused;
        }
      }
    });
  }
  for (auto& s : senders) s.join();
  done = true;
  watcher.join();
  EXPECT_EQ(accepted + refused, 400);
  EXPECT_LE(max_seen.load(), 4096u);
  for (const auto& traces : acked) {
    for (const auto& trace : traces) EXPECT_EQ(SpansOf(trace), 5) << trace;
  }
}

TEST_F(IngestPipelineTest, RefusesAfterStop) {
  IngestPipeline pipeline(*store_, metrics_);
  pipeline.Stop();
  ExportRequest req;
  AddSpan(AddResource(req, "svc"), "9", 1, 0, "op", 1, 1);
  auto r = pipeline.Export(req, "grpc");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(IngestPipelineTest, EmptyRequestSucceeds) {
  IngestPipeline pipeline(*store_, metrics_);
  auto r = pipeline.Export(ExportRequest{}, "grpc");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->accepted, 0);
  EXPECT_EQ(r->rejected, 0);
}

}  // namespace
}  // namespace skua::collector
