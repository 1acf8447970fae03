// CORS: preflight answers for allowed and refused origins, methods and headers; the header on
// answers to allowed origins; and nothing at all when CORS is off.

#include "common/cors.h"

#include <gtest/gtest.h>

namespace skua::common {
namespace {

HttpRequest Request(std::string method, std::vector<std::pair<std::string, std::string>> headers) {
  HttpRequest r;
  r.method = std::move(method);
  r.path = "/v1/traces";
  r.target = r.path;
  r.headers = std::move(headers);
  return r;
}

const std::string* Header(const HttpResponse& r, std::string_view name) {
  for (const auto& [n, v] : r.headers) {
    if (n == name) return &v;
  }
  return nullptr;
}

HttpHandler Echo() {
  return [](const HttpRequest& req) {
    HttpResponse r;
    r.status = req.method == "POST" ? 200 : 405;
    return r;
  };
}

TEST(CorsTest, OffByDefault) {
  auto h = WithCors(CorsPolicy{}, {"POST"}, Echo());
  auto r = h(Request("OPTIONS",
                     {{"origin", "https://a.example"}, {"access-control-request-method", "POST"}}));
  EXPECT_EQ(r.status, 405);  // the port answers as it would without CORS
  EXPECT_EQ(Header(r, "Access-Control-Allow-Origin"), nullptr);
}

TEST(CorsTest, PreflightOfAnAllowedOrigin) {
  CorsPolicy p;
  p.allowed_origins = {"https://app.example.com", "https://*.example.org"};
  p.allowed_headers = {"X-Tenant"};
  p.max_age = std::chrono::seconds(600);
  auto h = WithCors(p, {"POST"}, Echo());
  auto r = h(Request("OPTIONS", {{"origin", "https://ui.example.org"},
                                 {"access-control-request-method", "POST"},
                                 {"access-control-request-headers", "content-type, x-tenant"}}));
  EXPECT_EQ(r.status, 204);
  ASSERT_NE(Header(r, "Access-Control-Allow-Origin"), nullptr);
  EXPECT_EQ(*Header(r, "Access-Control-Allow-Origin"), "https://ui.example.org");
  EXPECT_EQ(*Header(r, "Access-Control-Allow-Methods"), "POST");
  EXPECT_EQ(*Header(r, "Access-Control-Allow-Headers"), "content-type, x-tenant");
  EXPECT_EQ(*Header(r, "Access-Control-Max-Age"), "600");
  EXPECT_NE(Header(r, "Vary"), nullptr);

  // An allowed origin's request carries the header; a refused origin's does not.
  auto post = h(Request("POST", {{"origin", "HTTPS://APP.example.com"}}));
  EXPECT_EQ(post.status, 200);
  ASSERT_NE(Header(post, "Access-Control-Allow-Origin"), nullptr);
  post = h(Request("POST", {{"origin", "https://evil.example.net"}}));
  EXPECT_EQ(Header(post, "Access-Control-Allow-Origin"), nullptr);
  EXPECT_EQ(post.status, 200);  // the server still answers; the browser withholds it
}

TEST(CorsTest, PreflightsThatAreNotAllowed) {
  CorsPolicy p;
  p.allowed_origins = {"https://app.example.com"};
  auto h = WithCors(p, {"POST"}, Echo());
  auto refused = [&](std::vector<std::pair<std::string, std::string>> headers) {
    auto r = h(Request("OPTIONS", std::move(headers)));
    EXPECT_EQ(r.status, 204);
    return Header(r, "Access-Control-Allow-Origin") == nullptr;
  };
  EXPECT_TRUE(refused(
      {{"origin", "https://other.example.com"}, {"access-control-request-method", "POST"}}));
  EXPECT_TRUE(refused(
      {{"origin", "https://app.example.com"}, {"access-control-request-method", "DELETE"}}));
  EXPECT_TRUE(refused({{"origin", "https://app.example.com"},
                       {"access-control-request-method", "POST"},
                       {"access-control-request-headers", "authorization"}}));
  EXPECT_FALSE(refused({{"origin", "https://app.example.com"},
                        {"access-control-request-method", "POST"},
                        {"access-control-request-headers", "Content-Type"}}));
}

TEST(CorsTest, AnyOrigin) {
  CorsPolicy p;
  p.allowed_origins = {"*"};
  p.allowed_headers = {"*"};
  auto h = WithCors(p, {"GET"}, Echo());
  auto r = h(Request("OPTIONS", {{"origin", "https://x.test"},
                                 {"access-control-request-method", "GET"},
                                 {"access-control-request-headers", "authorization"}}));
  ASSERT_NE(Header(r, "Access-Control-Allow-Origin"), nullptr);
  EXPECT_EQ(*Header(r, "Access-Control-Allow-Origin"), "*");
}

}  // namespace
}  // namespace skua::common
