// RestartWatcher: the server's eye on the containers Berth made (restart.h says what a
// restart workflow does). On its own thread it first replays the engine's `die` and `stop`
// events since its durable cursor (the time of the last event it handled, kept in a file:
// a container stopped with `docker stop` while no server ran is told from one that
// crashed, as far back as the engine keeps events), then lists Berth's containers (deaths
// the engine no longer remembers), then follows the events from just before that listing;
// each death of a service container starts one `restart` workflow, actor policy. A broken
// stream or an unreachable engine is retried (1 s doubling to 30 s), replaying and listing
// again each time, so nothing is missed; seeing a death twice is harmless (one workflow id
// per death).
#pragma once

#include <functional>
#include <memory>
#include <stop_token>
#include <string>
#include <thread>

#include "engine/engine.h"
#include "eventlog/event_log.h"
#include "workflows/deploy/docker_activities.h"

namespace berth::workflows {

class RestartWatcher {
 public:
  // `warn` gets one line per failure streak (an unreachable engine, a refused start).
  // `cursor_path`: the cursor's file ("" for none: only the listing at start).
  RestartWatcher(engine::Engine* engine, const eventlog::EventLog* log, DockerProvider docker,
                 std::function<void(const std::string&)> warn, std::string cursor_path = "");
  ~RestartWatcher();  // Stop()
  void Start();
  void Stop();

  // One death of container `id` (inspected: gone, running or not a service container:
  // nothing). Public for tests; the watcher's thread calls it.
  void OnDeath(docker::DockerClient& d, const std::string& id);
  // Container `id` was stopped with `docker stop` (its "stop" event, after its "die"): the
  // restart workflow of that death gets signal "stopped". Public for tests.
  void OnStop(docker::DockerClient& d, const std::string& id);

 private:
  void Run(std::stop_token stop);
  Status ListOnce(docker::DockerClient& d);
  void OnEvent(docker::DockerClient& d, const docker::Event& e);
  std::string ReadCursor() const;  // Docker's "since" ("seconds.nanoseconds"), "" for none
  void SaveCursor(int64_t time_ns);
  int PreviousAttempt(const std::string& container, int64_t died_at_ns) const;

  engine::Engine* engine_;
  const eventlog::EventLog* log_;
  DockerProvider docker_;
  std::function<void(const std::string&)> warn_;
  std::string cursor_path_;
  int64_t cursor_ns_ = 0;  // the last event handled (watcher thread only)
  std::jthread thread_;
};

// RFC 3339 as Docker writes it ("2026-12-01T21:20:00.123456789Z") -> ns since the epoch;
// 0 for the zero time or anything else.
int64_t ParseDockerTimeNs(const std::string& text);

}  // namespace berth::workflows
