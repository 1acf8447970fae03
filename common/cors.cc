// CORS for the HTTP ports: preflight answers and the headers of answers to allowed origins.

#include "common/cors.h"

#include <algorithm>
#include <cctype>
#include <memory>
#include <string_view>

namespace skua::common {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool MatchesPattern(std::string_view pattern, std::string_view origin) {
  auto star = pattern.find('*');
  if (star == std::string_view::npos) return pattern == origin;
  std::string_view prefix = pattern.substr(0, star), suffix = pattern.substr(star + 1);
  return origin.size() >= prefix.size() + suffix.size() && origin.starts_with(prefix) &&
         origin.ends_with(suffix);
}

bool Safelisted(std::string_view lower_header) {
  return lower_header == "accept" || lower_header == "accept-language" ||
         lower_header == "content-language" || lower_header == "content-type";
}

void AddVary(HttpResponse& r, std::string_view value) {
  for (auto& [name, v] : r.headers) {
    if (AsciiLower(name) == "vary") {
      v += ", ";
      v += value;
      return;
    }
  }
  r.headers.emplace_back("Vary", std::string(value));
}

struct Cors {
  CorsPolicy policy;
  std::vector<std::string> methods;
  std::vector<std::string> lower_headers;  // policy.allowed_headers, lowercased
  bool any_header = false;
  HttpHandler handler;

  bool AllowsHeader(std::string_view lower) const {
    return any_header || Safelisted(lower) ||
           std::find(lower_headers.begin(), lower_headers.end(), lower) != lower_headers.end();
  }

  std::string AllowOriginValue(const std::string& origin) const {
    bool any = std::find(policy.allowed_origins.begin(), policy.allowed_origins.end(), "*") !=
               policy.allowed_origins.end();
    return any ? "*" : origin;
  }

  HttpResponse Preflight(const HttpRequest& req, const std::string& origin,
                         const std::string& method) const {
    HttpResponse r;
    r.status = 204;
    r.content_type.clear();
    AddVary(r, "Origin, Access-Control-Request-Method, Access-Control-Request-Headers");
    if (!policy.AllowsOrigin(origin)) return r;
    if (std::find(methods.begin(), methods.end(), method) == methods.end()) return r;
    std::string requested;
    if (const std::string* h = req.Header("access-control-request-headers")) {
      std::string_view rest = *h;
      while (!rest.empty()) {
        auto comma = rest.find(',');
        std::string name = AsciiLower(Trim(rest.substr(0, comma)));
        rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
        if (name.empty()) continue;
        if (!AllowsHeader(name)) return r;
        if (!requested.empty()) requested += ", ";
        requested += name;
      }
    }
    r.headers.emplace_back("Access-Control-Allow-Origin", AllowOriginValue(origin));
    r.headers.emplace_back("Access-Control-Allow-Methods", method);
    if (!requested.empty()) r.headers.emplace_back("Access-Control-Allow-Headers", requested);
    if (policy.max_age.count() > 0) {
      r.headers.emplace_back("Access-Control-Max-Age", std::to_string(policy.max_age.count()));
    }
    return r;
  }

  HttpResponse Handle(const HttpRequest& req) const {
    const std::string* origin = req.Header("origin");
    if (origin == nullptr) return handler(req);
    const std::string* method = req.Header("access-control-request-method");
    if (req.method == "OPTIONS" && method != nullptr) return Preflight(req, *origin, *method);
    HttpResponse r = handler(req);
    AddVary(r, "Origin");
    if (policy.AllowsOrigin(*origin)) {
      r.headers.emplace_back("Access-Control-Allow-Origin", AllowOriginValue(*origin));
    }
    return r;
  }
};

}  // namespace

bool CorsPolicy::AllowsOrigin(std::string_view origin) const {
  std::string lower = AsciiLower(origin);
  for (const auto& pattern : allowed_origins) {
    if (pattern == "*" || MatchesPattern(AsciiLower(pattern), lower)) return true;
  }
  return false;
}

HttpHandler WithCors(CorsPolicy policy, std::vector<std::string> methods, HttpHandler handler) {
  if (!policy.enabled()) return handler;
  auto cors = std::make_shared<Cors>();
  for (const auto& h : policy.allowed_headers) {
    cors->any_header = cors->any_header || h == "*";
    cors->lower_headers.push_back(AsciiLower(h));
  }
  cors->policy = std::move(policy);
  cors->methods = std::move(methods);
  cors->handler = std::move(handler);
  return [cors](const HttpRequest& req) { return cors->Handle(req); };
}

}  // namespace skua::common
