// A route table for the query HTTP API: path patterns of literal segments, `{name}` (one
// non-empty segment, no '/') and `{name*}` (the non-empty rest of the path, '/' included — a
// base64 trace ID may hold one), matched in the order added.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace skua::query {

class Router {
 public:
  // Adds `pattern` (e.g. "/api/services/{service}/operations") as route number `id`.
  void Add(std::string pattern, int id);

  struct Match {
    int id;
    const std::string* pattern;            // the pattern matched, without '*' (a metrics label)
    std::vector<std::string_view> params;  // in pattern order, views into the path
  };
  // The first route whose pattern matches `path` whole, or nullopt.
  std::optional<Match> Find(std::string_view path) const;

 private:
  struct Route {
    std::string pattern;
    int id;
    std::vector<std::string> literals;  // per segment; "" for a parameter
    std::vector<bool> is_param;
    bool rest = false;  // the last parameter takes the rest of the path
  };
  std::vector<Route> routes_;
};

}  // namespace skua::query
