// x-berth.placement (app and service level): a list of placement strategies, each checked
// here with the strategy code itself (workflows/placement), so a bad entry is reported at
// its line:col at load time, not at deploy time.
#include <nlohmann/json.hpp>

#include "workflows/blueprint/compose_reader.h"
#include "workflows/placement/placement.h"

namespace berth::workflows::compose {
namespace {

using json = nlohmann::json;

// A scalar as JSON: integers and decimals as numbers, the rest as strings.
json Scalar(ComposeReader& r, const YAML::Node& n, const Where& w) {
  std::string s = r.String(n, w).value_or("");
  if (!s.empty() && s.find_first_not_of("0123456789.-") == std::string::npos) {
    char* end = nullptr;
    double d = std::strtod(s.c_str(), &end);
    if (end && !*end) {
      if (s.find('.') == std::string::npos) return json(int64_t(d));
      return json(d);
    }
  }
  return json(s);
}

json Value(ComposeReader& r, const YAML::Node& n, const Where& w) {
  if (n.IsSequence()) {
    json out = json::array();
    for (const auto& [item, iw] : r.List(n, w).value_or(Items())) out.push_back(Scalar(r, item, iw));
    return out;
  }
  if (n.IsMap()) {
    json out = json::object();
    for (const Entry& e : r.Map(n, w).value_or(std::vector<Entry>())) out[e.key] = Scalar(r, e.value, e.where);
    return out;
  }
  return Scalar(r, n, w);
}

}  // namespace

std::string PlacementJson(ComposeReader& r, const YAML::Node& n, const Where& w) {
  if (!n.IsSequence()) {
    r.Error(w, "a list of placement strategies (for example [depth-first, {max-containers: 4}])");
    return "";
  }
  json chain = json::array();
  for (const auto& [item, iw] : r.List(n, w).value_or(Items())) {
    json entry;
    if (item.IsMap()) {
      auto entries = r.Map(item, iw).value_or(std::vector<Entry>());
      if (entries.size() != 1) {
        r.Error(iw, "each placement entry is a strategy name or a one-key map (max-containers: 4)");
        continue;
      }
      entry = json{{entries[0].key, Value(r, entries[0].value, entries[0].where)}};
    } else {
      entry = Scalar(r, item, iw);
    }
    auto parsed = placement::Chain::Parse(json::array({entry}));
    if (!parsed.ok()) {
      std::string m = parsed.status().message();
      const std::string prefix = "placement entry 1: ";
      if (m.rfind(prefix, 0) == 0) m = m.substr(prefix.size());
      r.Error(iw, m);
      continue;
    }
    chain.push_back(std::move(entry));
  }
  return chain.dump();
}

}  // namespace berth::workflows::compose
