// Restarts as workflows: Berth, not Docker, restarts the containers it made, so that every
// death and every restart is an event (docs/deploy.md, "Restarts").
//
// Containers are created with Docker's restart policy "no" and their Compose `restart:` in
// the label berth.restart. A `restart` workflow (actor policy) handles one death:
//
//   check    docker.inspect-state {id} -> {"state": running|exited|gone, "exit_code": N}
//            (subjects container:NAME and app:APP, so `berth audit --container` shows it)
//   then     nothing, if the container runs again or is gone, or the policy says no
//            ("no"; "on-failure" and exit code 0); it fails with "gave up after N restarts"
//            when this death is past the policy's limit;
//   backoff  a timer of the backoff recorded in the input (never recomputed)
//   restart  docker.start {name: id}
//
// Signal "stopped" (kStoppedSignal), sent by the watcher when the engine reports the
// container stopped by `docker stop`: it ends with nothing done unless the restart step
// has started (Docker's rule: a container stopped by hand is not restarted).
//
// Its id is "restart-<container>-<death time, ns, 20 digits>": one workflow per death
// however often it is seen (the event stream, a listing after a reconnect or a restart of
// the server): the log refuses a second start of an id. It holds the app's exclusive key,
// so it runs after a deploy or undeploy of the app that is under way, and finds the
// containers such a workflow stopped gone.
#pragma once

#include <memory>
#include <string>

#include "engine/registry.h"
#include "engine/workflow.h"
#include "workflows/deploy/docker_activities.h"
#include "eventlog/status.h"

namespace berth::workflows {

struct RestartRule {
  std::string name = "no";  // no | always | unless-stopped | on-failure
  int limit = 0;            // restarts in a row before giving up
};
// A Compose `restart:` value ("" is "no"). Limits: on-failure:N -> N; otherwise
// kRestartsInARowMax. kInvalidArgument for anything else.
Result<RestartRule> ParseRestart(const std::string& value);
inline constexpr int kRestartsInARowMax = 10;
// Restarts in a row: a death counts on from the one before if the container ran less than
// this since that restart; otherwise the count starts again at 1.
inline constexpr int64_t kRestartStableMs = 10'000;
// Backoff before the n-th restart in a row (1-based): 200 ms doubling, at most 10 s.
int64_t RestartBackoffMs(int n);

inline constexpr const char* kStoppedSignal = "stopped";

// The `restart` workflow and its docker.inspect-state activity.
void RegisterRestart(engine::Registry* r, DockerProvider docker);
std::string RestartWorkflowId(const std::string& container, int64_t died_at_ns);
// Every restart workflow id of `container` begins with RestartWorkflowPrefix(container), but
// so do those of a container whose name extends it ("a-b" and "a-b-c"): IsRestartOf tells.
std::string RestartWorkflowPrefix(const std::string& container);
bool IsRestartOf(const std::string& workflow_id, const std::string& container);

}  // namespace berth::workflows
