// HTTP/1.1 requests as a client sends them, through Skua's real HTTP server on loopback: any
// bytes get an HTTP answer (or a close, for an incomplete request), never a crash; and the
// query-string decoding every handler uses.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
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

// A connection to the server from one of 250 loopback source addresses in turn. The harness
// half-closes each connection to mark the end of its input, so its side ends in TIME_WAIT for a
// minute: from one source address, the ~28,000 ephemeral ports would run out after a few
// seconds of inputs wherever the kernel does not reuse them. A connect that still finds none
// free waits and tries again; any other failure is the harness's, not the server's, and says so.
int Connect(uint16_t port) {
  static uint32_t next_source = 0;
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (int attempt = 0;; ++attempt) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
      perror("http_request_fuzz: socket");
      abort();
    }
    int one = 1;
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
    sockaddr_in from{};
    from.sin_family = AF_INET;
    from.sin_addr.s_addr = htonl(0x7F000101u + next_source++ % 250);  // 127.0.1.1 - 127.0.1.250
    if (bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof(from)) == 0 &&
        connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof(to)) == 0) {
      return fd;
    }
    int error = errno;
    close(fd);
    if ((error == EADDRNOTAVAIL || error == EADDRINUSE || error == EINTR) && attempt < 500) {
      usleep(10'000);
      continue;
    }
    fprintf(stderr, "http_request_fuzz: connect to 127.0.0.1:%u: %s\n", port, strerror(error));
    abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)skua::common::ParseQueryString(text);
  (void)skua::common::PercentDecode(text, true);

  int fd = Connect(ServerPort());
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
