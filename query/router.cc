// The route table: matching a path against patterns with {param} and {param*}.

#include "query/router.h"

namespace skua::query {
namespace {

// The segments of a path after its leading '/'; "/a//b" has an empty middle segment.
std::vector<std::string_view> Segments(std::string_view path) {
  std::vector<std::string_view> out;
  if (path.empty() || path[0] != '/') return out;
  path.remove_prefix(1);
  while (true) {
    auto slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

}  // namespace

void Router::Add(std::string pattern, int id) {
  Route r{pattern, id, {}, {}, false};
  if (auto star = r.pattern.find("*}"); star != std::string::npos) r.pattern.erase(star, 1);
  for (std::string_view seg : Segments(pattern)) {
    bool param = seg.size() >= 2 && seg.front() == '{' && seg.back() == '}';
    r.is_param.push_back(param);
    r.literals.emplace_back(param ? std::string_view() : seg);
    if (param && seg.size() >= 3 && seg[seg.size() - 2] == '*') r.rest = true;
  }
  routes_.push_back(std::move(r));
}

std::optional<Router::Match> Router::Find(std::string_view path) const {
  std::vector<std::string_view> segs = Segments(path);
  for (const Route& r : routes_) {
    const size_t n = r.literals.size();
    if (r.rest ? segs.size() < n : segs.size() != n) continue;
    Match m{r.id, &r.pattern, {}};
    bool ok = true;
    for (size_t i = 0; i < n && ok; ++i) {
      if (!r.is_param[i]) {
        ok = segs[i] == r.literals[i];
      } else if (r.rest && i + 1 == n) {
        // From this segment to the end of the path.
        const char* begin = segs[i].data();
        std::string_view rest(begin, static_cast<size_t>(path.data() + path.size() - begin));
        ok = !rest.empty();
        m.params.push_back(rest);
      } else {
        ok = !segs[i].empty();
        m.params.push_back(segs[i]);
      }
    }
    if (ok) return m;
  }
  return std::nullopt;
}

}  // namespace skua::query
