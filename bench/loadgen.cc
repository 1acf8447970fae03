// skua-loadgen: sends the reference workload over OTLP/gRPC, pre-encoded (the generator's own
// protobuf cost stays out of the measurement), flat out or at a fixed rate, from several
// concurrent lanes. Prints one JSON line of results.
//
//   skua-loadgen --target=127.0.0.1:4317 --duration=10 --concurrency=8 [--rate=SPANS_PER_S]
//                [--batch=512] [--batches=64] [--seed=1] [--spans=N] [--acked-out=FILE]
//                [--shape=random|tracegen] [--fresh] [--ca=PEM]
// Requests are --batches pre-encoded ones sent in turn (each send re-stamped with fresh trace IDs
// and times). With --fresh every send is built anew instead, so no span content repeats; slower
// to generate, for disk measurements, where repeats would flatter compression.
// With --spans, it stops once N spans are acknowledged (or `duration` is over). With
// --acked-out, the ID of every trace in an acknowledged request is written to FILE. A refused
// request is sent again, so one lane with --spans and --time-base sends the same data every
// run (the side-by-side benchmark's cross-check relies on it).

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench/workload.h"

namespace {

using Clock = std::chrono::steady_clock;
constexpr char kMethod[] = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

struct Options {
  std::string target = "127.0.0.1:4317";
  double duration = 10;
  int concurrency = 8;
  double rate = 0;  // spans/s across all lanes; 0 = flat out
  int batch = 512;
  int batches = 64;
  uint64_t seed = 1;
  uint64_t spans = 0;     // stop after this many acknowledged spans; 0 = run for `duration`
  std::string acked_out;  // file receiving the hex ID of every acknowledged trace, one a line
  int64_t time_base = 0;  // span times start here (ns since the epoch) instead of at send time
  skua::bench::Shape shape = skua::bench::Shape::kRandom;
  bool fresh = false;
  std::string ca;  // PEM CA file: TLS to the target (each lane keeps one connection)
};

Options Parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto eq = a.find('=');
    std::string k = a.substr(0, eq), v = eq == std::string::npos ? "" : a.substr(eq + 1);
    const std::map<std::string, std::function<void()>> setters = {
        {"--target", [&] { o.target = v; }},
        {"--duration", [&] { o.duration = std::atof(v.c_str()); }},
        {"--concurrency", [&] { o.concurrency = std::atoi(v.c_str()); }},
        {"--rate", [&] { o.rate = std::atof(v.c_str()); }},
        {"--batch", [&] { o.batch = std::atoi(v.c_str()); }},
        {"--batches", [&] { o.batches = std::atoi(v.c_str()); }},
        {"--seed", [&] { o.seed = std::strtoull(v.c_str(), nullptr, 10); }},
        {"--spans", [&] { o.spans = std::strtoull(v.c_str(), nullptr, 10); }},
        {"--acked-out", [&] { o.acked_out = v; }},
        {"--time-base", [&] { o.time_base = std::strtoll(v.c_str(), nullptr, 10); }},
        {"--shape",
         [&] {
           if (!skua::bench::ParseShape(v, &o.shape)) {
             std::fprintf(stderr, "skua-loadgen: --shape must be random or tracegen\n");
             std::exit(2);
           }
         }},
        {"--fresh", [&] { o.fresh = true; }},
        {"--ca", [&] { o.ca = v; }},
    };
    auto it = setters.find(k);
    if (it == setters.end()) {
      std::fprintf(stderr, "skua-loadgen: unknown argument %s\n", a.c_str());
      std::exit(2);
    }
    it->second();
  }
  if (o.concurrency < 1 || o.batch < 1 || o.batches < 1 || o.duration <= 0) {
    std::fprintf(stderr, "skua-loadgen: bad arguments\n");
    std::exit(2);
  }
  return o;
}

// Blocking unary call over the generic stub (bytes in, bytes out).
grpc::Status Call(grpc::GenericStub& stub, const std::string& payload) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  grpc::Slice slice(payload);
  grpc::ByteBuffer request(&slice, 1), response;
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  grpc::Status result;
  stub.UnaryCall(&ctx, kMethod, grpc::StubOptions(), &request, &response, [&](grpc::Status s) {
    std::lock_guard lock(mu);
    result = std::move(s);
    done = true;
    cv.notify_one();
  });
  std::unique_lock lock(mu);
  cv.wait(lock, [&] { return done; });
  return result;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt = Parse(argc, argv);
  int64_t now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  std::vector<skua::bench::Batch> batches;
  size_t wire_bytes = 0;
  for (int i = 0; i < opt.batches; ++i) {
    batches.push_back(
        skua::bench::Encode(skua::bench::MakeRequest(opt.shape, opt.seed, i, opt.batch, now_ns)));
    wire_bytes += batches.back().encoded.size();
  }
  int spans_per_batch = batches[0].spans;

  grpc::ChannelArguments args;
  args.SetMaxSendMessageSize(64 << 20);
  std::atomic<uint64_t> acked_requests{0}, acked_spans{0}, refused{0}, errors{0};
  std::mutex err_mu;
  std::FILE* acked_file = nullptr;
  if (!opt.acked_out.empty() && (acked_file = std::fopen(opt.acked_out.c_str(), "w")) == nullptr) {
    std::fprintf(stderr, "skua-loadgen: cannot write %s\n", opt.acked_out.c_str());
    return 2;
  }
  std::mutex acked_mu;
  std::map<std::string, int> error_kinds;
  auto start = Clock::now();
  auto end = start + std::chrono::duration<double>(opt.duration);
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  if (!opt.ca.empty()) {
    std::ifstream in(opt.ca);
    std::string pem((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (pem.empty()) {
      std::fprintf(stderr, "skua-loadgen: cannot read --ca=%s\n", opt.ca.c_str());
      return 2;
    }
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = pem;
    credentials = grpc::SslCredentials(ssl);
  }
  std::vector<std::thread> lanes;
  for (int lane = 0; lane < opt.concurrency; ++lane) {
    lanes.emplace_back([&, lane] {
      // One channel per lane so lanes do not share one HTTP/2 connection.
      grpc::ChannelArguments lane_args = args;
      lane_args.SetInt("skua.lane", lane);
      auto channel = grpc::CreateCustomChannel(opt.target, credentials, lane_args);
      grpc::GenericStub stub(channel);
      double lane_rate = opt.rate / opt.concurrency;
      auto next = Clock::now();
      for (uint64_t seq = 0; Clock::now() < end;) {
        if (opt.spans > 0 && acked_spans.load() >= opt.spans) break;
        if (lane_rate > 0) {
          std::this_thread::sleep_until(next);
          next += std::chrono::duration_cast<Clock::duration>(
              std::chrono::duration<double>(spans_per_batch / lane_rate));
        }
        uint64_t index = static_cast<uint64_t>(lane) + seq * static_cast<uint64_t>(opt.concurrency);
        skua::bench::Batch fresh;
        if (opt.fresh) {
          fresh = skua::bench::Encode(skua::bench::MakeRequest(
              opt.shape, opt.seed, static_cast<int>(opt.batches + index), opt.batch, now_ns));
        }
        const auto& b = opt.fresh ? fresh : batches[index % batches.size()];
        uint64_t stamp = (opt.seed << 56) ^ (static_cast<uint64_t>(lane + 1) << 40) ^ (seq + 1);
        int64_t shift = opt.time_base != 0
                            ? opt.time_base - now_ns
                            : std::chrono::duration_cast<std::chrono::nanoseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                      .count() -
                                  now_ns;
        grpc::Status st = Call(stub, skua::bench::Stamp(b, stamp, shift));
        if (st.ok() && acked_file != nullptr) {
          std::lock_guard lock(acked_mu);
          for (const auto& low : b.trace_id_lows) {
            std::fprintf(acked_file, "%016llx%s\n", static_cast<unsigned long long>(stamp),
                         low.c_str());
          }
        }
        if (st.ok()) {
          ++acked_requests;
          acked_spans += static_cast<uint64_t>(b.spans);
          ++seq;  // a refused or failed batch is sent again
        } else if (st.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
          ++refused;
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
        } else {
          ++errors;
          std::lock_guard lock(err_mu);
          ++error_kinds[st.error_message()];
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
      }
    });
  }
  for (auto& t : lanes) t.join();
  if (acked_file != nullptr) std::fclose(acked_file);
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf(
      "{\"seconds\":%.3f,\"acked_requests\":%llu,\"acked_spans\":%llu,\"refused\":%llu,"
      "\"errors\":%llu,\"spans_per_second\":%.0f,\"wire_bytes_per_span\":%.1f}\n",
      secs, static_cast<unsigned long long>(acked_requests.load()),
      static_cast<unsigned long long>(acked_spans.load()),
      static_cast<unsigned long long>(refused.load()),
      static_cast<unsigned long long>(errors.load()), acked_spans.load() / secs,
      static_cast<double>(wire_bytes) / (spans_per_batch * opt.batches));
  for (const auto& [msg, n] : error_kinds) std::fprintf(stderr, "error x%d: %s\n", n, msg.c_str());
  return errors.load() > 0 && acked_requests.load() == 0 ? 1 : 0;
}
