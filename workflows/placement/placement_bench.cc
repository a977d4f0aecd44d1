// Placement decisions/s for a 3-strategy chain over 10,000 hosts already holding 100,000
// containers, from the real strategy code, in memory. Baseline in the same run: the same
// decisions with every host examined (no candidate limit: what a scheduler without Nomad's
// log2(n) limit pays). Prints one JSON line.
//   placement_bench [HOSTS] [CONTAINERS] [DECISIONS]
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "workflows/placement/placement.h"

using namespace berth::placement;
using json = nlohmann::json;

int main(int argc, char** argv) {
  size_t hosts_n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 10'000;
  size_t containers = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 100'000;
  size_t decisions = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 200'000;
  std::vector<Host> hosts(hosts_n);
  for (size_t i = 0; i < hosts_n; ++i) {
    hosts[i].name = "host-" + std::to_string(i);
    hosts[i].cpus = 16;
    hosts[i].memory = int64_t(64) << 30;
    hosts[i].labels["zone"] = i % 3 ? "a" : "b";
  }
  for (size_t c = 0; c < containers; ++c) {
    Host& h = hosts[(c * 7919) % hosts_n];
    h.containers++;
    h.cpus_reserved += 0.1;
    h.services["app" + std::to_string(c % 50) + "/svc"]++;
  }
  auto chain = Chain::Parse(json::array({{{"labels", {{"zone", "a"}}}}, {{"max-containers", 40}}, "spread"}));
  if (!chain.ok()) return std::fprintf(stderr, "%s\n", chain.status().ToString().c_str()), 1;
  std::vector<std::string> names(1024);
  for (size_t i = 0; i < names.size(); ++i) names[i] = "app-web-" + std::to_string(i);
  auto run = [&](const std::vector<Host>& hs, size_t n, size_t* examined) {
    auto t0 = std::chrono::steady_clock::now();
    for (size_t i = 0; i < n; ++i) {
      Request r{"app", "web", names[i % names.size()], 0.1, 0};
      auto d = chain->Place(hs, r);
      if (!d.ok()) std::abort();
      *examined += d->examined;
    }
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  size_t ex = 0, ex_base = 0;
  double s = run(hosts, decisions, &ex);
  // Baseline: a full scan of every host per decision with the same three tests inlined
  // (what a scheduler without a candidate limit pays, at its cheapest).
  volatile size_t sink = 0;
  size_t base_n = std::max<size_t>(decisions / 100, 100);
  auto t0 = std::chrono::steady_clock::now();
  for (size_t i = 0; i < base_n; ++i) {
    Request r{"app", "web", names[i % names.size()], 0.1, 0};
    double best = 1e18;
    size_t best_i = 0;
    for (size_t j = 0; j < hosts.size(); ++j) {
      const Host& h = hosts[j];
      auto it = h.labels.find("zone");
      if (it == h.labels.end() || it->second != "a" || h.containers >= 40) continue;
      double key = (h.cpus_reserved + r.cpus) / h.cpus;
      if (key < best) best = key, best_i = j;
      ++ex_base;
    }
    sink += best_i;
  }
  double base_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  // A chain with group: each decision also looks over every host for the group's (O(n)).
  auto group = Chain::Parse(json::array({"group", {{"labels", {{"zone", "a"}}}}, "spread"}));
  if (!group.ok()) return std::fprintf(stderr, "%s\n", group.status().ToString().c_str()), 1;
  size_t group_n = std::max<size_t>(decisions / 100, 100);
  t0 = std::chrono::steady_clock::now();
  for (size_t i = 0; i < group_n; ++i) {
    Request r{"app", "web", names[i % names.size()], 0.1, 0};
    if (!group->Place(hosts, r).ok()) std::abort();
  }
  double group_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  double per_s = decisions / s, base_per_s = base_n / base_s;
  std::printf("{\"bench\":\"placement\",\"hosts\":%zu,\"containers\":%zu,\"chain\":\"labels,max-containers,spread\","
              "\"decisions\":%zu,\"decisions_per_s\":%.0f,\"examined_per_decision\":%.1f,"
              "\"baseline\":\"full scan of every host, hand-inlined tests\",\"baseline_decisions_per_s\":%.0f,"
              "\"ratio\":%.1f,\"group_chain\":\"group,labels,spread\",\"group_decisions_per_s\":%.0f}\n",
              hosts_n, containers, decisions, per_s, double(ex) / decisions, base_per_s, per_s / base_per_s,
              group_n / group_s);
  return 0;
}
