#include "workflows/hosts/headroom.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "adapters/docker/engine_client.h"
#include "workflows/deploy/names.h"

namespace berth::workflows {

using json = nlohmann::json;

Status Validate(const HeadroomOptions& o) {
  if (o.headroom < 0 || o.headroom > 100'000) return InvalidArgument("--headroom must be 0..100000 containers");
  if (o.max_per_host < 1 || o.max_per_host > 10'000) return InvalidArgument("--max-per-host must be 1..10000 containers");
  if (o.min_hosts < 0 || o.max_hosts < 1 || o.max_hosts > 1000 || o.min_hosts > o.max_hosts)
    return InvalidArgument("--min-hosts and --max-hosts: 0 <= min <= max, 1 <= max <= 1000");
  if (o.driver != "local") return InvalidArgument("'" + o.driver + "' is not a driver Berth provisions with (local)");
  if (o.idle_ms < 0 || o.interval_ms < 10) return InvalidArgument("the idle time must be >= 0 and the interval >= 10 ms");
  return Status::Ok();
}

Result<int> CountContainers(const HostRecord& h) {
  docker::EngineClientOptions o;
  o.call_timeout_ms = 3000;
  auto client = hosts::ClientFor(h.spec, o);
  if (!client.ok()) return client.status();
  auto list = (*client)->ListContainers({{kLabelApp, ""}});
  if (!list.ok()) return list.status();
  int n = 0;
  for (const auto& c : *list) n += docker::LabelValue(c.labels, kLabelRole) != "install";
  return n;
}

bool BerthMadeHost(const std::string& name) { return name.rfind("auto-", 0) == 0 || name.rfind("pool-", 0) == 0; }

HeadroomDecision DecideHeadroom(const HeadroomOptions& o, const std::vector<HostLoad>& hosts, int64_t now_ms) {
  HeadroomDecision d;
  for (const auto& h : hosts)
    if (!h.cordoned && h.containers >= 0) d.free += std::max(0, o.max_per_host - h.containers);
  d.needed = o.headroom - d.free;
  const int n = int(hosts.size());
  d.why = fmt::format("{} hosts, room for {} more containers ({} per host), headroom {}", n, d.free, o.max_per_host,
                      o.headroom);
  if (d.needed > 0 || n < o.min_hosts) {
    if (n >= o.max_hosts) {
      d.at_limit = true;
      d.why += fmt::format(": {} more wanted, but the cloud is at its limit of {} hosts (--max-hosts)", d.needed, o.max_hosts);
    } else {
      d.add = 1;
      d.why += n < o.min_hosts ? fmt::format(": below --min-hosts {}", o.min_hosts) : fmt::format(": {} short", d.needed);
    }
    return d;
  }
  // Surplus: the latest-added empty host Berth made, idle long enough, whose room is spare.
  if (n <= o.min_hosts) return d;
  for (auto it = hosts.rbegin(); it != hosts.rend(); ++it) {
    const HostLoad& h = *it;
    if (!h.berth_made || h.containers != 0 || h.empty_since_ms < 0 || now_ms - h.empty_since_ms < o.idle_ms) continue;
    int room = h.cordoned ? 0 : o.max_per_host;
    if (d.free - room < o.headroom) continue;
    d.remove = h.name;
    d.why += fmt::format(": {} has been empty for {} s and its room is not needed", h.name,
                         (now_ms - h.empty_since_ms) / 1000);
    break;
  }
  return d;
}

HeadroomPolicy::HeadroomPolicy(engine::Engine* engine, InventorySource inventory, HeadroomOptions options,
                               std::function<bool()> host_work_running, std::function<bool()> deploy_running,
                               std::function<Result<int>(const HostRecord&)> count,
                               std::function<void(const std::string&)> warn)
    : engine_(engine),
      inventory_(std::move(inventory)),
      o_(std::move(options)),
      host_work_running_(std::move(host_work_running)),
      deploy_running_(std::move(deploy_running)),
      count_(std::move(count)),
      warn_(std::move(warn)) {}

HeadroomPolicy::~HeadroomPolicy() { Stop(); }

void HeadroomPolicy::Start() {
  thread_ = std::jthread([this](std::stop_token st) { Run(st); });
}

void HeadroomPolicy::Stop() {
  if (thread_.joinable()) {
    thread_.request_stop();
    thread_.join();
  }
}

namespace {
std::string Hex8() {
  std::random_device rd;
  return fmt::format("{:08x}", uint32_t(rd()));
}
}  // namespace

Result<std::string> HeadroomPolicy::RunOnce(int64_t now_ms) {
  if (host_work_running_ && host_work_running_()) return std::string();
  auto inv = inventory_();
  if (!inv.ok()) return inv.status().WithContext("headroom: the inventory");
  std::vector<HostLoad> loads;
  std::set<std::string> names;
  for (const auto& r : inv->hosts) {
    HostLoad h;
    h.name = r.spec.name;
    h.cordoned = r.cordoned;
    h.berth_made = BerthMadeHost(r.spec.name);
    auto n = count_(r);
    h.containers = n.ok() ? *n : -1;
    if (h.containers == 0) {
      h.empty_since_ms = empty_since_.try_emplace(h.name, now_ms).first->second;
    } else {
      empty_since_.erase(h.name);
    }
    names.insert(h.name);
    loads.push_back(std::move(h));
  }
  for (auto it = empty_since_.begin(); it != empty_since_.end();)  // hosts that are gone
    it = names.count(it->first) ? std::next(it) : empty_since_.erase(it);

  HeadroomDecision d = DecideHeadroom(o_, loads, now_ms);
  auto say = [&](const std::string& what) {
    if (what != last_said_ && warn_) warn_(what);
    last_said_ = what;
  };
  if (d.at_limit) say("headroom: " + d.why + "; not asking again until that changes");
  if (!d.remove.empty() && deploy_running_ && deploy_running_()) return std::string();  // next round
  if (!d.add && d.remove.empty()) {
    if (!d.at_limit) last_said_.clear();
    return std::string();
  }
  engine::StartRequest req;
  req.type = "host";
  req.actor = eventlog::Actor::kPolicy;
  if (d.add) {
    int k = 1;
    while (names.count("pool-" + std::to_string(k))) ++k;
    std::string name = "pool-" + std::to_string(k);
    json host = {{"name", name}, {"driver", o_.driver}};
    if (!o_.labels.empty()) host["labels"] = o_.labels;
    req.id = "host-add-" + name + "-" + Hex8();
    req.input = json{{"op", "add"}, {"host", host}, {"by", "headroom policy (" + d.why + ")"}}.dump();
  } else {
    req.id = "host-remove-" + d.remove + "-" + Hex8();
    req.input = json{{"op", "remove"}, {"name", d.remove}, {"by", "headroom policy (" + d.why + ")"}}.dump();
    empty_since_.erase(d.remove);
  }
  auto id = engine_->Start(req);
  if (!id.ok()) return id.status().WithContext("headroom: starting " + req.id);
  say("headroom: " + d.why + ": started " + *id);
  return *id;
}

void HeadroomPolicy::Run(std::stop_token stop) {
  std::mutex mu;
  std::condition_variable_any cv;
  std::string last_error;
  while (!stop.stop_requested()) {
    int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::steady_clock::now().time_since_epoch())
                         .count();
    auto r = RunOnce(now_ms);
    if (!r.ok() && r.status().message() != last_error && warn_) warn_(r.status().ToString());
    last_error = r.ok() ? "" : r.status().message();
    std::unique_lock<std::mutex> lock(mu);
    cv.wait_for(lock, stop, std::chrono::milliseconds(o_.interval_ms), [] { return false; });
  }
}

}  // namespace berth::workflows
