#include "workflows/hosts/host_gate.h"

#include <set>

#include "engine/events.h"
#include "engine/workflow_state.h"
#include "workflows/hosts/hosts.h"

namespace berth::workflows {

Status HostStays(const eventlog::EventLog& log, const std::string& host) {
  auto inv = LoadInventory(log);
  if (!inv.ok()) return inv.status().WithContext("checking host " + host + " is still in the cloud");
  if (!inv->Find(host))
    return Status(Code::kConflict, "host " + host + " is not in the cloud any more (removed since this deploy "
                                   "started); deploy again and placement chooses among the hosts that stay");
  std::set<std::string> removes;  // host workflows of this host that started a census
  Status s = log.ScanSubject(HostSubject(host), [&](const eventlog::Event& e) {
    if (e.type != engine::ev::kActivityStarted) return true;
    engine::ActivityStartedP p;
    if (engine::DecodePayload(e.payload, &p).ok() && p.activity == "host.census") removes.insert(e.workflow_id);
    return true;
  });
  if (!s.ok()) return s.WithContext("reading the history of host " + host);
  for (const auto& id : removes) {
    std::string bytes;
    engine::WorkflowSummary sum;
    if (!log.GetProjection(engine::SummaryKey(id), &bytes).ok() || !engine::DecodeSummary(bytes, &sum).ok())
      continue;
    if (!engine::IsTerminal(sum.status))
      return Status(Code::kConflict, "host " + host + " is being removed from the cloud (" + id +
                                         "); deploy again once it has ended");
  }
  return Status::Ok();
}

std::shared_mutex& HostGate::Lock(const std::string& host) {
  std::lock_guard<std::mutex> g(mu_);
  auto& l = locks_[host];
  if (!l) l = std::make_unique<std::shared_mutex>();
  return *l;
}

Result<std::shared_ptr<void>> HostGate::Enter(const std::string& host) {
  std::shared_mutex& m = Lock(host);
  m.lock_shared();
  std::shared_ptr<void> hold(nullptr, [&m](void*) { m.unlock_shared(); });
  if (log_)
    if (Status s = HostStays(*log_, host); !s.ok()) return s;
  return hold;
}

std::unique_lock<std::shared_mutex> HostGate::Exclusive(const std::string& host) {
  return std::unique_lock<std::shared_mutex>(Lock(host));
}

}  // namespace berth::workflows
