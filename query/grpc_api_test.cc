// The query port's gRPC services (api_v3 and api_v2) on a fake reader, over real gRPC on
// loopback: status codes, not-found semantics, and what reaches storage.

#include "query/grpc_api.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "jaeger/api_v2/query.grpc.pb.h"
#include "jaeger/api_v3/query_service.grpc.pb.h"
#include "query/fake_reader.h"

namespace skua::query {
namespace {

constexpr int64_t kNow = 1'700'000'000'000'000'000;
constexpr char kTraceHex[] = "0000000000000000000000000000002a";

class GrpcApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    reader_.Put(OneSpanTrace("task-api", kTraceHex, kNow - 1000));
    reader_.AddOperation("task-api", {"GET /tasks", "server"});
    config_.grpc_endpoint = "127.0.0.1:0";
    config_.max_limit = 20;
    service_ = std::make_unique<QueryService>(reader_, config_, clock_);
    auto server = StartQueryGrpcServer(*service_, metrics_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    channel_ = grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials());
  }
  void TearDown() override {
    if (server_) server_->Stop();
  }

  static void Window(google::protobuf::Timestamp* min, google::protobuf::Timestamp* max) {
    min->set_seconds(kNow / 1'000'000'000 - 3600);
    max->set_seconds(kNow / 1'000'000'000 + 3600);
  }

  FakeReader reader_;
  config::QueryConfig config_;
  common::FakeClock clock_{kNow};
  common::MetricsRegistry metrics_;
  std::unique_ptr<QueryService> service_;
  std::unique_ptr<common::GrpcServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_F(GrpcApiTest, V3Calls) {
  auto stub = jaeger::api_v3::QueryService::NewStub(channel_);
  {
    grpc::ClientContext ctx;
    jaeger::api_v3::GetServicesResponse resp;
    ASSERT_TRUE(stub->GetServices(&ctx, {}, &resp).ok());
    ASSERT_EQ(resp.services_size(), 1);
    EXPECT_EQ(resp.services(0), "task-api");
  }
  {
    grpc::ClientContext ctx;
    jaeger::api_v3::GetOperationsRequest req;
    jaeger::api_v3::GetOperationsResponse resp;
    ASSERT_TRUE(stub->GetOperations(&ctx, req, &resp).ok());
    EXPECT_EQ(resp.operations_size(), 0);  // no service: none
  }
  {
    // A trace that is not stored: the stream ends with no message, as Jaeger v2's.
    grpc::ClientContext ctx;
    jaeger::api_v3::GetTraceRequest req;
    req.set_trace_id("00000000000000000000000000000bad");
    auto reader = stub->GetTrace(&ctx, req);
    opentelemetry::proto::trace::v1::TracesData td;
    EXPECT_FALSE(reader->Read(&td));
    EXPECT_TRUE(reader->Finish().ok());
  }
  {
    grpc::ClientContext ctx;
    jaeger::api_v3::FindTracesRequest req;  // no query
    auto reader = stub->FindTraces(&ctx, req);
    opentelemetry::proto::trace::v1::TracesData td;
    EXPECT_FALSE(reader->Read(&td));
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
  {
    grpc::ClientContext ctx;
    jaeger::api_v3::FindTracesRequest req;
    req.mutable_query()->set_service_name("task-api");
    req.mutable_query()->set_search_depth(1000);
    Window(req.mutable_query()->mutable_start_time_min(),
           req.mutable_query()->mutable_start_time_max());
    auto reader = stub->FindTraces(&ctx, req);
    opentelemetry::proto::trace::v1::TracesData td;
    int n = 0;
    while (reader->Read(&td)) ++n;
    EXPECT_TRUE(reader->Finish().ok());
    EXPECT_EQ(n, 1);
    EXPECT_EQ(reader_.last_query()->limit, 20);  // clamped to query.max_limit
    EXPECT_GT(reader_.last_query()->deadline_ns, kNow);
  }
}

TEST_F(GrpcApiTest, V2Calls) {
  auto stub = jaeger::api_v2::QueryService::NewStub(channel_);
  {
    grpc::ClientContext ctx;
    jaeger::api_v2::GetTraceRequest req;
    req.set_trace_id(std::string(16, '\x07'));
    auto reader = stub->GetTrace(&ctx, req);
    jaeger::api_v2::SpansResponseChunk chunk;
    EXPECT_FALSE(reader->Read(&chunk));
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::NOT_FOUND);
  }
  {
    grpc::ClientContext ctx;
    jaeger::api_v2::GetTraceRequest req;
    req.set_trace_id(std::string(16, '\0'));
    auto reader = stub->GetTrace(&ctx, req);
    jaeger::api_v2::SpansResponseChunk chunk;
    EXPECT_FALSE(reader->Read(&chunk));
    auto st = reader->Finish();
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(st.error_message(), "uninitialized TraceID is not allowed");
  }
  {
    grpc::ClientContext ctx;
    jaeger::api_v2::GetTraceRequest req;
    req.set_trace_id(std::string(common::ParseTraceIdHex(kTraceHex)->AsBytes()));
    auto reader = stub->GetTrace(&ctx, req);
    jaeger::api_v2::SpansResponseChunk chunk;
    ASSERT_TRUE(reader->Read(&chunk));
    ASSERT_EQ(chunk.spans_size(), 1);
    EXPECT_EQ(chunk.spans(0).operation_name(), "GET /tasks");
    EXPECT_EQ(chunk.spans(0).process().service_name(), "task-api");
    EXPECT_TRUE(reader->Finish().ok());
  }
  {
    reader_.FailWith(absl::UnavailableError("shard 1 at /data/shard-001: IO error"));
    grpc::ClientContext ctx;
    jaeger::api_v2::FindTracesRequest req;
    req.mutable_query()->set_service_name("task-api");
    Window(req.mutable_query()->mutable_start_time_min(),
           req.mutable_query()->mutable_start_time_max());
    auto reader = stub->FindTraces(&ctx, req);
    jaeger::api_v2::SpansResponseChunk chunk;
    EXPECT_FALSE(reader->Read(&chunk));
    auto st = reader->Finish();
    EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAVAILABLE);
    EXPECT_EQ(st.error_message().find("/data"), std::string::npos);
  }
  {
    grpc::ClientContext ctx;
    jaeger::api_v2::GetDependenciesRequest req;  // no times
    jaeger::api_v2::GetDependenciesResponse resp;
    EXPECT_EQ(stub->GetDependencies(&ctx, req, &resp).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
}

// With tenancy on, every call names an allowed tenant in its metadata and sees only its data.
TEST(GrpcTenancyTest, CallsNeedATenantAndSeeOnlyItsData) {
  FakeReader reader;
  reader.set_tenant("acme");
  reader.Put(OneSpanTrace("task-api", kTraceHex, kNow - 1000));
  config::QueryConfig config;
  config.grpc_endpoint = "127.0.0.1:0";
  common::FakeClock clock{kNow};
  common::MetricsRegistry metrics;
  QueryService service(reader, config, clock);
  common::TenancyConfig tc;
  tc.enabled = true;
  tc.tenants = {"acme", "globex"};
  common::Tenancy tenancy(tc);
  auto server = StartQueryGrpcServer(service, metrics, nullptr, &tenancy);
  ASSERT_TRUE(server.ok()) << server.status();
  auto channel = grpc::CreateChannel((*server)->address(), grpc::InsecureChannelCredentials());
  auto v3 = jaeger::api_v3::QueryService::NewStub(channel);
  auto services = [&](const char* tenant) {
    grpc::ClientContext ctx;
    if (tenant != nullptr) ctx.AddMetadata("x-tenant", tenant);
    jaeger::api_v3::GetServicesResponse resp;
    auto st = v3->GetServices(&ctx, {}, &resp);
    return std::make_pair(st.error_code(), resp.services_size());
  };
  EXPECT_EQ(services(nullptr).first, grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(services("initech").first, grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(services("acme"), std::make_pair(grpc::StatusCode::OK, 1));
  EXPECT_EQ(services("globex"), std::make_pair(grpc::StatusCode::OK, 0));

  auto v2 = jaeger::api_v2::QueryService::NewStub(channel);
  auto get_trace = [&](const char* tenant) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-tenant", tenant);
    jaeger::api_v2::GetTraceRequest req;
    req.set_trace_id(std::string(common::ParseTraceIdHex(kTraceHex)->AsBytes()));
    auto r = v2->GetTrace(&ctx, req);
    jaeger::api_v2::SpansResponseChunk chunk;
    while (r->Read(&chunk)) {
    }
    return r->Finish().error_code();
  };
  EXPECT_EQ(get_trace("acme"), grpc::StatusCode::OK);
  EXPECT_EQ(get_trace("globex"), grpc::StatusCode::NOT_FOUND);
  (*server)->Stop();
}

}  // namespace
}  // namespace skua::query
