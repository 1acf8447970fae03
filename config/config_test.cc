#include "config/config.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace skua::config {
namespace {

TEST(ConfigTest, DefaultsMatchTheShippedYaml) {
  std::ifstream in(SKUA_DEFAULT_YAML);
  ASSERT_TRUE(in.good());
  std::stringstream ss;
  ss << in.rdbuf();
  Config from_yaml;
  from_yaml.storage.path = "changed";  // the file must set it back
  ASSERT_TRUE(ApplyYaml(ss.str(), "skua.yaml", from_yaml).ok());
  Config defaults;
  EXPECT_EQ(from_yaml.storage.path, defaults.storage.path);
  EXPECT_EQ(from_yaml.storage.shards, defaults.storage.shards);
  EXPECT_EQ(from_yaml.storage.fsync, defaults.storage.fsync);
  EXPECT_EQ(from_yaml.storage.block_cache_size, defaults.storage.block_cache_size);
  EXPECT_EQ(from_yaml.storage.memtable_size, defaults.storage.memtable_size);
  EXPECT_EQ(from_yaml.storage.retention, std::chrono::hours(72));
  EXPECT_TRUE(from_yaml.storage.retention_overrides.empty());
  EXPECT_EQ(from_yaml.storage.max_disk_bytes, 0u);
  EXPECT_EQ(from_yaml.storage.min_free_disk_bytes, defaults.storage.min_free_disk_bytes);
  EXPECT_EQ(from_yaml.collector.grpc_endpoint, "localhost:4317");
  EXPECT_EQ(from_yaml.collector.grpc_max_recv_msg_size, 16u << 20);
  EXPECT_EQ(from_yaml.collector.http_endpoint, "localhost:4318");
  EXPECT_EQ(from_yaml.collector.http_max_request_body_size,
            defaults.collector.http_max_request_body_size);
  EXPECT_EQ(from_yaml.collector.queue_max_bytes, defaults.collector.queue_max_bytes);
  EXPECT_EQ(from_yaml.collector.retry_after, defaults.collector.retry_after);
  EXPECT_EQ(from_yaml.query.http_endpoint, "localhost:16686");
  EXPECT_EQ(from_yaml.query.grpc_endpoint, "localhost:16685");
  EXPECT_EQ(from_yaml.admin.endpoint, "localhost:8888");
  EXPECT_EQ(from_yaml.log.level, "info");
  EXPECT_EQ(Describe(from_yaml), Describe(defaults)) << "every key";
}

TEST(ConfigTest, FlagsBeatEnvironmentWhichBeatsTheFile) {
  std::string path = testing::TempDir() + "/skua_test.yaml";
  {
    std::ofstream out(path);
    out << "storage:\n  path: /from/file\n  shards: 3\nlog:\n  level: debug\n";
  }
  auto r = Load({"--config", path, "--storage.path=/from/flag"},
                {"SKUA_STORAGE_PATH=/from/env", "SKUA_STORAGE_SHARDS=5", "OTHER=1"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->config.storage.path, "/from/flag");
  EXPECT_EQ(r->config.storage.shards, 5);
  EXPECT_EQ(r->config.log.level, "debug");
  EXPECT_EQ(r->config_file, path);
}

TEST(ConfigTest, EveryKeyHasOneNamingRule) {
  for (const auto& key : KeyNames()) {
    std::string env = EnvName(key);
    EXPECT_EQ(env.rfind("SKUA_", 0), 0u) << key;
    EXPECT_EQ(env.find('.'), std::string::npos) << key;
  }
  EXPECT_EQ(EnvName("collector.otlp.grpc.endpoint"), "SKUA_COLLECTOR_OTLP_GRPC_ENDPOINT");
  auto r = Load({"--collector.otlp.grpc.endpoint", "127.0.0.1:1234",
                 "--collector.otlp.grpc.max_recv_msg_size=1MiB"},
                {"SKUA_QUERY_HTTP_ENDPOINT=127.0.0.1:9"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->config.collector.grpc_endpoint, "127.0.0.1:1234");
  EXPECT_EQ(r->config.collector.grpc_max_recv_msg_size, 1u << 20);
  EXPECT_EQ(r->config.query.http_endpoint, "127.0.0.1:9");
}

TEST(ConfigTest, HelpListsEveryKeyWithItsDefault) {
  std::string help = HelpText();
  for (const auto& key : KeyNames()) {
    EXPECT_NE(help.find(key), std::string::npos) << key;
    EXPECT_NE(help.find(EnvName(key)), std::string::npos) << key;
  }
  EXPECT_NE(help.find("default localhost:4317"), std::string::npos);
  EXPECT_NE(help.find("default 16MiB"), std::string::npos);
}

TEST(ConfigTest, ErrorsNameTheKey) {
  auto unknown = Load({"--storage.pth=x"}, {});
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("storage.pth"), absl::string_view::npos);
  auto bad = Load({}, {"SKUA_STORAGE_SHARDS=lots"});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("storage.shards"), absl::string_view::npos);
  EXPECT_NE(bad.status().message().find("SKUA_STORAGE_SHARDS"), absl::string_view::npos);
  auto level = Load({"--log.level=loud"}, {});
  ASSERT_FALSE(level.ok());
  EXPECT_NE(level.status().message().find("log.level"), absl::string_view::npos);
  auto endpoint = Load({"--admin.endpoint=nowhere"}, {});
  ASSERT_FALSE(endpoint.ok());
  EXPECT_NE(endpoint.status().message().find("admin.endpoint"), absl::string_view::npos);
  auto tiny = Load({"--storage.memtable_size=1MiB"}, {});
  ASSERT_FALSE(tiny.ok());
  EXPECT_NE(tiny.status().message().find("storage.memtable_size"), absl::string_view::npos);
  auto memtables = Load({"--storage.memtable_size=48MiB"}, {});
  ASSERT_TRUE(memtables.ok()) << memtables.status();
  EXPECT_EQ(memtables->config.storage.memtable_size, 48u << 20);
  Config c;
  auto yaml = ApplyYaml("storage:\n  colour: red\n", "f.yaml", c);
  ASSERT_FALSE(yaml.ok());
  EXPECT_NE(yaml.message().find("storage.colour"), absl::string_view::npos);
  EXPECT_FALSE(ApplyYaml("storage: [1, 2\n", "f.yaml", c).ok());
  EXPECT_FALSE(Load({"stray"}, {}).ok());
  EXPECT_FALSE(Load({"--config", "/nonexistent/skua.yaml"}, {}).ok());
}

TEST(ConfigTest, HelpAndVersionShortCircuit) {
  auto r = Load({"--help", "--bogus=1"}, {});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->help);
}

TEST(ConfigTest, RetentionAndOverrides) {
  Config c;
  ASSERT_TRUE(ApplyYaml("storage:\n  retention: 24h\n  retention_overrides:\n    checkout: 720h\n"
                        "    healthcheck-svc: 1h\n  max_disk_bytes: 10GiB\n",
                        "f.yaml", c)
                  .ok());
  EXPECT_EQ(c.storage.retention, std::chrono::hours(24));
  ASSERT_EQ(c.storage.retention_overrides.size(), 2u);
  EXPECT_EQ(c.storage.retention_overrides[0].first, "checkout");
  EXPECT_EQ(c.storage.retention_overrides[0].second, std::chrono::hours(720));
  EXPECT_EQ(c.storage.max_disk_bytes, 10ull << 30);
  auto r = Load({}, {"SKUA_STORAGE_RETENTION_OVERRIDES=a=1h,b=30m"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->config.storage.retention_overrides.size(), 2u);
  EXPECT_EQ(r->config.storage.retention_overrides[1].second, std::chrono::minutes(30));
  auto bad = Load({"--storage.retention_overrides=checkout"}, {});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("storage.retention_overrides"), absl::string_view::npos);
  EXPECT_FALSE(Load({"--storage.retention=0s"}, {}).ok());
  EXPECT_FALSE(ApplyYaml("storage:\n  retention_overrides: [a, b]\n", "f.yaml", c).ok());
}

TEST(ConfigTest, DescribeRoundTripsThroughFlags) {
  Config c;
  c.storage.path = "/var/lib/skua";
  c.collector.queue_max_bytes = 3 << 20;
  c.collector.retry_after = std::chrono::milliseconds(1500);
  c.storage.retention_overrides = {{"checkout", std::chrono::hours(720)}};
  std::vector<std::string> flags;
  std::string text = Describe(c);
  for (size_t pos = 0, nl; (nl = text.find('\n', pos)) != std::string::npos; pos = nl + 1) {
    flags.push_back("--" + text.substr(pos, nl - pos));
  }
  EXPECT_EQ(flags.size(), KeyNames().size());
  auto r = Load(flags, {});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(Describe(r->config), text);
}

TEST(ParseTest, ByteSizes) {
  EXPECT_EQ(*ParseByteSize("16MiB"), 16u << 20);
  EXPECT_EQ(*ParseByteSize("512KiB"), 512u << 10);
  EXPECT_EQ(*ParseByteSize("1GB"), 1000000000u);
  EXPECT_EQ(*ParseByteSize("1048576"), 1048576u);
  EXPECT_FALSE(ParseByteSize("lots").ok());
  EXPECT_FALSE(ParseByteSize("5 parsecs").ok());
}

TEST(ConfigTest, ListenersDefaultToLoopbackAndExposedOnesAreNamed) {
  Config c;
  EXPECT_TRUE(UnprotectedExposedListeners(c).empty());
  c.collector.grpc_endpoint = "0.0.0.0:4317";
  c.query.http_endpoint = "[::1]:16686";
  c.query.grpc_endpoint = "127.0.0.2:16685";
  c.admin.endpoint = "10.1.2.3:8888";
  EXPECT_EQ(UnprotectedExposedListeners(c),
            (std::vector<std::string>{"collector.otlp.grpc.endpoint=0.0.0.0:4317",
                                      "admin.endpoint=10.1.2.3:8888"}));
}

TEST(ConfigTest, CorsListsFromYamlEnvironmentAndFlags) {
  Config c;
  ASSERT_TRUE(ApplyYaml("collector:\n  otlp:\n    http:\n      cors:\n        allowed_origins: "
                        "[https://a.example, 'https://*.b.example']\n        max_age: 10m\n",
                        "f.yaml", c)
                  .ok());
  EXPECT_EQ(c.collector.http_cors.allowed_origins,
            (std::vector<std::string>{"https://a.example", "https://*.b.example"}));
  EXPECT_EQ(c.collector.http_cors.max_age, std::chrono::seconds(600));
  auto r = Load({"--query.http.cors.allowed_headers=X-Tenant, Authorization"},
                {"SKUA_QUERY_HTTP_CORS_ALLOWED_ORIGINS=https://grafana.example"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->config.query.http_cors.allowed_origins,
            (std::vector<std::string>{"https://grafana.example"}));
  EXPECT_EQ(r->config.query.http_cors.allowed_headers,
            (std::vector<std::string>{"X-Tenant", "Authorization"}));
  auto bad = Load({"--query.http.cors.allowed_origins=https://*.*.example"}, {});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("query.http.cors.allowed_origins"), std::string::npos);
}

}  // namespace
}  // namespace skua::config
