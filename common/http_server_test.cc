// The HTTP server on loopback: oversize bodies, busy addresses, unreadable requests, the body
// budget, the connection cap, and long requests beside cheap ones.

#include "common/http_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>

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

HttpServerOptions Options(std::string name, std::string endpoint, uint64_t max_body, int threads) {
  HttpServerOptions o;
  o.name = std::move(name);
  o.endpoint = std::move(endpoint);
  o.max_body_bytes = max_body;
  o.threads = threads;
  return o;
}

// Opens a connection to 127.0.0.1:port (the caller closes it); -1 on failure.
int Connect(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

uint16_t PortOf(const HttpServer& s) {
  auto hp = SplitEndpoint(s.address());
  return hp.ok() ? hp->second : 0;
}

TEST(HttpServerTest, ServesHandlerAndReportsOversizeBodies) {
  auto server =
      HttpServer::Start(Options("test", "127.0.0.1:0", 16, 2), [](const HttpRequest& req) {
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
  auto a = HttpServer::Start(Options("a", "127.0.0.1:0", 16, 1),
                             [](const HttpRequest&) { return HttpResponse{}; });
  ASSERT_TRUE(a.ok());
  auto b = HttpServer::Start(Options("b", (*a)->address(), 16, 1),
                             [](const HttpRequest&) { return HttpResponse{}; });
  EXPECT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), absl::StatusCode::kUnavailable);
}

TEST(HttpServerTest, AnswersUnreadableRequestsAsRfc9112Says) {
  auto server = HttpServer::Start(Options("test", "127.0.0.1:0", 1024, 1),
                                  [](const HttpRequest&) { return HttpResponse{}; });
  ASSERT_TRUE(server.ok());
  uint16_t port = PortOf(**server);
  std::string conflicting = RoundTrip(
      port, "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello");
  EXPECT_EQ(conflicting.rfind("HTTP/1.1 400", 0), 0u) << conflicting;
  std::string headers = RoundTrip(
      port, "GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(70 * 1024, 'a') + "\r\n\r\n");
  EXPECT_EQ(headers.rfind("HTTP/1.1 431", 0), 0u) << headers.substr(0, 100);
  std::string url =
      RoundTrip(port, "GET /" + std::string(1 << 20, 'a') + " HTTP/1.1\r\nHost: t\r\n\r\n");
  EXPECT_EQ(url.rfind("HTTP/1.1 414", 0), 0u) << url.substr(0, 100);
  std::string garbage = RoundTrip(port, "\x01\x02 nonsense\r\n\r\n");
  EXPECT_EQ(garbage.rfind("HTTP/1.1 400", 0), 0u) << garbage;
  // Still serving.
  std::string ok = RoundTrip(port, "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(ok.rfind("HTTP/1.1 200", 0), 0u) << ok;
}

TEST(HttpServerTest, ReservesBodiesFromTheBudget) {
  MemoryBudget budget(100);
  auto options = Options("test", "127.0.0.1:0", 1024, 1);
  options.body_budget = &budget;
  options.retry_after_seconds = 3;
  auto server = HttpServer::Start(options, [&](const HttpRequest& req) {
    HttpResponse r;
    r.body = std::to_string(budget.used()) + " " + req.body;
    return r;
  });
  ASSERT_TRUE(server.ok());
  uint16_t port = PortOf(**server);
  std::string fits = RoundTrip(
      port, "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 60\r\nConnection: close\r\n\r\n" +
                std::string(60, 'x'));
  EXPECT_NE(fits.find("\r\n\r\n60 xxx"), std::string::npos) << fits;
  // A client holding a body that is never completed keeps its reservation...
  int holder = Connect(port);
  ASSERT_GE(holder, 0);
  std::string partial = "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 60\r\n\r\nabc";
  ASSERT_EQ(write(holder, partial.data(), partial.size()), static_cast<ssize_t>(partial.size()));
  for (int i = 0; i < 200 && budget.used() == 0; ++i) usleep(5000);
  EXPECT_EQ(budget.used(), 60u);
  // ...so the next one does not fit and is refused at once, before its body is read.
  std::string refused = RoundTrip(
      port, "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 60\r\n\r\n" + std::string(60, 'x'));
  EXPECT_EQ(refused.rfind("HTTP/1.1 429", 0), 0u) << refused;
  EXPECT_NE(refused.find("Retry-After: 3"), std::string::npos) << refused;
  close(holder);
  for (int i = 0; i < 200 && budget.used() != 0; ++i) usleep(5000);
  EXPECT_EQ(budget.used(), 0u);
}

TEST(HttpServerTest, StopsAcceptingAtTheConnectionCapAndResumes) {
  auto options = Options("test", "127.0.0.1:0", 1024, 1);
  options.max_connections = 2;
  auto server = HttpServer::Start(options, [](const HttpRequest&) { return HttpResponse{}; });
  ASSERT_TRUE(server.ok());
  uint16_t port = PortOf(**server);
  int a = Connect(port), b = Connect(port);
  ASSERT_GE(a, 0);
  ASSERT_GE(b, 0);
  usleep(50000);
  // A third connection is left in the backlog: it gets no answer while two are open...
  int c = Connect(port);
  ASSERT_GE(c, 0);
  std::string get = "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
  ASSERT_EQ(write(c, get.data(), get.size()), static_cast<ssize_t>(get.size()));
  pollfd p{c, POLLIN, 0};
  EXPECT_EQ(poll(&p, 1, 200), 0);
  // ...and is served once one of them closes.
  close(a);
  EXPECT_EQ(poll(&p, 1, 5000), 1);
  char buf[64] = {};
  EXPECT_GT(read(c, buf, sizeof(buf) - 1), 0);
  EXPECT_EQ(std::string(buf).rfind("HTTP/1.1 200", 0), 0u) << buf;
  close(b);
  close(c);
}

TEST(HttpServerTest, LongRequestsDoNotHoldUpCheapOnes) {
  std::atomic<bool> release{false};
  auto options = Options("test", "127.0.0.1:0", 1024, 1);
  options.runs_long = [](const HttpRequest& req) { return req.path == "/slow"; };
  options.long_threads = 1;
  auto server = HttpServer::Start(options, [&](const HttpRequest& req) {
    while (req.path == "/slow" && !release.load()) usleep(1000);
    HttpResponse r;
    r.body = req.path;
    return r;
  });
  ASSERT_TRUE(server.ok());
  uint16_t port = PortOf(**server);
  int slow = Connect(port);
  std::string get = "GET /slow HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
  ASSERT_EQ(write(slow, get.data(), get.size()), static_cast<ssize_t>(get.size()));
  // The single I/O thread still answers while the slow request runs.
  std::string fast = RoundTrip(port, "GET /fast HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  EXPECT_NE(fast.find("/fast"), std::string::npos) << fast;
  release = true;
  char buf[256] = {};
  EXPECT_GT(read(slow, buf, sizeof(buf) - 1), 0);
  EXPECT_NE(std::string(buf).find("/slow"), std::string::npos);
  close(slow);
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
