// The cloud's inventory (the fold of the host workflows' results), and what reads it: a
// deploy's input, `berth explain`, the clients of the hosts.
#include <algorithm>
#include <set>

#include "engine/events.h"
#include "engine/workflow_state.h"
#include "workflows/deploy/names.h"
#include "workflows/hosts/hosts.h"

namespace berth::workflows {

using json = nlohmann::json;

const HostRecord* Inventory::Find(const std::string& name) const {
  for (const auto& h : hosts)
    if (h.spec.name == name) return &h;
  return nullptr;
}

json ToJson(const Inventory& inv) {
  json hosts = json::array();
  for (const auto& h : inv.hosts) {
    json j = hosts::ToJson(h.spec);
    j["facts"] = hosts::ToJson(h.facts);
    j["cordoned"] = h.cordoned;
    j["added_by"] = h.added_by;
    j["added_us"] = h.added_us;
    hosts.push_back(std::move(j));
  }
  return json{{"hosts", hosts}};
}

Result<Inventory> InventoryFromJson(const json& j) {
  if (!j.is_object() || !j.contains("hosts") || !j["hosts"].is_array())
    return InvalidArgument("an inventory is {\"hosts\": [...]}");
  Inventory inv;
  for (const auto& h : j["hosts"]) {
    auto spec = hosts::HostSpecFromJson(h);
    if (!spec.ok()) return spec.status();
    HostRecord r;
    r.spec = *spec;
    if (h.contains("facts")) r.facts = hosts::HostFactsFromJson(h["facts"]);
    r.cordoned = h.value("cordoned", false);
    r.added_by = h.value("added_by", "");
    r.added_us = h.value("added_us", int64_t(0));
    inv.hosts.push_back(std::move(r));
  }
  return inv;
}

Result<Inventory> LoadInventory(const eventlog::EventLog& log) {
  // Every host workflow's steps name the subject cloud:hosts, whoever started it (the CLI,
  // or a deploy that provisions a host as its child): its index lists them in log order.
  std::vector<std::string> ids;
  std::set<std::string> seen;
  Status s = log.ScanSubject(kCloudHostsSubject, [&](const eventlog::Event& e) {
    if (seen.insert(e.workflow_id).second) ids.push_back(e.workflow_id);
    return true;
  });
  if (!s.ok()) return s;
  std::vector<engine::WorkflowSummary> done;
  for (const auto& id : ids) {
    std::string raw;
    engine::WorkflowSummary sum;
    if (!log.GetProjection(engine::SummaryKey(id), &raw).ok() || !engine::DecodeSummary(raw, &sum).ok()) continue;
    if (sum.type == "host" && sum.status == engine::RunStatus::kCompleted) done.push_back(std::move(sum));
  }
  std::sort(done.begin(), done.end(), [](const auto& a, const auto& b) { return a.first_seq < b.first_seq; });
  Inventory inv;
  for (const auto& sum : done) {
    auto st = engine::FoldWorkflow(log, sum.id);
    if (!st.ok()) return st.status();
    json r = json::parse(st->result, nullptr, false);
    if (!r.is_object()) continue;
    std::string op = r.value("op", ""), name = r.value("name", "");
    auto it = std::find_if(inv.hosts.begin(), inv.hosts.end(), [&](const HostRecord& h) { return h.spec.name == name; });
    if (op == "add" && it == inv.hosts.end()) {
      auto spec = hosts::HostSpecFromJson(r.value("host", json()));
      if (!spec.ok()) continue;
      HostRecord h;
      h.spec = *spec;
      h.facts = hosts::HostFactsFromJson(r.value("facts", json()));
      h.added_by = sum.id;
      h.added_us = sum.ended_us;
      inv.hosts.push_back(std::move(h));
    } else if (it != inv.hosts.end()) {
      if (op == "remove") inv.hosts.erase(it);
      else if (op == "cordon") it->cordoned = true;
      else if (op == "uncordon") it->cordoned = false;
    }
  }
  return inv;
}

Status AddCloud(const eventlog::EventLog& log, const std::string& type, json* input) {
  if ((type != "deploy" && type != "undeploy") || !input->is_object()) return Status::Ok();
  if (input->contains("cloud") || input->contains("hosts")) return Status::Ok();
  auto inv = LoadInventory(log);
  if (!inv.ok()) return inv.status().WithContext("reading the cloud's hosts");
  if (inv->hosts.empty()) return Status::Ok();
  if (type == "deploy") {
    json cloud = ToJson(*inv);
    for (auto& h : cloud["hosts"]) h.erase("tls");  // endpoints and files stay in the host records
    (*input)["cloud"] = std::move(cloud);
    (*input)["inventory"] = true;  // the deploy reads the hosts again when it runs
  } else {
    json names = json::array();
    for (const auto& h : inv->hosts) names.push_back(h.spec.name);
    (*input)["hosts"] = std::move(names);
    (*input)["inventory"] = true;  // the undeploy reads the hosts again when it runs
  }
  return Status::Ok();
}

Result<json> Explain(const eventlog::EventLog& log, const std::string& container) {
  json found;
  Status s = log.ScanSubject(ContainerSubject(container), [&](const eventlog::Event& e) {
    if (e.type != engine::ev::kActivityStarted) return true;
    engine::ActivityStartedP p;
    if (!engine::DecodePayload(e.payload, &p).ok() || p.activity != "docker.create") return true;
    json in = json::parse(p.input, nullptr, false);
    if (!in.is_object() || in.value("name", "") != container) return true;
    found = {{"container", container}, {"workflow", e.workflow_id}, {"seq", e.seq}, {"time_us", e.time_us},
             {"step", p.step}, {"host", in.value("host", std::string(kLocalHost))},
             {"placement", in.value("placement", json())}};
    return true;
  });
  if (!s.ok()) return s;
  if (found.is_null())
    return NotFound("no create of container " + container + " is recorded (see `berth ps` for the containers)");
  return found;
}

Result<std::map<std::string, std::string>> Holdings(const eventlog::EventLog& log, const std::string& app,
                                                    const std::set<std::string>& hosts) {
  struct Where {
    std::string host;
    uint64_t create_seq = 0;
    bool gone = false;
  };
  std::map<std::string, Where> latest;  // container -> its latest create
  // "workflow/step" of a remove started -> the container and the create it was for
  std::map<std::string, std::pair<std::string, uint64_t>> removes;
  Status s = log.ScanSubject(AppSubject(app), [&](const eventlog::Event& e) {
    if (e.type == engine::ev::kActivityStarted) {
      engine::ActivityStartedP p;
      if (!engine::DecodePayload(e.payload, &p).ok()) return true;
      if (p.activity != "docker.create" && p.activity != "docker.remove") return true;
      json in = json::parse(p.input, nullptr, false);
      if (!in.is_object()) return true;
      std::string name = in.value("name", ""), host = in.value("host", std::string(kLocalHost));
      if (name.empty()) return true;  // an install's scratch container, found by its key
      if (p.activity == "docker.create") {
        latest[name] = Where{host, e.seq, false};
      } else if (auto it = latest.find(name); it != latest.end() && it->second.host == host) {
        removes[e.workflow_id + "/" + p.step] = {name, it->second.create_seq};
      }
    } else if (e.type == engine::ev::kActivityCompleted) {
      engine::ActivityCompletedP p;
      if (!engine::DecodePayload(e.payload, &p).ok()) return true;
      auto r = removes.find(e.workflow_id + "/" + p.step);
      if (r == removes.end()) return true;
      // Gone only while the container's latest create is still the one this remove was
      // for (a create started meanwhile made it again).
      auto it = latest.find(r->second.first);
      if (it != latest.end() && it->second.create_seq == r->second.second) it->second.gone = true;
      removes.erase(r);
    }
    return true;
  });
  if (!s.ok()) return s;
  std::map<std::string, std::string> out;
  for (const auto& [name, w] : latest)
    if (!w.gone && hosts.count(w.host)) out[name] = w.host;
  return out;
}

Result<docker::DockerClient*> HostClients::Get(const std::string& host) {
  if (host.empty() || host == kLocalHost) return local_();
  std::lock_guard<std::mutex> lock(mu_);
  auto it = clients_.find(host);
  if (it != clients_.end()) return static_cast<docker::DockerClient*>(it->second.get());
  auto inv = inventory_();
  if (!inv.ok()) return inv.status();
  const HostRecord* h = inv->Find(host);
  if (!h)
    return NotFound("host " + host + " is not in the cloud (removed?); `berth hosts` lists the hosts");
  auto c = hosts::ClientFor(h->spec);
  if (!c.ok()) return c.status();
  auto* raw = c->get();
  clients_[host] = std::move(c).value();
  return static_cast<docker::DockerClient*>(raw);
}

}  // namespace berth::workflows
