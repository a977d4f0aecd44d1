#include "workflows/placement/placement.h"

#include <algorithm>
#include <cmath>

#include "workflows/placement/strategies.h"

namespace berth::placement {
using namespace internal;
using json = nlohmann::json;

std::vector<std::string> StrategyNames() {
  return {"depth-first", "breadth-first", "least-containers", "random", "lowest-cpu", "binpack", "spread",
          "max-containers", "max-cpu", "hostname", "labels", "affinity", "constraint", "distinct-hosts", "group"};
}

Result<Chain> Chain::Parse(const json& spec) {
  Chain c;
  if (spec.is_null()) return c;
  json list = spec.is_array() ? spec : json::array({spec});
  for (size_t i = 0; i < list.size(); ++i) {
    const json& e = list[i];
    Result<std::shared_ptr<Strategy>> s = InvalidArgument("");
    if (e.is_string()) s = MakeEntry(e.get<std::string>(), nullptr);
    else if (e.is_object() && e.size() == 1) s = MakeEntry(e.begin().key(), &e.begin().value());
    else s = InvalidArgument("each entry is a strategy name or a one-key map (max-containers: 4)");
    if (!s.ok()) return InvalidArgument("placement entry " + std::to_string(i + 1) + ": " + s.status().message());
    c.strategies_.push_back(std::move(s).value());
  }
  return c;
}

void Chain::Append(Chain&& more) {
  for (auto& s : more.strategies_) strategies_.push_back(std::move(s));
}

std::vector<std::string> Chain::Names() const {
  std::vector<std::string> out;
  for (const auto& s : strategies_) out.push_back(s->name());
  return out;
}

json Decision::ToJson() const {
  json rej = json::array();
  for (const auto& r : rejected) rej.push_back({{"host", r.host}, {"strategy", r.strategy}, {"reason", r.reason}});
  return {{"host", host}, {"score", score}, {"examined", examined}, {"candidates", candidates},
          {"rejected", rej}, {"rejected_total", rejected_total}};
}

Result<Decision> Chain::Place(const std::vector<Host>& hosts, const Request& r) const {
  static const std::shared_ptr<const Strategy> kCordon = Cordon(), kCapacity = Capacity();
  static const std::shared_ptr<const Strategy> kDepth = MakeOrder("depth-first");
  const size_t n = hosts.size();
  if (n == 0) return Failed("no host to place " + r.container + " on: the cloud has none (`berth host add`)");
  std::vector<const Strategy*> filters = {kCordon.get(), kCapacity.get()}, orders;
  for (const auto& s : strategies_) (s->orders() ? orders : filters).push_back(s.get());
  if (orders.empty()) orders.push_back(kDepth.get());
  const Strategy* primary = orders.back();
  const Request* req = &r;
  Request grouped;
  if (std::any_of(filters.begin(), filters.end(), [](const Strategy* f) { return f->groups(); })) {
    grouped = r;
    const std::string key = ServiceKey(r);
    for (const Host& h : hosts)
      if (Count(h.services, key) > 0) {
        grouped.group_host = h.name;
        break;
      }
    req = &grouped;
  }
  const size_t k = n <= 64 ? n : size_t(std::ceil(std::log2(double(n)))) + 2;
  // Small clouds are examined whole, from the first host; large ones from a point chosen by
  // the container, so that sampled decisions do not all crowd the first hosts.
  const size_t start = primary->name() == "depth-first" || n <= 64 ? 0 : Fnv(r.container) % n;
  Decision d;
  std::vector<size_t> cand;
  cand.reserve(std::min(k, n));
  std::string why;
  for (size_t step = 0; step < n && cand.size() < k; ++step) {
    size_t i = (start + step) % n;
    ++d.examined;
    bool ok = true;
    for (const Strategy* f : filters) {
      why.clear();
      if (f->Admit(hosts[i], *req, &why)) continue;
      ok = false;
      ++d.rejected_total;
      if (d.rejected.size() < kMaxRejections) d.rejected.push_back({hosts[i].name, f->name(), why});
      break;
    }
    if (ok) cand.push_back(i);
  }
  d.candidates = cand.size();
  if (cand.empty()) {
    // Grouped by strategy, in chain order: which strategy rejected which host, and why.
    std::string msg = "no host fits " + r.container + ": of " + std::to_string(n) + " host" + (n == 1 ? "" : "s");
    std::vector<std::string> order;
    std::map<std::string, std::pair<size_t, std::string>> by;
    for (const auto& x : d.rejected) {
      auto& [count, text] = by[x.strategy];
      if (count == 0) order.push_back(x.strategy);
      if (count < 5) text += (count ? ", " : "") + x.host + " (" + x.reason + ")";
      ++count;
    }
    for (const auto& s : order) msg += "; " + s + " rejected " + by[s].second + (by[s].first > 5 ? " and " + std::to_string(by[s].first - 5) + " more" : "");
    if (d.rejected_total > d.rejected.size()) msg += "; " + std::to_string(d.rejected_total - d.rejected.size()) + " more rejections not listed";
    return Failed(msg);
  }
  for (const Strategy* o : orders) {
    std::vector<std::pair<double, size_t>> keyed;
    keyed.reserve(cand.size());
    for (size_t i : cand) keyed.push_back({o->Key(hosts[i], *req, i), i});
    std::stable_sort(keyed.begin(), keyed.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    for (size_t j = 0; j < cand.size(); ++j) cand[j] = keyed[j].second;
  }
  d.host = hosts[cand[0]].name;
  d.score = primary->Key(hosts[cand[0]], *req, cand[0]);
  return d;
}

}  // namespace berth::placement
