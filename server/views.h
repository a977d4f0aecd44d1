// The JSON views of the log that `berth` prints and `berth serve` answers with: one code
// path, so the CLI with a server and without one print the same thing.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "engine/registry.h"
#include "engine/workflow_state.h"
#include "eventlog/event_log.h"

namespace berth::server {

std::string FormatTime(int64_t us);  // "2026-11-25T22:58:19.123Z", "" for 0

nlohmann::json SummaryJson(const engine::WorkflowSummary& s);

struct WorkflowPage {
  nlohmann::json workflows = nlohmann::json::array();  // SummaryJson rows, in id order
  bool more = false;     // rows follow the last one shown
  std::string last_id;   // the last row shown ("" when none): the next page's `after`
};

// A page of the workflow list: rows whose id sorts after `after` ("" from the start) and
// begins with `prefix` ("" for any: only those rows are read), matching `status` and
// `type` ("" for any), at most `limit` (0: all).
Result<WorkflowPage> ListWorkflows(const eventlog::EventLog& log, const std::string& status,
                                   const std::string& type, uint64_t limit, const std::string& after,
                                   const std::string& prefix = "");

// One event as the views give it: seq, workflow_id, workflow_seq, time, actor, type,
// summary (replay::Describe), and for activity events "detail" with what progress shows:
// step and attempt; adopted and result (completed); error and final (failed).
nlohmann::json EventJson(const eventlog::Event& e);

// A workflow's summary row (SummaryJson) and, once it completed, its result (JSON, or the
// text when it is not JSON; null before): {"summary": {...}, "result": ...}. kNotFound.
Result<nlohmann::json> WorkflowJson(const eventlog::EventLog& log, const std::string& id);

// A workflow's events with seq > `after_seq`, in order, at most `limit` (0: all): objects
// as EventJson gives them. kNotFound when it has none at all.
Result<nlohmann::json> WorkflowEvents(const eventlog::EventLog& log, const std::string& id,
                                      uint64_t after_seq = 0, uint64_t limit = 0);

// The container changes `berth audit` lists: every event with a container subject, of one
// container, one service of an app (`service` needs `app`), one app, or all ("" each), in
// seq order; rows with seq, time, container, workflow, by (who started the workflow:
// actor and the input's "by"), event, what. kInvalidArgument for a service without app.
// With `host`: every event that names host:<host> (its adds, cordons, removes, and the
// steps of containers placed there), container "" for the host's own.
Result<nlohmann::json> AuditRows(const eventlog::EventLog& log, const std::string& app,
                                 const std::string& service, const std::string& container,
                                 const std::string& host = "");

// `berth replay [WF] --verify` (replay/verify.h) of the log through one snapshot of it
// (EventLog::Snapshot; the log itself where there is none), so a server appending meanwhile
// cannot make the projections disagree with the events: {"ok", "events", "workflows",
// "decisions", "projections", "seconds"} and, when it found a problem (an unknown workflow
// too), "error" and "code".
Result<nlohmann::json> VerifyJson(const eventlog::EventLog& log, const engine::Registry& registry,
                                  const std::string& workflow_id);

}  // namespace berth::server
