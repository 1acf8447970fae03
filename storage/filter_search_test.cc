// Differential test of searches with a structured filter (Jaeger RFC 0005) and with bounds on
// the whole trace's duration: random spans with typed attributes at every level, events and
// links; random filter trees (every operator and level, nesting, `some`, negation over missing
// attributes, type mismatches). FindTraces must
// return exactly what a scan of every span with the one evaluator (filter::Filter::Matches)
// returns — with the index in open, sealed and merged blocks, and across shards. The index only
// narrows (filter::Narrow); this is what checks that it never narrows too much.

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <random>

#include "filter/filter.h"
#include "storage/span_store.h"
#include "tests/testing/otlp_builders.h"
#include "tests/testing/store_helpers.h"

namespace skua::storage {
namespace {

namespace otlp_trace = ::opentelemetry::proto::trace::v1;
namespace wire = ::jaeger::expression::v1;
using testing::ExportRequest;

const SpanStore::WriterOptions kNoIdleUpkeep{.idle_upkeep_interval = std::chrono::milliseconds(0)};
constexpr int64_t kT0 = 1'700'000'000'000'000'000;  // ns
constexpr int64_t kWindow = 600LL * 1'000'000'000;

const char* const kServices[] = {"api", "db", "cache"};
const char* const kKeys[] = {"k0", "k1", "k2", "n", "host.name", "evk", "lk", "sk"};
// Values chosen to collide across types: "1" is a string here, 1 an int there, 1.0 a double.
const char* const kTexts[] = {"v0", "v1", "1", "true", "api", "x y"};

class Generator {
 public:
  explicit Generator(uint64_t seed) : rng_(seed) {}
  int Pick(int n) { return static_cast<int>(rng_() % static_cast<uint64_t>(n)); }
  std::mt19937_64& rng() { return rng_; }

  void Value(opentelemetry::proto::common::v1::AnyValue* v) {
    switch (Pick(6)) {
      case 0:
        v->set_int_value(Pick(4) - 1);
        break;
      case 1:
        v->set_double_value(Pick(2) == 0 ? 1.0 : 0.5 * Pick(5));
        break;
      case 2:
        v->set_bool_value(Pick(2) == 0);
        break;
      case 3:
        v->mutable_array_value()->add_values()->set_string_value(kTexts[Pick(6)]);
        break;
      default:
        // Now and then a value too long for the blocks' value dictionaries (its key then
        // narrows nothing there).
        v->set_string_value(Pick(12) == 0 ? std::string(140, 'l') + kTexts[Pick(6)]
                                          : std::string(kTexts[Pick(6)]));
    }
  }
  void Attributes(google::protobuf::RepeatedPtrField<opentelemetry::proto::common::v1::KeyValue>* a,
                  int max) {
    for (int n = Pick(max + 1); n > 0; --n) {
      auto* kv = a->Add();
      kv->set_key(kKeys[Pick(8)]);
      Value(kv->mutable_value());
    }
  }

  std::vector<ExportRequest> Data(int traces, int per_request) {
    std::vector<ExportRequest> requests;
    for (int t = 0; t < traces; ++t) {
      if (t % per_request == 0) requests.emplace_back();
      ExportRequest& req = requests.back();
      std::string trace = std::string(12, '\0') + std::string(1, static_cast<char>(t >> 8)) +
                          std::string(1, static_cast<char>(t)) + "\x01\x02";
      int64_t base = kT0 + static_cast<int64_t>(rng_() % static_cast<uint64_t>(kWindow));
      for (int i = 0, n = 1 + Pick(6); i < n; ++i) {
        auto* rs = req.add_resource_spans();
        testing::AddStringAttr(rs->mutable_resource()->mutable_attributes(), "service.name",
                               kServices[Pick(3)]);
        Attributes(rs->mutable_resource()->mutable_attributes(), 1);
        if (Pick(3) == 0) rs->set_schema_url("s1");
        auto* ss = rs->add_scope_spans();
        ss->mutable_scope()->set_name(Pick(2) == 0 ? "lib" : "orm");
        if (Pick(2) == 0) ss->mutable_scope()->set_version("1.0");
        Attributes(ss->mutable_scope()->mutable_attributes(), 1);
        auto* s = ss->add_spans();
        s->set_trace_id(trace);
        s->set_span_id(testing::SpanIdBytes(static_cast<uint64_t>(i + 1)));
        if (i > 0) s->set_parent_span_id(testing::SpanIdBytes(1));
        s->set_name(fmt::format("op-{}", Pick(3)));
        s->set_kind(static_cast<otlp_trace::Span::SpanKind>(Pick(6)));
        int64_t start = base + Pick(10) * 1'000'000'000LL;
        s->set_start_time_unix_nano(static_cast<uint64_t>(start));
        s->set_end_time_unix_nano(static_cast<uint64_t>(start + Pick(4) * 500'000'000LL));
        s->mutable_status()->set_code(static_cast<otlp_trace::Status::StatusCode>(Pick(3)));
        if (Pick(3) == 0) s->mutable_status()->set_message("boom");
        if (Pick(4) == 0) s->set_trace_state("a=1");
        Attributes(s->mutable_attributes(), 3);
        for (int e = Pick(3); e > 0; --e) {
          auto* ev = s->add_events();
          ev->set_name(Pick(2) == 0 ? "exception" : "retry");
          ev->set_time_unix_nano(static_cast<uint64_t>(start + Pick(4) * 100'000'000LL));
          Attributes(ev->mutable_attributes(), 2);
        }
        if (Pick(4) == 0) {
          auto* l = s->add_links();
          l->set_trace_id(std::string(16, static_cast<char>(0x10 + Pick(2))));
          l->set_span_id(std::string(8, static_cast<char>(0x20 + Pick(2))));
          Attributes(l->mutable_attributes(), 2);
        }
      }
    }
    return requests;
  }

  // A random filter tree of at most `depth` levels of calls; `bound` is the level a `some`
  // above has bound (only that level's collection may not be quantified again).
  wire::Call Tree(int depth, const std::string& bound = "") {
    wire::Call c;
    int choice = depth <= 1 ? 3 + Pick(9) : Pick(12);
    switch (choice) {
      case 0:
      case 1: {
        c.set_op(choice == 0 ? "and" : "or");
        for (int n = 2 + Pick(2); n > 0; --n)
          *c.add_args()->mutable_call() = Tree(depth - 1, bound);
        return c;
      }
      case 2:
        c.set_op("not");
        *c.add_args()->mutable_call() = Tree(depth - 1, bound);
        return c;
      case 3:
        if (depth > 1) {
          std::string level = Pick(2) == 0 ? "event" : "link";
          if (level != bound) {
            c.set_op("some");
            c.add_args()->mutable_nested()->set_level(level);
            *c.add_args()->mutable_call() = Tree(depth - 1, level);
            return c;
          }
        }
        [[fallthrough]];
      default:
        return Leaf();
    }
  }

 private:
  wire::Expression Reference(bool* is_field, std::string* field) {
    wire::Expression e;
    static const char* const kLevels[] = {"", "span", "resource", "scope", "event", "link"};
    static const std::pair<const char*, const char*> kFields[] = {
        {"span", "name"},        {"span", "kind"},          {"span", "status"},
        {"span", "duration"},    {"span", "startTime"},     {"span", "statusMessage"},
        {"span", "traceState"},  {"span", "parentSpanID"},  {"span", "spanID"},
        {"resource", "service"}, {"resource", "schemaURL"}, {"scope", "name"},
        {"scope", "version"},    {"event", "name"},         {"event", "timeSinceStart"},
        {"event", "time"},       {"link", "spanID"},        {"link", "traceID"}};
    if (Pick(3) == 0) {
      auto [level, name] = kFields[Pick(18)];
      e.mutable_field()->set_level(level);
      e.mutable_field()->set_name(name);
      *is_field = true;
      *field = name;
    } else {
      e.mutable_attr()->set_key(kKeys[Pick(8)]);
      e.mutable_attr()->set_level(kLevels[Pick(6)]);
      *is_field = false;
    }
    return e;
  }

  // A constant for `field` (or an attribute when empty), sometimes typed, sometimes wrong.
  std::pair<std::string, std::string> Constant(bool is_field, const std::string& field) {
    if (is_field) {
      if (field == "duration" || field == "timeSinceStart") {
        static const char* const kDurations[] = {"0s", "100ms", "500ms", "1s", "1.5s", "-1s"};
        return {kDurations[Pick(6)], ""};
      }
      if (field == "startTime" || field == "time") {
        // Within the data's ten minutes from kT0 (2023-11-14T22:13:20Z), and outside it.
        static const char* const kTimes[] = {"2023-11-14T22:13:20Z", "2023-11-14T22:15:00Z",
                                             "2023-11-14T22:18:00.5Z", "2023-11-14T23:18:00+01:00",
                                             "2023-11-14T22:30:00Z"};
        return {kTimes[Pick(5)], ""};
      }
      if (field == "kind") {
        static const char* const k[] = {"unspecified", "internal", "server",
                                        "client",      "producer", "consumer"};
        return {k[Pick(6)], ""};
      }
      if (field == "status") {
        static const char* const k[] = {"unset", "ok", "error"};
        return {k[Pick(3)], ""};
      }
      static const char* const kText[] = {"op-1",
                                          "api",
                                          "lib",
                                          "1.0",
                                          "exception",
                                          "boom",
                                          "a=1",
                                          "s1",
                                          "0000000000000001",
                                          "2121212121212121"};
      return {kText[Pick(10)], Pick(4) == 0 ? "string" : ""};
    }
    static const char* const kConst[] = {"v0",  "v1",   "1",     "0",         "-1",  "1.0",
                                         "0.5", "true", "false", R"(["v1"])", "api", "2"};
    static const char* const kTypes[] = {"", "", "", "string", "int", "double", "bool"};
    std::string type = kTypes[Pick(7)];
    std::string value = kConst[Pick(12)];
    // A typed constant must be of its type (decode refuses one that is not).
    if (type == "int" && value != "1" && value != "0" && value != "-1" && value != "2") value = "1";
    if (type == "double" && value.find_first_not_of("-0123456789.") != std::string::npos)
      value = "0.5";
    if (type == "bool" && value != "true" && value != "false") value = "true";
    return {value, type};
  }

  wire::Call Leaf() {
    wire::Call c;
    bool is_field = false;
    std::string field;
    wire::Expression ref = Reference(&is_field, &field);
    static const char* const kCompare[] = {"eq", "ne", "gt", "lt", "gte", "lte"};
    switch (Pick(10)) {
      case 0:
        c.set_op("exists");
        *c.add_args() = ref;
        return c;
      case 1: {
        c.set_op("regex");
        *c.add_args() = ref;
        static const char* const kPatterns[] = {"v[01]", "op-[12]", "1",     "api|db",
                                                "xc",    "e.*n",    "[0-9]", "true"};
        c.add_args()->mutable_scalar()->set_value(kPatterns[Pick(8)]);
        return c;
      }
      case 2:
      case 3: {
        c.set_op(Pick(2) == 0 ? "in" : "not_in");
        *c.add_args() = ref;
        auto* list = c.add_args()->mutable_list();
        auto [first, type] = Constant(is_field, field);
        list->add_values(first);
        list->set_type(is_field ? "" : type);
        for (int n = Pick(3); n > 0; --n) {
          auto [v, t] = Constant(is_field, field);
          if (t == type || is_field) list->add_values(v);
        }
        return c;
      }
      default: {
        c.set_op(kCompare[Pick(6)]);
        auto [v, type] = Constant(is_field, field);
        wire::Expression constant;
        constant.mutable_scalar()->set_value(v);
        constant.mutable_scalar()->set_type(type);
        if (Pick(5) == 0) {  // constant first: Finalize turns it around
          *c.add_args() = constant;
          *c.add_args() = ref;
        } else {
          *c.add_args() = ref;
          *c.add_args() = constant;
        }
        return c;
      }
    }
  }

  std::mt19937_64 rng_;
};

std::vector<TraceHit> NaiveSearch(const std::vector<ExportRequest>& data, const TraceQuery& q) {
  // Each trace's duration: earliest start to latest end of all its spans.
  std::map<common::TraceId, std::pair<uint64_t, uint64_t>> extent;
  for (const auto& req : data) {
    for (const auto& rs : req.resource_spans()) {
      for (const auto& ss : rs.scope_spans()) {
        for (const auto& s : ss.spans()) {
          auto id = *common::TraceId::FromBytes(s.trace_id());
          auto [it, fresh] =
              extent.try_emplace(id, s.start_time_unix_nano(), s.end_time_unix_nano());
          it->second.first = std::min(it->second.first, s.start_time_unix_nano());
          it->second.second = std::max(it->second.second, s.end_time_unix_nano());
        }
      }
    }
  }
  auto duration_ok = [&](const common::TraceId& id) {
    auto [first, last] = extent.at(id);
    auto d = static_cast<int64_t>(last > first ? last - first : 0);
    return d >= q.trace_duration_min_ns &&
           (q.trace_duration_max_ns == 0 || d <= q.trace_duration_max_ns);
  };
  std::map<common::TraceId, int64_t> best;
  for (const auto& req : data) {
    for (const auto& rs : req.resource_spans()) {
      for (const auto& ss : rs.scope_spans()) {
        for (const auto& s : ss.spans()) {
          auto start = static_cast<int64_t>(s.start_time_unix_nano());
          if (q.start_min_ns != 0 && start < q.start_min_ns) continue;
          if (q.start_max_ns != 0 && start > q.start_max_ns) continue;
          if (q.filter != nullptr && !q.filter->Matches(rs, ss, s)) continue;
          auto id = *common::TraceId::FromBytes(s.trace_id());
          if (!duration_ok(id)) continue;
          auto [it, inserted] = best.try_emplace(id, start);
          if (!inserted) it->second = std::max(it->second, start);
        }
      }
    }
  }
  std::vector<TraceHit> out;
  for (const auto& [id, start] : best) out.push_back({id, start, nullptr});
  std::sort(out.begin(), out.end(), [](const TraceHit& a, const TraceHit& b) {
    return a.start_ns != b.start_ns ? a.start_ns > b.start_ns : a.trace_id < b.trace_id;
  });
  if (out.size() > static_cast<size_t>(q.limit)) out.resize(static_cast<size_t>(q.limit));
  return out;
}

struct Tally {
  int checked = 0;
  int nonempty = 0;
  int refused = 0;
  int paged = 0;  // searches paged through to their end
};

void CheckFilters(SpanStore& store, const std::vector<ExportRequest>& data, uint64_t seed, int n,
                  const char* stage, Tally& tally) {
  Generator gen(seed);
  for (int i = 0; i < n; ++i) {
    wire::Call tree = gen.Tree(1 + gen.Pick(4));
    auto f = filter::FromProto(tree);
    if (!f.ok()) {  // e.g. an ordered comparison of a span kind: refused, as it must be
      ++tally.refused;
      continue;
    }
    TraceQuery q;
    q.filter = gen.Pick(10) == 0 ? nullptr : *f;  // sometimes the trace duration alone
    q.limit = 1 + gen.Pick(25);
    if (q.filter == nullptr || gen.Pick(5) == 0) {
      static const int64_t kBounds[] = {0, 1'000'000'000, 3'000'000'000, 6'000'000'000};
      q.trace_duration_min_ns = kBounds[gen.Pick(3)];
      q.trace_duration_max_ns = gen.Pick(2) == 0 ? 0 : kBounds[1 + gen.Pick(3)];
    }
    if (gen.Pick(3) == 0) {
      q.start_min_ns = kT0 + static_cast<int64_t>(gen.rng()() % static_cast<uint64_t>(kWindow));
      q.start_max_ns = q.start_min_ns + static_cast<int64_t>(gen.rng()() % 300'000'000'000ULL);
    }
    if (gen.Pick(6) == 0) {  // page through it, a few traces at a time
      const int page = 4 + gen.Pick(12);
      TraceQuery all = q;
      all.limit = 1 << 20;
      auto want = NaiveSearch(data, all);
      std::vector<TraceHit> pages;
      q.limit = page;
      for (int n = 0; n < 400; ++n) {
        auto got = store.FindTraces(q);
        ASSERT_TRUE(got.ok()) << got.status();
        for (auto& h : *got) pages.push_back(std::move(h));
        if (static_cast<int>(got->size()) < page) break;
        q.after = PageCursor{pages.back().start_ns, pages.back().trace_id};
      }
      ++tally.checked;
      ++tally.paged;
      std::string what = fmt::format("{} pages of {}: {}", stage, page,
                                     q.filter ? q.filter->DebugString() : "(none)");
      ASSERT_EQ(pages.size(), want.size()) << what;
      for (size_t j = 0; j < want.size(); ++j) {
        ASSERT_EQ(pages[j].trace_id, want[j].trace_id) << what << " #" << j;
        ASSERT_EQ(pages[j].start_ns, want[j].start_ns) << what << " #" << j;
      }
      continue;
    }
    auto got = store.FindTraces(q);
    ASSERT_TRUE(got.ok()) << got.status();
    auto want = NaiveSearch(data, q);
    ++tally.checked;
    tally.nonempty += !want.empty();
    std::string what = fmt::format("{}: {} limit={} trace duration [{}, {}]", stage,
                                   q.filter ? q.filter->DebugString() : "(none)", q.limit,
                                   q.trace_duration_min_ns, q.trace_duration_max_ns);
    ASSERT_EQ(got->size(), want.size()) << what;
    for (size_t j = 0; j < want.size(); ++j) {
      ASSERT_EQ((*got)[j].trace_id, want[j].trace_id) << what << " #" << j;
      ASSERT_EQ((*got)[j].start_ns, want[j].start_ns) << what << " #" << j;
    }
  }
}

class FilterDifferentialTest : public ::testing::TestWithParam<int> {};

TEST_P(FilterDifferentialTest, FilteredSearchEqualsScanWithTheEvaluator) {
  const int shards = GetParam();
  auto dir = std::filesystem::path(::testing::TempDir()) /
             fmt::format("filter-search-{}-{}", ::getpid(), shards);
  std::filesystem::remove_all(dir);
  common::FakeClock clock(kT0);
  Generator gen(40 + static_cast<uint64_t>(shards));
  std::vector<ExportRequest> data = gen.Data(120, 6);
  // Enough trees for 10,000 checked over both shard counts and all stages. Under the address
  // sanitizer (several times slower) a quarter: the same paths, checked for memory errors.
  int per_stage = shards == 1 ? 2500 : 1300;
#if defined(__SANITIZE_ADDRESS__)
  per_stage /= 4;
#endif
  Tally tally;
  auto store = SpanStore::Open(testing::TestStorage(dir.string(), shards), clock, kNoIdleUpkeep);
  ASSERT_TRUE(store.ok()) << store.status();
  // Half sealed in several blocks, half in the open blocks.
  size_t half = data.size() / 2;
  for (size_t i = 0; i < data.size(); ++i) {
    testing::StoreRequest(**store, data[i]);
    if (i < half && i % 3 == 2) {
      clock.Advance(std::chrono::seconds(31));
      (*store)->RunUpkeep();
    }
  }
  CheckFilters(**store, data, 1000, per_stage, "sealed+open", tally);
  clock.Advance(std::chrono::seconds(31));
  (*store)->RunUpkeep();
  CheckFilters(**store, data, 2000, per_stage, "sealed", tally);
  ASSERT_TRUE((*store)->CompactAll().ok());
  CheckFilters(**store, data, 3000, per_stage, "merged", tally);
  store->reset();
  std::filesystem::remove_all(dir);
  RecordProperty("checked", tally.checked);
  // The generator must exercise real matches and real refusals, not only empty answers.
  EXPECT_GT(tally.nonempty, tally.checked / 4);
  EXPECT_GT(tally.refused, 0);
  EXPECT_GE(tally.checked, per_stage * 3 * 85 / 100);
  EXPECT_GT(tally.paged, tally.checked / 10);
  std::printf(
      "shards=%d: %d searches checked (%d with matches, %d paged to the end), %d filters "
      "refused by Finalize\n",
      shards, tally.checked, tally.nonempty, tally.paged, tally.refused);
}

INSTANTIATE_TEST_SUITE_P(Shards, FilterDifferentialTest, ::testing::Values(1, 3));

}  // namespace
}  // namespace skua::storage
