// HTTP/1.1 requests as a client sends them, through Skua's real HTTP server on loopback: any
// bytes get an HTTP answer (or a close, for an incomplete request), never a crash; and the
// query-string decoding every handler uses.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "common/http_server.h"
#include "common/memory_budget.h"

namespace {

uint16_t ServerPort() {
  static skua::common::MemoryBudget budget(64 << 20);
  static std::unique_ptr<skua::common::HttpServer> server = [] {
    skua::common::HttpServerOptions o;
    o.name = "fuzz";
    o.endpoint = "127.0.0.1:0";
    o.max_body_bytes = 1 << 20;
    o.threads = 1;
    o.body_budget = &budget;
    o.runs_long = [](const skua::common::HttpRequest& r) { return r.path == "/long"; };
    auto s = skua::common::HttpServer::Start(o, [](const skua::common::HttpRequest& req) {
      skua::common::HttpResponse r;
      r.body = req.method + " " + req.path + " " + std::to_string(req.body.size());
      return r;
    });
    if (!s.ok()) abort();
    return std::move(*s);
  }();
  auto hp = skua::common::SplitEndpoint(server->address());
  return hp->second;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)skua::common::ParseQueryString(text);
  (void)skua::common::PercentDecode(text, true);

  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(ServerPort());
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) abort();
  // Closed with a reset once the server has closed its side: neither end keeps the connection
  // in TIME_WAIT, so hundreds of thousands of inputs do not run out of loopback ports.
  linger reset{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
  timeval timeout{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  size_t sent = 0;
  while (sent < size) {
    ssize_t n = send(fd, data + sent, size - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  shutdown(fd, SHUT_WR);
  std::string answer;
  char buf[4096];
  ssize_t n;
  while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) answer.append(buf, static_cast<size_t>(n));
  close(fd);
  if (!answer.empty() && answer.rfind("HTTP/1.", 0) != 0) __builtin_trap();
  return 0;
}
