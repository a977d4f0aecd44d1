// docker.create: a service's container as the blueprint says (its spec, labels, networks
// joined by id), adopted when an attempt whose answer was lost had made it.
#include "workflows/deploy/activity_util.h"
#include "workflows/deploy/names.h"

namespace berth::workflows::internal {
namespace {

using docker::DockerClient;
using engine::ActivityContext;

int StopTimeoutS(const ServiceDef& s) {
  return s.stop_grace_period_ms ? int((*s.stop_grace_period_ms + 999) / 1000) : 10;
}

docker::ContainerSpec SpecFor(const ServiceDef& s, const json& in, const std::string& key,
                              const std::string& workflow) {
  std::string app = Str(in, "app"), name = Str(in, "name");
  docker::ContainerSpec c;
  c.name = name;
  c.image = Str(in, "image_id");
  c.cmd = s.command;
  c.entrypoint = s.entrypoint;
  if (in.contains("wait_install")) {
    // Install per container (the cache is off): the service's process may only start once
    // the install has run, so a shell waits for the install's marker and then execs it.
    const json& w = in["wait_install"];
    std::vector<std::string> argv;
    auto add = [&](const std::optional<std::vector<std::string>>& mine, const json& base) {
      if (mine) argv.insert(argv.end(), mine->begin(), mine->end());
      else if (base.is_array()) for (const auto& a : base) argv.push_back(a.get<std::string>());
    };
    add(s.entrypoint, w.value("entrypoint", json()));
    add(s.command, s.entrypoint ? json() : w.value("cmd", json()));
    c.entrypoint = std::vector<std::string>{
        "sh", "-c", "while [ ! -f /.berth/install ]; do sleep 0.05; done; exec \"$@\"", "berth-wait-install"};
    c.cmd = argv;
  }
  for (const auto& [k, v] : s.environment) c.env.push_back(k + "=" + v);
  c.env.push_back("BERTH_APP=" + app);
  c.env.push_back("BERTH_SERVICE=" + s.name);
  c.env.push_back("BERTH_INSTANCE=" + name);
  c.labels = docker::Labels(s.labels.begin(), s.labels.end());
  c.labels[kLabelApp] = app;
  c.labels[kLabelService] = s.name;
  c.labels[kLabelWorkflow] = workflow;
  c.labels[kLabelKey] = key;
  c.labels[kLabelIndex] = std::to_string(Int(in, "index"));
  c.labels[kLabelConfig] = Str(in, "config");
  c.labels[kLabelLevel] = std::to_string(Int(in, "level"));
  c.labels[kLabelStopTimeout] = std::to_string(StopTimeoutS(s));
  c.labels[kLabelHost] = Str(in, "host").empty() ? kLocalHost : Str(in, "host");
  if (Int(in, "reserve_memory") > 0) c.labels[kLabelMemory] = std::to_string(Int(in, "reserve_memory"));
  if (double cpus = in.value("reserve_cpus", 0.0); cpus > 0) c.labels[kLabelCpus] = json(cpus).dump();
  c.labels["berth.image"] = Str(in, "image_ref");
  for (const auto& p : s.ports) {
    docker::PortSpec ps;
    ps.container_port = p.container_port;
    ps.protocol = p.protocol;
    ps.host_ip = p.host_ip;
    ps.host_port = p.host_port;
    ps.host_port_end = p.host_port_end;
    c.ports.push_back(ps);
  }
  // The first network at creation (the API takes one), the rest connected after.
  const json& nets = in.at("networks");
  if (!nets.empty()) {
    c.network = nets[0].at("docker_name").get<std::string>();
    c.ipv4_address = Str(nets[0], "ipv4_address");
    c.aliases = nets[0].at("aliases").get<std::vector<std::string>>();
  }
  c.hostname = s.hostname;
  c.user = s.user;
  c.working_dir = s.working_dir;
  for (const auto& v : s.volumes) {
    if (v.anonymous()) {
      c.anonymous_volumes.push_back(v.target);  // removed with the container (Compose's too)
      continue;
    }
    std::string options = v.read_only ? "ro" : "";
    if (!v.options.empty()) options += (options.empty() ? "" : ",") + v.options;
    c.binds.push_back(v.source + ":" + v.target + (options.empty() ? "" : ":" + options));
  }
  c.init = s.init;
  c.stop_signal = s.stop_signal;
  c.stop_timeout_s = StopTimeoutS(s);
  // Berth owns restarts (restart.h): Docker's policy stays "no", so that every restart is
  // a recorded workflow; the Compose value goes in a label for the server's watcher.
  c.restart.name = "no";
  c.labels[kLabelRestart] = s.restart.empty() ? "no" : s.restart;
  c.extra_host_config = s.engine_host;
  c.extra_config = s.engine_config;
  c.platform = s.platform;
  if (s.healthcheck) {
    docker::Healthcheck h;
    h.test = s.healthcheck->test;
    h.interval_ms = s.healthcheck->interval_ms;
    h.timeout_ms = s.healthcheck->timeout_ms;
    h.start_period_ms = s.healthcheck->start_period_ms;
    h.retries = s.healthcheck->retries;
    c.healthcheck = h;
  }
  return c;
}

// Joins the networks after the first (each by id: JoinTarget); "already attached" counts
// as done.
Status ConnectRest(DockerClient& d, const AppNetworkMap& app_nets, const std::string& container, const json& nets) {
  for (size_t i = 1; i < nets.size(); ++i) {
    docker::EndpointSpec ep;
    ep.ipv4_address = Str(nets[i], "ipv4_address");
    ep.aliases = nets[i].at("aliases").get<std::vector<std::string>>();
    std::string net = nets[i].at("docker_name").get<std::string>();
    Status s = d.ConnectNetwork(JoinTarget(app_nets, net), container, ep);
    if (!s.ok()) {
      auto info = d.InspectContainer(container);
      if (info.ok() && info->networks.count(net)) continue;
      return s.WithContext("connecting " + container + " to " + net);
    }
  }
  return Status::Ok();
}

class Create final : public DockerActivity {
 public:
  Create(HostDockerProvider d, DockerActivityOptions options)
      : DockerActivity("docker.create", std::move(d)), options_(std::move(options)) {}

 protected:
  Result<std::string> Do(const ActivityContext& ctx, const json& in, DockerClient& d) override {
    auto s = OneService(in);
    if (!s.ok()) return s.status();
    docker::ContainerSpec spec = SpecFor(*s, in, ctx.idempotency_key, ctx.workflow_id);
    Result<AppNetworkMap> app_nets = AppNetworkMap();  // one listing for every network joined
    if (!in.at("networks").empty()) app_nets = AppNetworks(d, Str(in, "app"));
    if (!app_nets.ok()) return app_nets.status();
    if (!spec.network.empty()) {
      std::string join = JoinTarget(*app_nets, spec.network);
      if (join != spec.network) spec.network_id = join;
    }
    Result<std::string> id = d.CreateContainer(spec);
    if (!id.ok() && id.status().code() == Code::kConflict) {
      // Ours from an attempt whose answer was lost? Then adopt it; else the name is taken.
      auto info = d.InspectContainer(spec.name);
      if (!info.ok() && info.status().code() != Code::kNotFound)
        return Status(Code::kUnavailable, info.status().message());  // cannot tell yet
      if (!info.ok()) return Status(Code::kUnavailable, "name " + spec.name + " was just freed");
      if (info->labels[kLabelKey] == ctx.idempotency_key) {
        id = info->id;
      } else {
        return Status(Code::kConflict,
                      "a container named " + spec.name +
                          " exists and was not made by this deploy; remove it (docker rm -f " +
                          spec.name + ") or choose another app name with -p");
      }
    }
    if (!id.ok()) {
      if (id.status().code() == Code::kNotFound)
        return NotFound("image " + Str(in, "image_ref") + " is gone from the engine");
      return id.status();
    }
    if (Status c = ConnectRest(d, *app_nets, *id, in.at("networks")); !c.ok()) return c;
    return *id;
  }

  // Called when an attempt is in doubt. Its create may still be inside the daemon: nothing
  // found is believed only after the create fence (docker_activities.h). Otherwise the
  // retry makes a container, the deploy goes on, a replace or an undeploy frees the name,
  // and the old request lands as a container nobody declares (berth-sim found this). After
  // an answer that never came (rather than a restart), the step may have sent more than one
  // create (an attempt that ran without reconciling after an unreachable engine): what is
  // found is adopted only once the fence has passed, so that no later removal frees the
  // name while one of them is still on its way.
  Adopt Find(const ActivityContext& ctx, const json& in, DockerClient& d) override {
    Adopt found = WatchForKey(d, ctx, ctx.idempotency_key, options_, engine::LeavesInDoubt(ctx.in_doubt));
    if (!found.ok() || !found->has_value()) return found;
    std::string id = **found;
    auto app_nets = AppNetworks(d, Str(in, "app"));
    if (!app_nets.ok()) return app_nets.status();
    if (Status c = ConnectRest(d, *app_nets, id, in.at("networks")); !c.ok()) return c;
    return std::optional<std::string>(id);
  }

 private:
  const DockerActivityOptions options_;
};

}  // namespace

void RegisterCreateActivity(engine::Registry* r, const HostDockerProvider& d,
                            const DockerActivityOptions& options) {
  auto a = std::make_unique<Create>(d, options);
  a->Guard(options.host_guard);
  r->Add(std::move(a));
}

}  // namespace berth::workflows::internal
