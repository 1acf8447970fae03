// Jaeger's clock-skew adjuster for its span model.

#include "query/clock_skew.h"

#include <cstdio>
#include <optional>
#include <unordered_map>

namespace skua::query {

std::string GoDuration(int64_t d) {
  if (d == 0) return "0s";
  std::string sign = d < 0 ? "-" : "";
  uint64_t u = d < 0 ? ~static_cast<uint64_t>(d) + 1 : static_cast<uint64_t>(d);
  // `v` with `digits` decimal places, trailing zeros (and a bare point) dropped.
  auto fixed = [](uint64_t v, int digits) {
    uint64_t scale = 1;
    for (int i = 0; i < digits; ++i) scale *= 10;
    std::string out = std::to_string(v / scale);
    if (uint64_t frac = v % scale; frac != 0) {
      std::string f = std::to_string(frac);
      f.insert(0, static_cast<size_t>(digits) - f.size(), '0');
      while (f.back() == '0') f.pop_back();
      out += "." + f;
    }
    return out;
  };
  if (u < 1'000) return sign + std::to_string(u) + "ns";
  if (u < 1'000'000) return sign + fixed(u, 3) + "\u00b5s";
  if (u < 1'000'000'000) return sign + fixed(u, 6) + "ms";
  uint64_t hours = u / 3'600'000'000'000, minutes = u / 60'000'000'000 % 60;
  std::string out = sign;
  if (hours > 0) out += std::to_string(hours) + "h";
  if (hours > 0 || minutes > 0) out += std::to_string(minutes) + "m";
  return out + fixed(u % 60'000'000'000, 9) + "s";
}

std::vector<std::vector<std::string>> ClockSkewWarnings(const std::vector<SkewSpan>& spans,
                                                        SkewWording wording) {
  std::vector<std::vector<std::string>> warnings(spans.size());
  // The first span of each ID is a node; later ones only get a warning.
  std::vector<size_t> nodes;
  std::unordered_map<uint64_t, size_t> by_id;  // span ID -> node
  for (size_t i = 0; i < spans.size(); ++i) {
    if (!by_id.try_emplace(spans[i].span_id, nodes.size()).second) {
      warnings[i].push_back("duplicate span IDs; skipping clock skew adjustment");
      continue;
    }
    nodes.push_back(i);
  }
  std::vector<std::vector<size_t>> children(nodes.size());
  std::vector<size_t> roots;
  for (size_t n = 0; n < nodes.size(); ++n) {
    const SkewSpan& s = spans[nodes[n]];
    if (s.parent_id == 0) {
      roots.push_back(n);
    } else if (auto p = by_id.find(s.parent_id); p != by_id.end()) {
      children[p->second].push_back(n);
    } else {
      char id[17];
      std::snprintf(id, sizeof(id), "%016llx", static_cast<unsigned long long>(s.parent_id));
      warnings[nodes[n]].push_back(
          wording == SkewWording::kSpanModel
              ? std::string("invalid parent span IDs=") + id + "; skipping clock skew adjustment"
              : std::string("parent span ID=") + id +
                    " is not in the trace; skipping clock skew adjustment");
      roots.push_back(n);
    }
  }
  // The delta that would move `child` inside `parent` (Jaeger's calculateSkew).
  auto skew_of = [](const SkewSpan& child, const SkewSpan& parent) -> int64_t {
    if (child.duration_ns > parent.duration_ns) {
      return child.start_ns < parent.start_ns ? parent.start_ns - child.start_ns : 0;
    }
    if (child.start_ns >= parent.start_ns &&
        child.start_ns + child.duration_ns <= parent.start_ns + parent.duration_ns) {
      return 0;
    }
    return parent.start_ns + (parent.duration_ns - child.duration_ns) / 2 - child.start_ns;
  };
  // Depth first from every root; a skew is inherited by children on the same known host.
  struct Visit {
    size_t node;
    std::optional<size_t> parent;
    std::string host;
    int64_t delta;
  };
  std::vector<Visit> stack;
  for (size_t r : roots) stack.push_back({r, std::nullopt, spans[nodes[r]].host, 0});
  std::vector<bool> seen(nodes.size(), false);
  while (!stack.empty()) {
    Visit v = std::move(stack.back());
    stack.pop_back();
    if (seen[v.node]) continue;
    seen[v.node] = true;
    const SkewSpan& s = spans[nodes[v.node]];
    if ((s.host != v.host || s.host.empty()) && v.parent) {
      v.host = s.host;
      v.delta = skew_of(s, spans[nodes[*v.parent]]);
    }
    if (v.delta != 0) {
      warnings[nodes[v.node]].push_back(
          "clock skew adjustment disabled; not applying calculated delta of " +
          GoDuration(v.delta));
    }
    for (size_t c : children[v.node]) stack.push_back({c, v.node, v.host, v.delta});
  }
  return warnings;
}

}  // namespace skua::query
