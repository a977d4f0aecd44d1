// HostGate: keeps a host from leaving the cloud while a deploy makes something on it.
//
// A deploy reads the cloud in its `hosts` step, so it may still place on a host that a
// `host remove` takes away after that (found by berth-sim: a deploy made its network
// on a host removed a moment before). The gate closes that race in the process that runs
// the workflows:
//   - a step that makes something on a host (an image, a network, a container) holds the
//     host shared for the step, and first checks from the log that the host is still in
//     the inventory and that no remove of it has started its census: else kConflict, and
//     the deploy fails naming the remove (deploy again: placement chooses among the hosts
//     that stay);
//   - the remove's census holds the host exclusively while it counts, so a step that
//     passed the check has finished making (and is counted) before the census answers.
// The census's ActivityStarted is in the log before it takes the lock, so a step either
// sees the remove or is counted by it. Both checks are read from the log, so they hold
// across a restart. Cost per making step: one inventory fold (host changes) and one
// subject scan of the host's history.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>

#include "eventlog/event_log.h"

namespace berth::workflows {

class HostGate {
 public:
  explicit HostGate(const eventlog::EventLog* log) : log_(log) {}
  // A shared hold on `host` for one making step, or kConflict saying why it may not.
  Result<std::shared_ptr<void>> Enter(const std::string& host);
  // The census's exclusive hold.
  std::unique_lock<std::shared_mutex> Exclusive(const std::string& host);

 private:
  std::shared_mutex& Lock(const std::string& host);
  const eventlog::EventLog* log_;
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<std::shared_mutex>> locks_;
};

// Ok while `host` is in the inventory and no remove of it is past its census start.
Status HostStays(const eventlog::EventLog& log, const std::string& host);

}  // namespace berth::workflows
