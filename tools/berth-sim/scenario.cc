#include "tools/berth-sim/scenario.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

namespace berth::sim {
namespace {

const std::vector<std::string> kAppNames = {"shop", "blog", "crm", "wiki", "mail", "chat"};
const std::vector<std::string> kServiceNames = {"db", "cache", "api", "web", "worker", "queue", "auth"};

std::string List(const std::vector<std::string>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + fmt::format("\"{}\"", v[i]);
  return out + "]";
}

ServiceModel DrawService(Rng& rng, const std::string& name, const std::vector<std::string>& earlier,
                         bool back_network) {
  ServiceModel s;
  s.name = name;
  s.replicas = int(rng.Pick(std::vector<int>{1, 1, 2, 2, 3, 4}));
  for (const auto& e : earlier)
    if (rng.Chance(0.35)) s.depends_on.push_back(e);
  s.install = rng.Chance(0.3);
  s.customize = rng.Chance(0.3);
  s.healthcheck = rng.Chance(0.3);
  s.init = rng.Chance(0.3);
  s.back_network = back_network && rng.Chance(0.5);
  s.restart = rng.Pick(std::vector<std::string>{"no", "no", "always", "unless-stopped", "on-failure"});
  s.stop_grace_s = int(rng.Pick(std::vector<int>{0, 1, 2}));
  return s;
}

AppModel DrawApp(Rng& rng, const std::string& name) {
  AppModel a;
  a.name = name;
  a.cache = !rng.Chance(0.15);
  a.back_network = rng.Chance(0.3);
  std::vector<std::string> names = kServiceNames;
  for (size_t i = names.size(); i > 1; --i) std::swap(names[i - 1], names[rng.Below(i)]);
  size_t n = size_t(rng.Pick(std::vector<int>{1, 2, 2, 3, 3, 4, 5, 6}));
  std::vector<std::string> earlier;
  for (size_t i = 0; i < n; ++i) {
    a.services.push_back(DrawService(rng, names[i], earlier, a.back_network));
    earlier.push_back(names[i]);
  }
  return a;
}

// A service nothing depends on (so it may be dropped), or "".
std::string Leaf(Rng& rng, const AppModel& m) {
  std::vector<std::string> leaves;
  for (const auto& s : m.services) {
    bool used = false;
    for (const auto& o : m.services)
      used |= std::count(o.depends_on.begin(), o.depends_on.end(), s.name) > 0;
    if (!used) leaves.push_back(s.name);
  }
  return leaves.empty() || m.services.size() < 2 ? "" : rng.Pick(leaves);
}

// One change to the good model: returns the op (its model is the changed one).
Op Change(Rng& rng, const AppModel& good) {
  Op op;
  op.model = good;
  ServiceModel& s = op.model.services[rng.Below(op.model.services.size())];
  switch (rng.Below(6)) {
    case 0: {
      int to = s.replicas;
      while (to == s.replicas) to = int(rng.Range(1, 4));
      op.what = fmt::format("scale {} {}->{}", s.name, s.replicas, to);
      s.replicas = to;
      break;
    }
    case 1:
      ++s.version;
      op.what = fmt::format("change {} (v{})", s.name, s.version);
      break;
    case 2: {
      std::string leaf = Leaf(rng, op.model);
      if (!leaf.empty()) {
        op.what = "drop service " + leaf;
        auto& v = op.model.services;
        v.erase(std::remove_if(v.begin(), v.end(), [&](const ServiceModel& x) { return x.name == leaf; }),
                v.end());
        break;
      }
      [[fallthrough]];
    }
    case 3: {
      std::set<std::string> have;
      std::vector<std::string> earlier;
      for (const auto& x : op.model.services) have.insert(x.name), earlier.push_back(x.name);
      for (const auto& n : kServiceNames)
        if (!have.count(n)) {
          op.model.services.push_back(DrawService(rng, n, earlier, op.model.back_network));
          op.what = "add service " + n;
          break;
        }
      if (op.what.empty()) {
        ++s.version;
        op.what = fmt::format("change {} (v{})", s.name, s.version);
      }
      break;
    }
    case 4:
      s.customize = !s.customize;
      ++s.version;
      op.what = fmt::format("change {} customize={}", s.name, s.customize);
      break;
    default:
      op.model.cache = !op.model.cache;
      op.what = fmt::format("re-deploy with cache={}", op.model.cache);
      break;
  }
  return op;
}

Op Broken(Rng& rng, const AppModel& good) {
  Op op;
  op.model = good;
  ServiceModel& s = op.model.services[rng.Below(op.model.services.size())];
  switch (rng.Below(4)) {
    case 0: s.install = s.bad_install = true; op.what = "deploy with a failing install in " + s.name; break;
    case 1: s.customize = s.bad_customize = true; op.what = "deploy with a failing customize in " + s.name; break;
    case 2: s.missing_image = true; op.what = "deploy with a missing image in " + s.name; break;
    default: s.healthcheck = s.unhealthy = true; op.what = "deploy with " + s.name + " unhealthy"; break;
  }
  ++s.version;
  return op;
}

AppScenario DrawAppScenario(Rng& rng, const std::string& name) {
  AppScenario a;
  a.initial = DrawApp(rng, name);
  AppModel good = a.initial;
  Op first;
  first.model = good;
  first.app = name;
  first.what = "deploy";
  a.ops.push_back(first);
  bool up = true;
  int n = int(rng.Range(2, 6));
  for (int i = 0; i < n; ++i) {
    Op op;
    if (!up) {
      op.model = good;
      op.what = "deploy again after undeploy";
      op.app = name;
      up = true;
      a.ops.push_back(op);
      continue;
    }
    uint64_t r = rng.Below(100);
    if (r < 15) {
      op.model = good;
      op.what = "re-deploy unchanged";
    } else if (r < 50) {
      op = Change(rng, good);
      good = op.model;
    } else if (r < 60) {
      op = Broken(rng, good);
    } else if (r < 75) {
      op = rng.Chance(0.5) ? Change(rng, good) : Op{Op::kDeploy, name, "", good, 0, ""};
      op.kind = Op::kCancelledDeploy;
      op.cancel_after_events = int(rng.Range(1, 40));
      op.what = "cancel after " + std::to_string(op.cancel_after_events) + " events: " +
                (op.what.empty() ? "re-deploy" : op.what);
      // The cancel may come too late: the model is then deployed, so it becomes the
      // declaration only if the simulator sees the deploy complete.
    } else if (r < 80) {
      Op first = rng.Chance(0.5) ? Change(rng, good) : Op{Op::kDeploy, name, "re-deploy", good, 0, ""};
      op = first;
      op.kind = Op::kRacing;
      op.then_undeploy = rng.Chance(0.3);
      if (op.then_undeploy) {
        op.what = first.what + ", and at once undeploy";
        up = false;
      } else {
        Op second = Change(rng, first.model);
        op.then_model = second.model;
        op.what = first.what + ", and at once " + second.what;
        good = second.model;
      }
    } else if (r < 90) {
      op.kind = Op::kUndeploy;
      op.what = "undeploy";
      up = false;
    } else {
      op.kind = Op::kOperatorStop;
      const ServiceModel& s = rng.Pick(good.services);
      op.container = fmt::format("{}-{}-{}", name, s.name, rng.Range(1, s.replicas));
      op.what = "operator stops " + op.container;
    }
    op.app = name;
    a.ops.push_back(op);
  }
  a.final_model = good;
  return a;
}

}  // namespace

std::string AppModel::Yaml() const {
  std::string y = "name: " + name + "\nservices:\n";
  for (const auto& s : services) {
    y += "  " + s.name + ":\n";
    y += std::string("    image: ") + (s.missing_image ? "berth/missing:1" : "berth/busybox:test") + "\n";
    y += fmt::format("    command: [\"sleep\", \"{}\"]\n", 100000 + s.version);
    y += fmt::format("    environment: {{VERSION: \"v{}\"}}\n", s.version);
    y += fmt::format("    deploy: {{replicas: {}}}\n", s.replicas);
    if (!s.depends_on.empty()) y += "    depends_on: " + List(s.depends_on) + "\n";
    y += "    restart: " + s.restart + "\n";
    if (s.init) y += "    init: true\n";
    if (s.stop_grace_s) y += fmt::format("    stop_grace_period: {}s\n", s.stop_grace_s);
    if (s.healthcheck)
      y += fmt::format("    healthcheck: {{test: [\"CMD-SHELL\", \"{}\"], interval: 1s, retries: 3}}\n",
                       s.unhealthy ? "exit 1" : "true");
    if (s.back_network) y += "    networks: [default, back]\n";
    if (s.install || s.customize || s.distinct_hosts) {
      y += "    x-berth:\n";
      if (s.distinct_hosts) y += "      placement: [distinct-hosts]\n";
      if (s.install)
        y += "      install: " +
             List({"mkdir -p /srv", s.bad_install ? "exit 3" : "echo " + s.name + " > /srv/index"}) + "\n";
      if (s.customize)
        y += "      customize: " +
             List({s.bad_customize ? "exit 4" : "echo $BERTH_INSTANCE > /srv/id"}) + "\n";
    }
  }
  if (back_network) y += "networks:\n  back: {}\n";
  if (!placement.empty() || provision) {
    y += "x-berth:\n";
    if (!placement.empty()) y += fmt::format("  placement: [{}]\n", fmt::join(placement, ", "));
    if (provision) y += fmt::format("  cloud: {{driver: local, max_hosts: {}}}\n", max_hosts);
  }
  return y;
}

bool AppModel::Bad() const {
  for (const auto& s : services)
    if (s.bad_install || s.bad_customize || s.missing_image || s.unhealthy) return true;
  return false;
}

std::string AppModel::Describe() const {
  std::string out;
  for (const auto& s : services) {
    std::vector<std::string> tags;
    if (s.install) tags.push_back("install");
    if (s.customize) tags.push_back("customize");
    if (s.healthcheck) tags.push_back("health");
    if (s.restart != "no") tags.push_back(s.restart);
    if (s.distinct_hosts) tags.push_back("distinct-hosts");
    out += (out.empty() ? "" : ", ") + fmt::format("{} x{}", s.name, s.replicas);
    if (!tags.empty()) out += " [" + fmt::format("{}", fmt::join(tags, ",")) + "]";
    if (!s.depends_on.empty()) out += " <- " + fmt::format("{}", fmt::join(s.depends_on, "+"));
  }
  out += cache ? "" : " (no cache)";
  if (!placement.empty()) out += fmt::format(" placement [{}]", fmt::join(placement, ", "));
  if (provision) out += fmt::format(" provisions up to {} hosts", max_hosts);
  return out;
}

ServiceModel* AppModel::Find(const std::string& service) {
  for (auto& s : services)
    if (s.name == service) return &s;
  return nullptr;
}

Scenario Scenario::Draw(Rng& rng) {
  Scenario sc;
  std::vector<std::string> names = kAppNames;
  int apps = rng.Chance(0.3) ? 2 : 1;
  for (int i = 0; i < apps; ++i) {
    size_t k = i + rng.Below(names.size() - i);
    std::swap(names[i], names[k]);
    sc.apps.push_back(DrawAppScenario(rng, names[i]));
  }
  return sc;
}

std::string HostOp::What() const {
  switch (kind) {
    case kAdd: return "host add " + name;
    case kRemove: return "host remove";
    case kCordon: return "host cordon";
    case kUncordon: return "host uncordon";
    case kPartition: return fmt::format("partition a host for {} s", partition_s);
  }
  return "?";
}

void Scenario::DrawCloud(Rng& rng, Scenario* sc) {
  CloudScenario& c = sc->cloud;
  if (!rng.Chance(0.4)) return;
  c.on = true;
  int hosts = int(rng.Range(1, 3));
  for (int i = 1; i <= hosts; ++i) c.initial.push_back("h" + std::to_string(i));
  int next = hosts + 1;
  size_t steps = 0;
  for (const auto& a : sc->apps) steps = std::max(steps, a.ops.size());
  c.ops.resize(steps);
  for (auto& step : c.ops) {
    if (!rng.Chance(0.5)) continue;
    HostOp op;
    uint64_t r = rng.Below(100);
    if (r < 30) op.kind = HostOp::kAdd, op.name = "h" + std::to_string(next++);
    else if (r < 55) op.kind = HostOp::kRemove;
    else if (r < 70) op.kind = HostOp::kCordon;
    else if (r < 80) op.kind = HostOp::kUncordon;
    else op.kind = HostOp::kPartition, op.partition_s = rng.Range(5, 120);
    op.pick = rng.Next();
    step.push_back(op);
  }
  // The apps' settings: one per app, on every model it declares. Filters that can leave no
  // host (max-containers, distinct-hosts) only where the deploy may provision one.
  for (auto& a : sc->apps) {
    bool provision = rng.Chance(0.5);
    std::vector<std::string> chain;
    std::vector<std::string> orders = {"breadth-first", "least-containers", "spread", "binpack",
                                       "random", "lowest-cpu"};
    int n = int(rng.Range(0, 2));
    for (int i = 0; i < n; ++i) chain.push_back(rng.Pick(orders));
    if (provision && rng.Chance(0.5))
      chain.push_back(fmt::format("{{max-containers: {}}}", rng.Pick(std::vector<int>{4, 6, 8})));
    std::set<std::string> distinct;
    if (provision)
      for (const auto& s : a.initial.services)
        if (rng.Chance(0.3)) distinct.insert(s.name);
    auto apply = [&](AppModel& m) {
      m.placement = chain;
      m.provision = provision;
      m.max_hosts = provision ? 24 : 0;
      for (auto& s : m.services) s.distinct_hosts = distinct.count(s.name) > 0;
    };
    apply(a.initial);
    apply(a.final_model);
    for (auto& op : a.ops) {
      apply(op.model);
      apply(op.then_model);
    }
  }
}

}  // namespace berth::sim
