#include "common/http_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace skua::common {
namespace {

// Sends raw bytes to 127.0.0.1:port and returns everything read until the peer closes.
std::string RoundTrip(uint16_t port, const std::string& request) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return "";
  size_t sent = 0;
  while (sent < request.size()) {
    ssize_t n = write(fd, request.data() + sent, request.size() - sent);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
  close(fd);
  return out;
}

uint16_t PortOf(const HttpServer& s) {
  auto hp = SplitEndpoint(s.address());
  return hp.ok() ? hp->second : 0;
}

TEST(HttpServerTest, ServesHandlerAndReportsOversizeBodies) {
  auto server = HttpServer::Start({"test", "127.0.0.1:0", 16, 2}, [](const HttpRequest& req) {
    HttpResponse r;
    r.content_type = "text/plain";
    r.body = req.body_too_large
                 ? "too large"
                 : req.method + " " + req.path + " ?" + req.query + " " + req.body +
                       " ct=" + (req.Header("content-type") ? *req.Header("content-type") : "");
    return r;
  });
  ASSERT_TRUE(server.ok()) << server.status();
  uint16_t port = PortOf(**server);
  ASSERT_NE(port, 0);
  std::string resp = RoundTrip(port,
                               "POST /a/b?x=1 HTTP/1.1\r\nHost: t\r\nContent-Type: Foo\r\n"
                               "Content-Length: 5\r\nConnection: close\r\n\r\nhello");
  EXPECT_NE(resp.find("200 OK"), std::string::npos) << resp;
  EXPECT_NE(resp.find("POST /a/b ?x=1 hello ct=Foo"), std::string::npos) << resp;
  std::string big = RoundTrip(
      port, "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n" + std::string(100, 'x'));
  EXPECT_NE(big.find("too large"), std::string::npos) << big;
  (*server)->Stop();
}

TEST(HttpServerTest, RefusesAnAddressInUse) {
  auto a = HttpServer::Start({"a", "127.0.0.1:0", 16, 1},
                             [](const HttpRequest&) { return HttpResponse{}; });
  ASSERT_TRUE(a.ok());
  auto b = HttpServer::Start({"b", (*a)->address(), 16, 1},
                             [](const HttpRequest&) { return HttpResponse{}; });
  EXPECT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), absl::StatusCode::kUnavailable);
}

TEST(QueryStringTest, DecodesLikeGo) {
  auto q = ParseQueryString("tag=a%3Ab&tag=c:d&service=my+svc&empty=&flag&bad=%zz");
  ASSERT_EQ(q.size(), 5u);
  EXPECT_EQ(q[0], (std::pair<std::string, std::string>{"tag", "a:b"}));
  EXPECT_EQ(q[1].second, "c:d");
  EXPECT_EQ(q[2].second, "my svc");
  EXPECT_EQ(q[3].second, "");
  EXPECT_EQ(q[4].first, "flag");
  EXPECT_EQ(PercentDecode("a+b%20c", false), "a+b c");
  EXPECT_FALSE(PercentDecode("%4", true));
}

TEST(EndpointTest, SplitsHostAndPort) {
  auto a = SplitEndpoint("0.0.0.0:4317");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->first, "0.0.0.0");
  EXPECT_EQ(a->second, 4317);
  auto b = SplitEndpoint("[::1]:80");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->first, "::1");
  EXPECT_FALSE(SplitEndpoint("nope").ok());
  EXPECT_FALSE(SplitEndpoint("h:99999").ok());
}

}  // namespace
}  // namespace skua::common
