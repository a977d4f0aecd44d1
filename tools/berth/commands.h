// The berth commands. Each returns the process exit code: 0 success, 1 the work failed
// (a workflow failed, verification found a problem), 2 bad input or environment (printed),
// 3 no Docker engine answers (apps.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tools/berth/context.h"

namespace berth::tool {

struct SubmitArgs {
  std::string type, input = "{}", id;
  bool detach = false;
};
int Submit(const Globals& g, const SubmitArgs& a);
// A page of the workflow list, in id order: at most `limit` (0: all) after id `after`.
int Workflows(const Globals& g, const std::string& status, const std::string& type,
              uint64_t limit = 1000, const std::string& after = "");
int History(const Globals& g, const std::string& id);
int Replay(const Globals& g, const std::string& id, bool verify);
int Resume(const Globals& g, bool detach);
int Cancel(const Globals& g, const std::string& id);
// Re-runs a failed workflow from step `from` (engine.h, Retry) and waits for its new end.
int Retry(const Globals& g, const std::string& id, const std::string& from);
// pause / unpause: no new step starts until unpaused; what runs finishes (engine.h).
int Pause(const Globals& g, const std::string& id, bool pause);
// Holds the data directory and serves the API on <data-dir>/berth.sock until SIGTERM/SIGINT
// (and on TCP with a bearer token, when `listen` is set).
struct ServeArgs {
  std::string listen, token_file, tls_cert, tls_key;
  // The headroom policy (workflows/hosts/headroom.h); on when headroom or min_hosts > 0.
  int headroom = 0, max_per_host = 4, min_hosts = 0, max_hosts = 10;
  std::vector<std::string> pool_labels;  // K=V
  double idle_s = 60, policy_interval_s = 2;
};
int Serve(const Globals& g, const ServeArgs& a);
int BenchLog(const Globals& g, uint64_t events, unsigned producers);
// children > 0: one parent of `children` children instead (vs as many independent ones);
// history > 0: resume of 100 open workflows over that many finished events (vs none).
int BenchEngine(const Globals& g, uint64_t workflows, uint64_t steps, uint64_t children = 0,
                uint64_t history = 0);

// Prints "berth: <message>" on stderr and returns 2 (or 1 for kFailed/kCorruption).
int Fail(const Status& s);

}  // namespace berth::tool
