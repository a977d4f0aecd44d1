// SimDocker: an in-memory Docker engine that fails the way the real one does, from a seed.
//
// It keeps what a daemon keeps (containers with their state, labels, files and networks;
// images with labels, files and config; networks with their endpoints) and answers with the
// codes the real adapter (adapters/docker) gives for each failure:
//   - connection refused before anything is sent            kUnavailable  (no effect)
//   - timed out before anything is sent                      kTimeout      (no effect)
//   - sent, then no answer in time (lost request)            kUnknownOutcome, no effect
//   - sent, the effect happened, the answer was lost         kUnknownOutcome, effect
//   - HTTP 500 from the daemon before it acted               kFailed (the adapter maps every
//                                                            5xx to kFailed, see api_error.h)
//   - a removal that outlives its call (the call times out after 30 s, the daemon finishes
//     later; meanwhile DELETE answers 409 "removal of container X is already in progress",
//     which the adapter makes kUnavailable)
//   - a daemon restart: running containers stop (exit 137, or 143 with init), removals in
//     progress finish, every call is refused for a while, a call caught by the restart gets
//     "server returned nothing" (kUnknownOutcome, its effect may or may not have happened);
//     when it is back, restart: always / unless-stopped containers start again
//   - a create the daemon acts on after the caller's 30 s timeout (kUnknownOutcome; the
//     container appears up to 3 s later, unless its name is taken by then): the retry's
//     reconcile may miss it and its create then meets the name: 409, a conflict left by a
//     dead attempt
//   - slow starts (1..45 s of simulated time; past the 30 s call timeout the start happened
//     and the answer is lost), stops that wait the stop timeout (busybox as PID 1 ignores
//     SIGTERM), exec commands that take time.
// HTTP error answers are built with the adapter's own ApiError, so their codes cannot drift
// from the real client's.
//
// Time is the simulator's clock: every call advances it by a small latency, slow calls by
// more. The simulated process's death (SetCallerAlive(false)) makes later calls refuse with
// no effect, as calls from a dead process never arrive.
//
// Thread safety: every method may be called from any thread (one lock).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "adapters/docker/docker_client.h"
#include "tools/berth-sim/sim_clock.h"
#include "tools/berth-sim/sim_random.h"

namespace berth::sim {

// Per-call probabilities (each call draws at most one fault) and daemon restarts.
struct DockerFaultRates {
  double unavailable = 0;
  double timeout_unsent = 0;
  double lost_request = 0;
  double lost_answer = 0;
  double http500 = 0;
  double slow_remove = 0;
  double slow_start = 0;
  double late_create = 0;         // a create acted on after its caller timed out (0-3 s later)
  double health_slow = 0;         // a healthcheck reports "starting" to the first inspect
  int64_t restart_mean_us = 0;    // mean simulated time between daemon restarts; 0: none
  int64_t restart_down_us_max = 0;

  static DockerFaultRates Draw(Rng& rng);  // a random profile (swarm testing)
  std::string ToString() const;
};

class SimDocker final : public docker::DockerClient {
 public:
  static constexpr const char* kBaseImage = "berth/busybox:test";

  SimDocker(SimClock* clock, Rng rng, DockerFaultRates rates);

  // No faults from now on (the simulator's calm phase, which checks liveness).
  void Calm();
  // false: the process that calls is dead; its calls do nothing and fail.
  void SetCallerAlive(bool alive);
  // Someone stops a container by hand (docker stop).
  bool OperatorStop(const std::string& name);
  // A host of the cloud (sim_cloud.h): the network to it is cut until `until_us` (every
  // call times out before anything is sent; its containers keep running); Gone: the
  // machine is deprovisioned (every call refused from now on, its containers die with it).
  void Unreachable(int64_t until_us);
  void Heal();  // the cut network is mended now
  void Gone();
  bool gone() const;
  // The capacity GET /info reports (a host's facts).
  void SetCapacity(int64_t cpus, int64_t memory);

  struct ContainerView {
    std::string id, name, image_id, status;  // status: created|running|exited|removing
    docker::Labels labels;
    bool running = false;
    int exit_code = 0;
    std::string stop_cause;  // "", "stop", "daemon-restart", "operator", "kill"
    int64_t stop_us = 0, started_us = 0;
    std::set<std::string> files;  // written by exec'd commands (or the image's)
  };
  // The files a shell command line leaves behind (`touch PATH`, `> PATH`), as Exec records.
  static std::set<std::string> FilesOf(const std::string& command);
  std::vector<ContainerView> Containers() const;  // by id
  // Every container ever created (id -> name, labels), removed or not.
  struct Held {
    std::string id, name;
    docker::Labels labels;
    bool late = false;  // made by a create the daemon acted on after its caller timed out
  };
  std::vector<Held> EverHeld() const;
  std::vector<docker::NetworkInfo> Networks() const;

  struct Counters {
    uint64_t calls = 0, faults = 0, restarts = 0, refused_down = 0, slow = 0;
    uint64_t own_name_conflicts = 0;  // a create met a container of its own berth.key
  };
  Counters counters() const;

  // ---- docker::DockerClient --------------------------------------------------------------
  Result<docker::EngineVersion> Version() override;
  Result<docker::EngineInfo> Info() override;
  Result<std::string> CreateContainer(const docker::ContainerSpec& spec) override;
  Status StartContainer(const std::string& id) override;
  Status StopContainer(const std::string& id, int timeout_s) override;
  Status KillContainer(const std::string& id, const std::string& signal) override;
  Status RemoveContainer(const std::string& id, bool force) override;
  Result<int> WaitContainer(const std::string& id, int64_t timeout_ms) override;
  Result<docker::ContainerInfo> InspectContainer(const std::string& id) override;
  Result<std::vector<docker::ContainerInfo>> ListContainers(const docker::Labels& labels) override;
  Result<docker::ExecResult> Logs(const std::string& id) override;
  Result<docker::ExecResult> Exec(const std::string& container, const docker::ExecSpec& spec) override;
  Result<std::string> Commit(const docker::CommitSpec& spec) override;
  Result<docker::ImageInfo> InspectImage(const std::string& ref) override;
  Result<std::vector<docker::ImageInfo>> ListImages(const docker::ImageFilter& filter) override;
  Status TagImage(const std::string& ref, const std::string& repo, const std::string& tag) override;
  Status RemoveImage(const std::string& ref, bool force) override;
  Result<docker::BuildResult> BuildImage(const docker::BuildSpec& spec) override;
  Status PullImage(const std::string& image, const std::string& tag, int64_t timeout_ms) override;
  Result<std::string> CreateNetwork(const docker::NetworkSpec& spec) override;
  Result<docker::NetworkInfo> InspectNetwork(const std::string& id_or_name) override;
  Result<std::vector<docker::NetworkInfo>> ListNetworks(const docker::Labels& labels) override;
  Status RemoveNetwork(const std::string& id_or_name) override;
  Status ConnectNetwork(const std::string& network, const std::string& container,
                        const docker::EndpointSpec& endpoint) override;
  Status DisconnectNetwork(const std::string& network, const std::string& container,
                           bool force) override;
  Status StreamEvents(const docker::EventFilter& filter,
                      const std::function<bool(const docker::Event&)>& on_event,
                      std::stop_token stop) override;

 private:
  enum class State { kCreated, kRunning, kExited, kRemoving };
  struct Ctr {
    std::string id, name, image_id;
    docker::ContainerSpec spec;  // labels merged with the image's
    State state = State::kCreated;
    int exit_code = 0;
    int64_t removing_until_us = 0;
    std::set<std::string> files;
    std::map<std::string, std::vector<std::string>> networks;  // name -> aliases
    std::string health;  // "", "starting", "healthy", "unhealthy"
    int health_polls = 0;  // inspects that still see "starting"
    bool user_stopped = false;  // unless-stopped containers stay down after a restart
    std::string stop_cause;
    int64_t stop_us = 0, started_us = 0;
  };
  struct Img {
    std::string id;
    docker::Labels labels;
    std::set<std::string> files;
    std::optional<std::vector<std::string>> cmd, entrypoint;
  };
  struct Net {
    docker::NetworkInfo info;
  };
  // What one call does to the world under the lock.
  enum class Effect { kRead, kWrite };
  struct Fault;

  void Tick();  // removals that finished, the daemon coming back
  void Restart();
  void Latency(int64_t lo_us, int64_t hi_us);
  std::string NewId();
  Ctr* FindCtr(const std::string& id_or_name);
  // The name of the network `id_or_name` names, or "" (the engine finds one by id or name).
  std::string NetName(const std::string& id_or_name) const;
  const Img* FindImg(const std::string& ref) const;
  docker::ContainerInfo Info(const Ctr& c) const;
  void StopLocked(Ctr& c, int exit_code, const std::string& cause);
  void StartLocked(Ctr& c);
  void RemoveLocked(const std::string& id);

  // One call: the faults of the call boundary (process dead, daemon down or restarting, one
  // drawn transport or 500 fault), then `body` under the lock unless a fault stops it.
  template <class T>
  Result<T> Run(const std::string& what, Effect effect, const std::function<Result<T>()>& body);
  Status RunStatus(const std::string& what, Effect effect, const std::function<Status()>& body);

  SimClock* clock_;
  mutable std::mutex mu_;
  Rng rng_;
  DockerFaultRates rates_;
  bool calm_ = false;
  bool caller_alive_ = true;
  bool down_ = false;
  bool gone_ = false;
  int64_t unreachable_until_us_ = 0;
  int64_t cpus_ = 2, memory_ = int64_t(4) << 30;
  int64_t down_until_us_ = 0;
  int64_t next_restart_us_ = 0;
  uint64_t ids_ = 0;
  Counters counters_;
  std::map<std::string, Ctr> ctrs_;                // by id
  std::map<std::string, std::string> names_;       // name -> id
  std::map<std::string, Img> imgs_;                // by id
  std::map<std::string, std::string> tags_;        // "repo:tag" -> image id
  std::map<std::string, Net> nets_;                // by name
  std::vector<Held> ever_;
  struct LateCreate {
    int64_t at_us;
    docker::ContainerSpec spec;
  };
  std::vector<LateCreate> late_;  // in the order they were sent
  Result<std::string> CreateLocked(const docker::ContainerSpec& spec, const std::string& what,
                                   bool late = false);
};

}  // namespace berth::sim
