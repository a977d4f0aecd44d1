#include "server/views.h"

#include <cstdio>
#include <ctime>
#include <map>

#include "engine/events.h"
#include "replay/describe.h"
#include "replay/verify.h"
#include "workflows/deploy/names.h"

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
                                   const std::string& type, uint64_t limit, const std::string& after,
                                   const std::string& prefix) {
  WorkflowPage page;
  Status bad;
  std::string from = after.empty() ? "" : engine::SummaryKey(after);
  Status s = log.ScanProjectionsAfter(engine::SummaryKey(prefix), from, [&](const std::string& k, const std::string& v) {
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

json EventJson(const eventlog::Event& e) {
  json j = {{"seq", e.seq},
            {"workflow_id", e.workflow_id},
            {"workflow_seq", e.workflow_seq},
            {"time", FormatTime(e.time_us)},
            {"actor", eventlog::ActorName(e.actor)},
            {"type", e.type},
            {"summary", replay::Describe(e)}};
  namespace ev = engine::ev;
  if (e.type == ev::kActivityStarted) {
    engine::ActivityStartedP p;
    if (engine::DecodePayload(e.payload, &p).ok()) j["detail"] = {{"step", p.step}, {"attempt", p.attempt}};
  } else if (e.type == ev::kActivityCompleted) {
    engine::ActivityCompletedP p;
    if (engine::DecodePayload(e.payload, &p).ok())
      j["detail"] = {{"step", p.step}, {"attempt", p.attempt}, {"adopted", p.adopted}, {"result", p.result}};
  } else if (e.type == ev::kActivityFailed) {
    engine::ActivityFailedP p;
    if (engine::DecodePayload(e.payload, &p).ok())
      j["detail"] = {{"step", p.step}, {"attempt", p.attempt}, {"error", p.error}, {"final", p.final}};
  }
  return j;
}

Result<json> WorkflowJson(const eventlog::EventLog& log, const std::string& id) {
  std::string raw;
  engine::WorkflowSummary sum;
  if (Status s = log.GetProjection(engine::SummaryKey(id), &raw); !s.ok()) {
    if (s.code() == Code::kNotFound) return NotFound("no workflow '" + id + "'; list them with `berth workflows`");
    return s;
  }
  if (Status s = engine::DecodeSummary(raw, &sum); !s.ok()) return s.WithContext("projection " + engine::SummaryKey(id));
  json result = nullptr;
  if (sum.status == engine::RunStatus::kCompleted) {
    // The summary row has no result; the history's last event has it.
    Status s = log.ScanWorkflow(id, [&](const eventlog::Event& e) {
      if (e.type == engine::ev::kWorkflowCompleted) {
        engine::EndedP p;
        if (engine::DecodePayload(e.payload, &p).ok()) {
          result = json::parse(p.text, nullptr, false);
          if (result.is_discarded()) result = p.text;
        }
      }
      return true;
    });
    if (!s.ok()) return s;
  }
  return json{{"summary", SummaryJson(sum)}, {"result", result}};
}

Result<json> WorkflowEvents(const eventlog::EventLog& log, const std::string& id, uint64_t after_seq,
                            uint64_t limit) {
  json arr = json::array();
  bool any = false;
  Status s = log.ScanWorkflow(id, [&](const eventlog::Event& e) {
    any = true;
    if (e.seq <= after_seq) return true;
    if (limit && arr.size() == limit) return false;
    arr.push_back(EventJson(e));
    return true;
  });
  if (!s.ok()) return s;
  if (!any) return NotFound("no workflow '" + id + "'; list them with `berth workflows`");
  return arr;
}

Result<json> AuditRows(const eventlog::EventLog& log, const std::string& app, const std::string& service,
                       const std::string& container, const std::string& host) {
  if (!service.empty() && app.empty())
    return InvalidArgument("--service needs --app (service names repeat across apps)");
  std::map<std::string, std::string> who;  // workflow -> who started it
  auto by = [&](const std::string& wf_id) -> const std::string& {
    auto it = who.find(wf_id);
    if (it != who.end()) return it->second;
    std::string w = "?";
    (void)log.ScanWorkflow(wf_id, [&](const eventlog::Event& e) {
      engine::WorkflowStartedP p;
      if (engine::DecodePayload(e.payload, &p).ok()) {
        json in = json::parse(p.input, nullptr, false);
        w = std::string(eventlog::ActorName(e.actor)) +
            (in.is_object() && in.contains("by") && in["by"].is_string() ? " " + in["by"].get<std::string>() : "");
      }
      return false;  // only the first event
    });
    return who[wf_id] = w;
  };
  json rows = json::array();
  auto visit = [&](const eventlog::Event& e) {
    std::string c;
    for (const auto& s : e.subjects)
      if (s.rfind("container:", 0) == 0) c = s.substr(10);
    if (c.empty() && host.empty()) return true;  // app-level steps (observe, networks, images)
    if (!container.empty() && c != container) return true;
    rows.push_back({{"seq", e.seq},
                    {"time", FormatTime(e.time_us)},
                    {"container", c},
                    {"workflow", e.workflow_id},
                    {"by", by(e.workflow_id)},
                    {"event", e.type},
                    {"what", replay::Describe(e)}});
    return true;
  };
  Status s;
  if (!host.empty()) s = log.ScanSubject("host:" + host, visit);
  else if (!container.empty()) s = log.ScanSubject(workflows::ContainerSubject(container), visit);
  else if (!service.empty()) s = log.ScanSubject(workflows::ServiceSubject(app, service), visit);
  else if (!app.empty()) s = log.ScanSubject(workflows::AppSubject(app), visit);
  else s = log.ScanRange(1, log.LastSeq(), visit);
  if (!s.ok()) return s;
  return rows;
}

Result<json> VerifyJson(const eventlog::EventLog& log, const engine::Registry& registry,
                        const std::string& workflow_id) {
  auto snap = log.Snapshot();
  const eventlog::EventLog& view = snap.ok() ? **snap : log;
  replay::VerifyReport r;
  Status s = replay::Verify(view, registry, workflow_id, &r);
  json j = {{"ok", s.ok()},
            {"events", r.events},
            {"workflows", r.workflows},
            {"decisions", r.decisions},
            {"projections", r.projections},
            {"seconds", r.seconds}};
  if (!s.ok()) {
    j["error"] = s.ToString();
    j["code"] = CodeName(s.code());
  }
  return j;
}

}  // namespace berth::server
