// The headroom policy (Clocker's "headroom" enricher, run by `berth serve --headroom N`):
// the cloud keeps room for N more containers so a deploy does not wait for a host to start,
// and gives back the hosts Berth provisioned once they stay empty.
//
// Each round (every `interval_ms`), from the inventory and each host's own count of
// Berth's containers:
//   free   = sum over uncordoned hosts that answer of max(0, max_per_host - containers)
//            (Clocker: capacity = max_per_host x hosts; free = capacity - containers);
//   needed = headroom - free.
// needed > 0: one `host` add workflow (driver, labels from the options; name pool-N),
// actor policy, "by": "headroom policy"; never past max_hosts, and at the limit it says so
// once and stops asking (Clocker issue #92: the enricher "went haywire" there).
// needed < 0: one host Berth provisioned (named auto-* by a deploy, pool-* by this policy;
// never one a user added) that has been empty for `idle_ms`, above `min_hosts`, and
// whose room is not needed for the headroom, gets a `host` remove workflow. That workflow
// counts the host's containers itself (its census) and refuses if any appeared meanwhile:
// a host with containers is never removed (Clocker issue #288).
// One workflow per round, and none while a host workflow runs (they are serialized
// anyway, and the inventory only shows finished ones): a kill -9 of the server mid-add
// leaves that add running, resumed at the next start, and the policy waits for it. No
// remove while a deploy or undeploy runs: it decided from the hosts at its start and may
// still have steps (a network to remove) on a host that holds no container.
#pragma once

#include <functional>
#include <map>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "engine/engine.h"
#include "eventlog/status.h"
#include "workflows/hosts/hosts.h"

namespace berth::workflows {

struct HeadroomOptions {
  int headroom = 0;      // containers the cloud keeps room for
  int max_per_host = 4;  // capacity of one host, in containers
  int min_hosts = 0;     // hosts the policy never goes below
  int max_hosts = 10;    // hosts it never goes above
  std::string driver = "local";
  std::map<std::string, std::string> labels;  // on the hosts it provisions
  int64_t idle_ms = 60'000;      // how long a host stays empty before it is given back
  int64_t interval_ms = 2'000;   // between rounds
};
Status Validate(const HeadroomOptions& o);

// One host as a round sees it. containers < 0: its engine did not answer (no room counted,
// never removed).
struct HostLoad {
  std::string name;
  bool cordoned = false;
  bool berth_made = false;  // provisioned by a deploy or by this policy
  int containers = 0;
  int64_t empty_since_ms = -1;  // when this policy first saw it empty (-1: not empty)
};

struct HeadroomDecision {
  int free = 0, needed = 0;
  int add = 0;               // hosts to add now (0 or 1)
  std::string remove;        // a host to remove now ("" none)
  bool at_limit = false;     // more room is needed, and the cloud is at max_hosts
  std::string why;           // one line: the figures behind the decision
};

// Pure: the decision of one round at time `now_ms`.
HeadroomDecision DecideHeadroom(const HeadroomOptions& o, const std::vector<HostLoad>& hosts, int64_t now_ms);

// Berth's containers on a host's engine (install scratch containers not counted), asked
// with a 3 s timeout; an error when it does not answer.
Result<int> CountContainers(const HostRecord& h);

// Whether a host name is one Berth provisioned (a deploy's auto-*, the policy's pool-*).
bool BerthMadeHost(const std::string& name);

class HeadroomPolicy {
 public:
  // `host_work_running`: whether a host workflow is unfinished (the round then waits);
  // `deploy_running`: whether a deploy or undeploy is (no remove then).
  // `count`: Berth's containers on a host, or an error when its engine does not answer.
  // `warn`: one line per change of what the policy does (added, removed, at the limit).
  HeadroomPolicy(engine::Engine* engine, InventorySource inventory, HeadroomOptions options,
                 std::function<bool()> host_work_running, std::function<bool()> deploy_running,
                 std::function<Result<int>(const HostRecord&)> count,
                 std::function<void(const std::string&)> warn);
  ~HeadroomPolicy();  // Stop()
  void Start();
  void Stop();

  // One round at `now_ms` (public for tests; the thread calls it). The id of the workflow
  // it started, "" for none.
  Result<std::string> RunOnce(int64_t now_ms);

 private:
  void Run(std::stop_token stop);

  engine::Engine* engine_;
  InventorySource inventory_;
  HeadroomOptions o_;
  std::function<bool()> host_work_running_, deploy_running_;
  std::function<Result<int>(const HostRecord&)> count_;
  std::function<void(const std::string&)> warn_;
  std::map<std::string, int64_t> empty_since_;  // host -> ms (the policy's thread only)
  std::string last_said_;
  std::jthread thread_;
};

}  // namespace berth::workflows
