// Sealed index blocks (B rows) as read back from disk: decoding, searching and merging a block
// of any bytes never crashes, reads out of bounds or loops; a malformed block is reported as
// such (nullopt / false) and skipped by the store.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "opentelemetry/proto/trace/v1/trace.pb.h"
#include "storage/index.h"
#include "storage/open_block.h"
#include "storage/sealed_block.h"

namespace {

namespace otlp = opentelemetry::proto::trace::v1;

// With SKUA_FUZZ_WRITE_SEEDS=<dir>, writes sealed blocks of a few shapes there (the seed
// corpus checked in under tests/fuzz/corpus/index_block_fuzz was made so) and exits.
void WriteSeeds(const std::string& dir) {
  int n = 0;
  for (int spans : {1, 7, 300}) {
    otlp::ResourceSpans rs;
    auto* kv = rs.mutable_resource()->add_attributes();
    kv->set_key("service.name");
    kv->mutable_value()->set_string_value("svc");
    auto* ss = rs.add_scope_spans();
    for (int i = 0; i < spans; ++i) {
      auto* s = ss->add_spans();
      s->set_trace_id(std::string(15, '\1') + static_cast<char>(1 + i % 5));
      s->set_span_id(std::string(7, '\2') + static_cast<char>(1 + i));
      s->set_name(i % 2 ? "GET /" : "POST /tasks");
      s->set_start_time_unix_nano(1'700'000'000'000'000'000 + i * 1000);
      s->set_end_time_unix_nano(1'700'000'000'000'000'000 + i * 1000 + 500 * i);
      for (int a = 0; a < i % 4; ++a) {
        auto* attr = s->add_attributes();
        attr->set_key(a == 0 ? "http.status_code" : "k" + std::to_string(a));
        attr->mutable_value()->set_string_value(std::to_string(200 + i % 3));
      }
    }
    skua::storage::IndexBatchBuilder builder;
    for (const auto& s : ss->spans()) builder.Add({&rs, ss, &s});
    skua::storage::IndexBatch batch = builder.Finish();
    skua::storage::OpenBlock block("svc");
    for (const auto& e : batch.entries) block.Append(batch, e);
    std::ofstream(dir + "/block-" + std::to_string(n++), std::ios::binary) << block.Seal().block;
  }
  std::exit(0);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (const char* dir = std::getenv("SKUA_FUZZ_WRITE_SEEDS")) WriteSeeds(dir);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace storage = skua::storage;
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto block = storage::SealedBlock::Decode(bytes);
  if (!block) return 0;
  storage::TraceQuery queries[3];
  queries[1].operation = "GET /";
  queries[1].duration_min_ns = 1000;
  queries[1].limit = 5;
  queries[2].tags = {{"http.status_code", "200"}, {"error", "true"}};
  queries[2].start_min_ns = 1;
  queries[2].start_max_ns = INT64_MAX;
  for (const auto& q : queries) {
    storage::Hits hits;
    (void)block->Search(q, hits);
  }
  std::vector<std::string_view> parts = {bytes, bytes};
  if (auto merged = storage::SealedBlock::Merge(parts)) {
    auto again = storage::SealedBlock::Decode(merged->block);
    if (!again) __builtin_trap();  // a merge of well-formed blocks is well-formed
    storage::Hits hits;
    (void)again->Search(queries[2], hits);
  }
  return 0;
}
