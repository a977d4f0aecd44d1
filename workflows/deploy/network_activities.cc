// docker.network and docker.network-remove: an app's networks, made once and removed on
// undeploy.
//
// Docker 20.10 does not keep network names unique (its CheckDuplicate is a check, then a
// create, with no lock between: moby/moby#33037). A create whose answer was lost, because
// berth was killed in the middle of the call, can still be running inside dockerd when the
// resumed step looks, finds nothing and creates again: two networks then share the name,
// and every later reference by name fails with "network X is ambiguous" (seen in CI: a
// kill -9 in the middle of `docker.network`, then a start failing for good). So names are
// never trusted alone: containers join a network by the id AppNetworks puts first,
// the network step removes the empty spares it finds, and the undeploy removes every
// network of the name by id.
#include <algorithm>
#include <cctype>

#include "workflows/deploy/activity_util.h"
#include "workflows/deploy/names.h"

namespace berth::workflows::internal {

using docker::DockerClient;

namespace {

// "2026-12-02T02:20:23.0451Z" -> "2026-12-02T02:20:23" + "045100000": Go trims trailing
// zeros from the fraction, so the text alone does not sort by time.
std::string CreatedKey(const std::string& created) {
  size_t dot = created.find('.');
  if (dot == std::string::npos) return created + "000000000";
  std::string frac;
  for (size_t i = dot + 1; i < created.size() && std::isdigit(static_cast<unsigned char>(created[i])); ++i)
    frac += created[i];
  frac.resize(9, '0');
  return created.substr(0, dot) + frac;
}

}  // namespace

Result<AppNetworkMap> AppNetworks(DockerClient& d, const std::string& app) {
  auto list = d.ListNetworks({{kLabelApp, app}});
  if (!list.ok()) return list.status().WithContext("listing the networks of " + app);
  AppNetworkMap out;
  for (auto& n : *list) out[n.name].push_back(std::move(n));
  for (auto& [name, nets] : out) {
    if (nets.size() < 2) continue;
    // A listing leaves out the containers (API 1.28 on): inspect each, by id.
    std::vector<docker::NetworkInfo> full;
    for (const auto& n : nets) {
      auto info = d.InspectNetwork(n.id);
      if (info.ok()) {
        full.push_back(std::move(*info));
        continue;
      }
      if (info.status().code() != Code::kNotFound)
        return info.status().WithContext("inspecting network " + name + " (" + n.id + ")");
    }
    std::sort(full.begin(), full.end(), [](const docker::NetworkInfo& a, const docker::NetworkInfo& b) {
      if (a.containers.size() != b.containers.size()) return a.containers.size() > b.containers.size();
      std::string ka = CreatedKey(a.created), kb = CreatedKey(b.created);
      return ka != kb ? ka < kb : a.id < b.id;
    });
    nets = std::move(full);
  }
  return out;
}

std::string JoinTarget(const AppNetworkMap& nets, const std::string& name) {
  auto it = nets.find(name);
  return it == nets.end() || it->second.empty() ? name : it->second.front().id;  // none: external
}

namespace {

using engine::ActivityContext;

// The step input's driver options (`driver_opts`, present only when set).
std::map<std::string, std::string> Options(const json& in) {
  return in.contains("options") ? in["options"].get<std::map<std::string, std::string>>()
                                : std::map<std::string, std::string>();
}

// An existing network keeps the options it was made with (the engine cannot change them):
// a blueprint that now asks for others is told how to get them, as Compose does.
Status SameSettings(const json& in, const std::string& name, DockerClient& d, const std::string& id) {
  const std::map<std::string, std::string> want = Options(in);
  bool internal = in.value("internal", false);
  if (want.empty() && !internal) return Status::Ok();  // nothing asked: whatever it has
  auto info = d.InspectNetwork(id);
  if (!info.ok()) return info.status().WithContext("inspecting network " + name);
  std::string differs;
  for (const auto& [k, v] : want) {
    auto it = info->options.find(k);
    if (it == info->options.end() || it->second != v)
      differs = "option " + k + " is '" + (it == info->options.end() ? "" : it->second) + "', the file says '" + v + "'";
  }
  if (differs.empty() && info->internal != internal)
    differs = std::string("it is ") + (info->internal ? "" : "not ") + "internal, the file says otherwise";
  if (differs.empty()) return Status::Ok();
  return Status(Code::kFailed, "network " + name + " exists with other settings (" + differs +
                                   "); the engine cannot change them: run `berth down` and then `berth up` to make it again");
}

class Network final : public DockerActivity {
 public:
  explicit Network(HostDockerProvider d) : DockerActivity("docker.network", std::move(d)) {}

 protected:
  Result<std::string> Do(const ActivityContext& ctx, const json& in, DockerClient& d) override {
    std::string app = Str(in, "app"), name = Str(in, "docker_name");
    if (in.value("external", false)) {
      auto info = d.InspectNetwork(name);
      if (info.ok()) return info->id;
      if (info.status().code() != Code::kNotFound) return info.status();
      return Status(Code::kNotFound, "external network " + name + " does not exist: create it (docker network create " +
                                         name + ") or drop `external` to let Berth make it");
    }
    for (int round = 0; round < 2; ++round) {
      auto all = AppNetworks(d, app);
      if (!all.ok()) return all.status();
      if (auto mine = all->find(name); mine != all->end() && !mine->second.empty()) {
        const std::vector<docker::NetworkInfo>& nets = mine->second;
        // Spares from lost creates: nothing joined them (containers join the first), so
        // they go; one that fails to go is left to the undeploy, which removes them all.
        for (size_t i = 1; i < nets.size(); ++i)
          if (nets[i].containers.empty()) (void)d.RemoveNetwork(nets[i].id);
        if (Status same = SameSettings(in, name, d, nets.front().id); !same.ok()) return same;
        return nets.front().id;
      }
      auto info = d.InspectNetwork(name);
      if (info.ok()) {
        if (docker::LabelValue(info->labels, kLabelApp) == app) continue;  // made meanwhile
        return Status(Code::kConflict, "network " + name + " exists and is not app " + app +
                                           "'s; remove it or choose another app name with -p");
      }
      if (info.status().code() != Code::kNotFound) return info.status();
      docker::NetworkSpec spec;
      spec.name = name;
      spec.subnet = Str(in, "subnet");
      spec.gateway = Str(in, "gateway");
      spec.options = Options(in);
      spec.internal = in.value("internal", false);
      spec.attachable = in.value("attachable", false);
      spec.labels = {{kLabelApp, app},
                     {kLabelWorkflow, ctx.workflow_id},
                     {kLabelKey, ctx.idempotency_key}};
      auto id = d.CreateNetwork(spec);
      if (id.ok()) return *id;
      if (id.status().code() != Code::kConflict) return id.status();
      // Created meanwhile (a lost answer): look again.
    }
    return Status(Code::kConflict, "network " + name + " keeps conflicting");
  }
};

inline constexpr uint32_t kStaleEndpointAttempts = 4;

class NetworkRemove final : public DockerActivity {
 public:
  explicit NetworkRemove(HostDockerProvider d) : DockerActivity("docker.network-remove", std::move(d)) {}

 protected:
  // Every Berth network of the name (the observe listed the app's by label; the input
  // names no app, and app names are part of network names), each by id.
  Result<std::string> Do(const ActivityContext& ctx, const json& in, DockerClient& d) override {
    const std::string name = Str(in, "docker_name");
    auto list = d.ListNetworks({{kLabelApp, ""}});
    if (!list.ok()) return list.status().WithContext("listing Berth's networks");
    int removed = 0;
    for (const auto& n : *list) {
      if (n.name != name) continue;
      Status s = RemoveOne(ctx, d, n.id, name);
      if (!s.ok()) return s;
      ++removed;
    }
    return std::string(removed ? "removed" : "gone");
  }

 private:
  static Status RemoveOne(const ActivityContext& ctx, DockerClient& d, const std::string& id,
                          const std::string& name) {
    Status s = d.RemoveNetwork(id);
    if (s.ok() || s.code() == Code::kNotFound) return Status::Ok();
    if (s.code() == Code::kConflict || s.code() == Code::kFailed) {
      // Docker 20.10 can keep a stale endpoint after every container on the network was
      // removed (seen after 20 containers removed at once): the network then lists no
      // container and stays "in use" until the daemon restarts. Retrying cannot help, so
      // after a few attempts that is said, for good, with the cure.
      auto net = d.InspectNetwork(id);
      if (net.ok() && net->containers.empty() && ctx.attempt >= kStaleEndpointAttempts)
        return Status(Code::kFailed, s.message() + "; Docker lists no container on network " + name +
                                         ": a stale endpoint inside dockerd (a Docker 20.10 defect), which only a "
                                         "restart of the Docker daemon clears; restart it, then run `berth down` again");
      // Endpoints still detaching (or another app's container joined it): retry a while.
      return Status(Code::kUnavailable, s.message());
    }
    return s;
  }
};

}  // namespace

void RegisterNetworkActivities(engine::Registry* r, const HostDockerProvider& d,
                               const DockerActivityOptions& options) {
  auto a = std::make_unique<Network>(d);
  a->Guard(options.host_guard);
  r->Add(std::move(a));
  r->Add(std::make_unique<NetworkRemove>(d));
}

}  // namespace berth::workflows::internal
