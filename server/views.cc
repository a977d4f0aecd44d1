#include "server/views.h"

#include <cstdio>
#include <ctime>

#include "replay/describe.h"

namespace berth::server {

using nlohmann::json;

std::string FormatTime(int64_t us) {
  if (us == 0) return "";
  std::time_t t = us / 1000000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, int((us / 1000) % 1000));
  return out;
}

json SummaryJson(const engine::WorkflowSummary& s) {
  json j = {{"id", s.id},
            {"type", s.type},
            {"status", engine::RunStatusName(s.status)},
            {"events", s.events},
            {"started", FormatTime(s.started_us)},
            {"ended", s.ended_us ? json(FormatTime(s.ended_us)) : json(nullptr)}};
  if (!s.parent.empty()) j["parent"] = s.parent;
  if (!s.error.empty()) j["error"] = s.error;
  return j;
}

Result<WorkflowPage> ListWorkflows(const eventlog::EventLog& log, const std::string& status,
                                   const std::string& type, uint64_t limit, const std::string& after) {
  WorkflowPage page;
  Status bad;
  std::string from = after.empty() ? "" : engine::SummaryKey(after);
  Status s = log.ScanProjectionsAfter(engine::kSummaryPrefix, from, [&](const std::string& k, const std::string& v) {
    if (limit && page.workflows.size() == limit) {
      page.more = true;
      return false;
    }
    engine::WorkflowSummary w;
    bad = engine::DecodeSummary(v, &w);
    if (!bad.ok()) {
      bad = bad.WithContext("projection " + k);
      return false;
    }
    if ((status.empty() || status == engine::RunStatusName(w.status)) && (type.empty() || type == w.type)) {
      page.workflows.push_back(SummaryJson(w));
      page.last_id = w.id;
    }
    return true;
  });
  if (!s.ok()) return s;
  if (!bad.ok()) return bad;
  return page;
}

Result<json> WorkflowEvents(const eventlog::EventLog& log, const std::string& id, uint64_t after_seq,
                            uint64_t limit) {
  json arr = json::array();
  bool any = false;
  Status s = log.ScanWorkflow(id, [&](const eventlog::Event& e) {
    any = true;
    if (e.seq <= after_seq) return true;
    if (limit && arr.size() == limit) return false;
    arr.push_back({{"seq", e.seq},
                   {"workflow_seq", e.workflow_seq},
                   {"time", FormatTime(e.time_us)},
                   {"actor", eventlog::ActorName(e.actor)},
                   {"type", e.type},
                   {"summary", replay::Describe(e)}});
    return true;
  });
  if (!s.ok()) return s;
  if (!any) return NotFound("no workflow '" + id + "'; list them with `berth workflows`");
  return arr;
}

}  // namespace berth::server
