// Authentication: bearer tokens and basic users accepted or refused, files re-read on change,
// unusable files refused at start with their line, and no secret in any message.

#include "common/auth.h"

#include <crypt.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace skua::common {
namespace {

class AuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) / ("auth-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& text) {
    auto path = dir_ / name;
    // A new file renamed into place, as Kubernetes swaps a Secret's files.
    auto tmp = dir_ / (name + ".tmp");
    std::ofstream(tmp) << text;
    std::filesystem::rename(tmp, path);
    return path.string();
  }

  // A bcrypt hash of `password` (cost 4: fast).
  static std::string Bcrypt(const std::string& password) {
    crypt_data data{};
    return crypt_r(password.c_str(), "$2b$04$abcdefghijklmnopqrstuu", &data);
  }

  static absl::Status Check(Authenticator& a, const std::string& header) {
    return a.Check(&header);
  }

  std::filesystem::path dir_;
};

TEST_F(AuthTest, BearerTokens) {
  AuthConfig c;
  c.bearer_tokens_file = Write("tokens", "# exporters\ns3cr3t-one\n\n  s3cr3t-two  \n");
  auto a = Authenticator::Create(c, std::chrono::milliseconds(0));
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_TRUE(Check(**a, "Bearer s3cr3t-one").ok());
  EXPECT_TRUE(Check(**a, "bearer s3cr3t-two").ok());
  EXPECT_EQ((*a)->Check(nullptr).code(), absl::StatusCode::kUnauthenticated);
  for (const char* bad : {"Bearer s3cr3t", "Bearer s3cr3t-one-more", "s3cr3t-one", "Basic eDp5"}) {
    absl::Status st = Check(**a, bad);
    EXPECT_EQ(st.code(), absl::StatusCode::kUnauthenticated) << bad;
    EXPECT_EQ(std::string(st.message()).find("s3cr3t"), std::string::npos);
  }
  EXPECT_EQ((*a)->Challenge(), "Bearer realm=\"skua\"");
}

TEST_F(AuthTest, TokensRotateWhenTheFileChanges) {
  AuthConfig c;
  c.bearer_tokens_file = Write("tokens", "old-token\n");
  auto a = Authenticator::Create(c, std::chrono::milliseconds(0));
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(Check(**a, "Bearer old-token").ok());
  Write("tokens", "new-token\n");
  EXPECT_TRUE(Check(**a, "Bearer new-token").ok());
  EXPECT_FALSE(Check(**a, "Bearer old-token").ok());
  // A version that cannot be used leaves the previous one in force.
  Write("tokens", "\n# nothing\n");
  EXPECT_TRUE(Check(**a, "Bearer new-token").ok());
}

TEST_F(AuthTest, BasicUsersFromHtpasswd) {
  AuthConfig c;
  c.htpasswd_file = Write("htpasswd", "grafana:" + Bcrypt("pa55word") + "\n");
  auto a = Authenticator::Create(c, std::chrono::milliseconds(0));
  ASSERT_TRUE(a.ok()) << a.status();
  // "grafana:pa55word", "grafana:wrong", "nobody:pa55word"
  EXPECT_TRUE(Check(**a, "Basic Z3JhZmFuYTpwYTU1d29yZA==").ok());
  EXPECT_TRUE(Check(**a, "Basic Z3JhZmFuYTpwYTU1d29yZA==").ok());  // from the verified cache
  EXPECT_FALSE(Check(**a, "Basic Z3JhZmFuYTp3cm9uZw==").ok());
  EXPECT_FALSE(Check(**a, "Basic bm9ib2R5OnBhNTV3b3Jk").ok());
  EXPECT_FALSE(Check(**a, "Basic !!!").ok());
  EXPECT_FALSE(Check(**a, "Bearer pa55word").ok());  // no tokens configured
  EXPECT_EQ((*a)->Challenge(), "Basic realm=\"skua\"");
  // A changed password takes effect, and the old one's cached verification is dropped.
  Write("htpasswd", "grafana:" + Bcrypt("n3w") + "\n");
  EXPECT_FALSE(Check(**a, "Basic Z3JhZmFuYTpwYTU1d29yZA==").ok());
  EXPECT_TRUE(Check(**a, "Basic Z3JhZmFuYTpuM3c=").ok());
}

TEST_F(AuthTest, UnusableFilesAreRefusedWithTheirLineNotTheirContent) {
  AuthConfig c;
  c.htpasswd_file = Write("htpasswd", "# users\nalice:$apr1$weakhash$SECRETSECRET\n");
  auto a = Authenticator::Create(c);
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.status().message().find("line 2"), absl::string_view::npos);
  EXPECT_EQ(a.status().message().find("SECRET"), absl::string_view::npos);
  c = AuthConfig{};
  c.bearer_tokens_file = (dir_ / "missing").string();
  EXPECT_FALSE(Authenticator::Create(c).ok());
  c.bearer_tokens_file = Write("empty", "\n");
  EXPECT_FALSE(Authenticator::Create(c).ok());
}

TEST_F(AuthTest, HttpHandlerBehindAuthentication) {
  AuthConfig c;
  c.bearer_tokens_file = Write("tokens", "tok\n");
  std::shared_ptr<Authenticator> a = std::move(*Authenticator::Create(c));
  auto h = WithAuth(
      a, [](const HttpRequest& r) { return r.path == "/healthz"; },
      [](const HttpRequest&) {
        return HttpResponse{200, "text/plain", {}, "ok"};
      });
  HttpRequest req;
  req.method = "GET";
  req.path = "/metrics";
  auto r = h(req);
  EXPECT_EQ(r.status, 401);
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0].first, "WWW-Authenticate");
  req.headers = {{"authorization", "Bearer tok"}};
  EXPECT_EQ(h(req).status, 200);
  HttpRequest probe;
  probe.path = "/healthz";
  EXPECT_EQ(h(probe).status, 200);
}

TEST_F(AuthTest, ClientCertificateNames) {
  AuthConfig c;
  c.client_cert_names = {"exporter", "spiffe://cluster/ns/apps/sa/collector"};
  c.bearer_tokens_file = Write("tokens", "tok\n");
  auto a = Authenticator::Create(c, std::chrono::milliseconds(0));
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_TRUE((*a)->Check(nullptr, {"client", "exporter"}).ok());
  EXPECT_TRUE((*a)->Check(nullptr, {"spiffe://cluster/ns/apps/sa/collector"}).ok());
  EXPECT_EQ((*a)->Check(nullptr, {"intruder"}).code(), absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(Check(**a, "Bearer tok").ok());  // other credentials still work
  AuthConfig only_certs;
  only_certs.client_cert_names = {"exporter"};
  auto b = Authenticator::Create(only_certs);
  ASSERT_TRUE(b.ok());
  EXPECT_FALSE(Check(**b, "Bearer tok").ok());
  EXPECT_EQ((*b)->Challenge(), "");
}

}  // namespace
}  // namespace skua::common
