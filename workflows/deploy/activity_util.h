// Internal to workflows/deploy: what every Docker activity shares.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "adapters/docker/docker_client.h"
#include "engine/activity.h"
#include "workflows/blueprint/blueprint.h"
#include "workflows/deploy/docker_activities.h"

namespace berth::workflows::internal {

using json = nlohmann::json;
using Adopt = Result<std::optional<std::string>>;

class DockerActivity : public engine::Activity {
 public:
  DockerActivity(std::string name, HostDockerProvider docker)
      : name_(std::move(name)), docker_(std::move(docker)) {}
  std::string name() const override { return name_; }
  engine::RetryPolicy retry_policy() const override;

  Result<std::string> Run(const engine::ActivityContext& ctx) final;
  // Steps that make something on their host hold it for the step (docker_activities.h).
  void Guard(decltype(DockerActivityOptions::host_guard) guard) { guard_ = std::move(guard); }
  Adopt Reconcile(const engine::ActivityContext& ctx) final;

 protected:
  // The client of another host than the input's (observe looks at every host).
  Result<docker::DockerClient*> Client(const std::string& host) const { return docker_(host); }
  // The activity proper, with the parsed input and a client.
  virtual Result<std::string> Do(const engine::ActivityContext& ctx, const json& in,
                                 docker::DockerClient& d) = 0;
  // Default: the activity is idempotent; run it again.
  virtual Adopt Find(const engine::ActivityContext& ctx, const json& in, docker::DockerClient& d) {
    return std::optional<std::string>();
  }

 private:
  std::string name_;
  HostDockerProvider docker_;
  decltype(DockerActivityOptions::host_guard) guard_;
};

// in[key] as a string / int, "" / 0 when missing.
std::string Str(const json& in, const char* key);
int64_t Int(const json& in, const char* key);

// The one service of a "blueprint" field holding a single-service blueprint.
Result<ServiceDef> OneService(const json& in);

// The networks of app `app` by name, each name's in the order containers join them: most
// containers attached, then made first, then lowest id. Docker 20.10 lets two networks
// share a name (a create whose answer was lost lands beside the retry's; see
// network_activities.cc), so a name alone can be ambiguous. One listing, plus an inspect
// of each network whose name is shared.
using AppNetworkMap = std::map<std::string, std::vector<docker::NetworkInfo>>;
Result<AppNetworkMap> AppNetworks(docker::DockerClient& d, const std::string& app);
// What a container joins for network `name`: the id of the first of `nets`'s networks of
// that name, or `name` itself when Berth made none (an external network).
std::string JoinTarget(const AppNetworkMap& nets, const std::string& name);

// The create fence (docker_activities.h): the id of the container labelled berth.key=`key`,
// looked for until `options.create_fence_ms` has passed; nullopt when none landed by then.
// Found early, it is returned at once, unless `whole_fence`: then the whole fence is
// waited out first (another attempt's create may still be on its way; while the found
// container holds the name the daemon refuses it). A listing that fails is kUnknownOutcome
// (still in doubt: the next attempt looks again); the attempt given up meanwhile, kCancelled.
Adopt WatchForKey(docker::DockerClient& d, const engine::ActivityContext& ctx,
                  const std::string& key, const DockerActivityOptions& options, bool whole_fence);

// "(stderr tail)" for messages.
std::string Tail(const std::string& text, size_t max = 400);

}  // namespace berth::workflows::internal

namespace berth::workflows::internal {
void RegisterContainerActivities(engine::Registry* r, const HostDockerProvider& d,
                                 const DockerActivityOptions& options);
void RegisterCreateActivity(engine::Registry* r, const HostDockerProvider& d,
                            const DockerActivityOptions& options);
void RegisterImageActivities(engine::Registry* r, const HostDockerProvider& d,
                             const DockerActivityOptions& options);
void RegisterNetworkActivities(engine::Registry* r, const HostDockerProvider& d,
                               const DockerActivityOptions& options);
}  // namespace berth::workflows::internal
