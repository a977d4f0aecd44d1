#include "workflows/deploy/deploy_input.h"

namespace berth::workflows::deployment {
namespace {


// The chain for `svc`: the cloud's default, then the app's, then the service's.
Result<std::shared_ptr<const placement::Chain>> ChainFor(const json& cloud, const Blueprint& bp,
                                                          const ServiceDef& svc) {
  auto chain = std::make_shared<placement::Chain>();
  for (const auto& [where, text] : {std::pair<std::string, std::string>{"cloud", cloud.contains("placement") ? cloud["placement"].dump() : ""},
                                    {"x-berth.placement", bp.placement},
                                    {"service " + svc.name + " x-berth.placement", svc.placement}}) {
    if (text.empty()) continue;
    auto c = placement::Chain::Parse(json::parse(text, nullptr, false));
    if (!c.ok()) return c.status().WithContext(where);
    chain->Append(std::move(c).value());
  }
  return std::shared_ptr<const placement::Chain>(chain);
}

// The placement view of each host of `hosts` (a cloud's or an inventory's "hosts").
Status ParseHosts(const json& hosts, DeployInput* in) {
  in->hosts.clear();
  for (const auto& h : hosts) {
    placement::Host x;
    x.name = h.value("name", "");
    if (x.name.empty()) return InvalidArgument("deploy input: a cloud host has no name");
    x.labels = h.value("labels", std::map<std::string, std::string>());
    x.cordoned = h.value("cordoned", false);
    x.registry = h.value("registry", "");
    // What the user said the host has, else what its engine reported.
    json facts = h.value("facts", json::object());
    int64_t cpus = h.value("cpus", int64_t(0)), memory = h.value("memory", int64_t(0));
    x.cpus = double(cpus ? cpus : facts.value("cpus", int64_t(0)));
    x.memory = memory ? memory : facts.value("memory", int64_t(0));
    in->hosts.push_back(std::move(x));
  }
  return Status::Ok();
}

Status ParseCloud(const json& j, const Blueprint& bp, DeployInput* in) {
  if (!j.contains("cloud")) return Status::Ok();
  const json& cloud = j["cloud"];
  if (!cloud.is_object() || !cloud.contains("hosts") || !cloud["hosts"].is_array())
    return InvalidArgument("deploy input: \"cloud\" must be {\"hosts\": [...]}");
  if (j.contains("inventory") && !j["inventory"].is_boolean())
    return InvalidArgument("deploy input: \"inventory\" must be true or false");
  in->multi = true;
  in->inventory = j.value("inventory", false);
  if (Status s = ParseHosts(cloud["hosts"], in); !s.ok()) return s;
  if (!bp.cloud.empty()) {
    json c = json::parse(bp.cloud, nullptr, false);
    if (c.is_object()) {
      in->provision_driver = c.value("driver", "");
      in->max_hosts = c.value("max_hosts", int64_t(0));
      in->provision_labels = c.value("labels", std::map<std::string, std::string>());
    }
  }
  for (const auto& s : bp.services) {
    auto c = ChainFor(cloud, bp, s);
    if (!c.ok()) return c.status();
    in->chain[s.name] = *c;
  }
  return Status::Ok();
}

}  // namespace

Result<std::shared_ptr<const DeployInput>> ParseDeploy(const std::string& text) {
  thread_local std::string last_text;
  thread_local std::shared_ptr<const DeployInput> last;
  if (last && text == last_text) return last;
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("blueprint") ||
      (j.contains("app") && !j["app"].is_string()) || (j.contains("cache") && !j["cache"].is_boolean()))
    return InvalidArgument("deploy input must be {\"app\": NAME, \"blueprint\": {...}, \"cache\": true|false}");
  auto in = std::make_shared<DeployInput>();
  Result<Blueprint> bp = BlueprintFromJson(j["blueprint"]);
  if (!bp.ok()) return bp.status();
  in->bp = std::move(*bp);
  in->app = j.value("app", in->bp.name);
  in->cache = j.value("cache", true);
  try {
    if (Status c = ParseCloud(j, in->bp, in.get()); !c.ok()) return c;
  } catch (const json::exception& e) {
    return InvalidArgument(std::string("deploy input: cloud: ") + e.what());
  }
  // An empty name would be a label filter matching every app.
  if (!ValidAppName(in->app)) return InvalidArgument("deploy input: '" + in->app + "' is not an app name");
  in->levels = in->bp.Levels();
  for (size_t l = 0; l < in->levels.size(); ++l)
    for (const auto& s : in->levels[l]) in->level_of[s] = int(l);
  for (const auto& [name, hash] : ServiceConfigHashes(in->bp)) in->config[name] = hash;
  for (const auto& s : in->bp.services) {
    Blueprint one;
    one.file = in->bp.file;
    one.name = in->bp.name;
    one.networks = in->bp.networks;
    one.volumes = in->bp.volumes;
    one.services = {s};
    one.services[0].depends_on.clear();  // activities see one service; order is Decide's
    in->mini[s.name] = ToJson(one);
  }
  last_text = text;
  last = in;
  return std::shared_ptr<const DeployInput>(in);
}

Result<std::shared_ptr<const DeployInput>> WithHosts(const std::shared_ptr<const DeployInput>& in,
                                                    const std::string& inventory) {
  thread_local std::shared_ptr<const DeployInput> last_in, last;
  thread_local std::string last_inventory;
  if (last && last_in == in && inventory == last_inventory) return last;
  json j = json::parse(inventory, nullptr, false);
  if (!j.is_object() || !j.contains("hosts") || !j["hosts"].is_array())
    return Status(Code::kCorruption, "the recorded inventory is not {\"hosts\": [...]}");
  auto out = std::make_shared<DeployInput>(*in);
  try {
    if (Status s = ParseHosts(j["hosts"], out.get()); !s.ok()) return s;
  } catch (const json::exception& e) {
    return Status(Code::kCorruption, std::string("the recorded inventory: ") + e.what());
  }
  last_in = in;
  last_inventory = inventory;
  last = out;
  return std::shared_ptr<const DeployInput>(out);
}

}  // namespace berth::workflows::deployment
