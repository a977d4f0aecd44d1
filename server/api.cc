#include "server/api.h"

#include <charconv>
#include <map>
#include <nlohmann/json.hpp>

#include "server/metrics.h"
#include "server/views.h"

namespace berth::server {

using nlohmann::json;

namespace {

ApiResponse Error(int http, const std::string& code, const std::string& message) {
  return {http, json{{"error", message}, {"code", code}}.dump() + "\n"};
}

ApiResponse FromStatus(const Status& s) {
  int http = s.code() == Code::kNotFound          ? 404
             : s.code() == Code::kInvalidArgument ? 400
             : s.code() == Code::kConflict        ? 409
             : s.code() == Code::kUnsupported     ? 422
             : s.code() == Code::kUnavailable     ? 503
                                                  : 500;
  return Error(http, CodeToken(s.code()), s.message());
}

ApiResponse Ok(const json& j) { return {200, j.dump() + "\n"}; }

// "a=1&b=x" -> {a: "1", b: "x"}; false names the bad part in *why.
bool ParseQuery(const std::string& q, std::map<std::string, std::string>* out, std::string* why) {
  size_t i = 0;
  while (i < q.size()) {
    size_t amp = q.find('&', i);
    std::string part = q.substr(i, amp == std::string::npos ? std::string::npos : amp - i);
    i = amp == std::string::npos ? q.size() : amp + 1;
    if (part.empty()) continue;
    size_t eq = part.find('=');
    std::string k, v;
    if (!PercentDecode(part.substr(0, eq), &k) ||
        !PercentDecode(eq == std::string::npos ? "" : part.substr(eq + 1), &v)) {
      *why = "query parameter '" + part + "' has a malformed %-escape";
      return false;
    }
    (*out)[k] = v;
  }
  return true;
}

// An unsigned query parameter; absent leaves *v as it is.
bool Uint(const std::map<std::string, std::string>& q, const std::string& name, uint64_t* v, std::string* why) {
  auto it = q.find(name);
  if (it == q.end()) return true;
  const std::string& s = it->second;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) {
    *why = "query parameter '" + name + "' must be an unsigned integer, not '" + s + "'";
    return false;
  }
  return true;
}

bool Known(const std::map<std::string, std::string>& q, std::initializer_list<const char*> names, std::string* why) {
  for (const auto& [k, v] : q) {
    bool ok = false;
    for (const char* n : names) ok = ok || k == n;
    if (!ok) {
      *why = "unknown query parameter '" + k + "'";
      return false;
    }
  }
  return true;
}

// GET /v1/workflows/{id}/events?follow=1: the workflow's events after `after`, one JSON
// line each (EventJson), as they become durable, then a last line {"workflow": <WorkflowJson>}
// once it has ended; or a last line {"error": ..., "code": ...} if the log fails. Each call
// reads only what is new: nothing when the log's last seq has not moved, else the
// workflow's events from the last one sent on (ScanWorkflowFrom), at most kPage of them.
class EventStream : public ApiStream {
 public:
  static constexpr size_t kPage = 1000;
  EventStream(const eventlog::EventLog* log, std::string id, uint64_t after)
      : log_(log), id_(std::move(id)), after_(after) {}

  bool Next(std::string* out) override {
    uint64_t last = log_->LastSeq();
    if (last == seen_) return true;
    // The status first: if it has ended, every event of it is durable before this read.
    auto wf = WorkflowJson(*log_, id_);
    if (!wf.ok()) return Failed(wf.status(), out);
    bool ended = (*wf)["summary"]["status"] != "running";
    size_t n = 0;
    Status s = log_->ScanWorkflowFrom(id_, next_wseq_, [&](const eventlog::Event& e) {
      next_wseq_ = e.workflow_seq + 1;
      if (e.seq <= after_) return true;
      *out += EventJson(e).dump() + "\n";
      after_ = e.seq;
      return ++n < kPage;
    });
    if (!s.ok()) return Failed(s, out);
    if (n == kPage) return true;  // more to read: seen_ stays, so the next call reads on
    seen_ = last;
    if (!ended) return true;
    *out += json{{"workflow", *wf}}.dump() + "\n";
    return false;
  }

 private:
  static bool Failed(const Status& s, std::string* out) {
    *out += json{{"error", s.message()}, {"code", CodeToken(s.code())}}.dump() + "\n";
    return false;
  }
  const eventlog::EventLog* log_;
  std::string id_;
  uint64_t after_;              // the last seq sent (or the client's `after`)
  uint64_t next_wseq_ = 1;      // the workflow_seq to read from
  uint64_t seen_ = UINT64_MAX;  // the log's last seq when everything up to it was sent
};

}  // namespace

std::string CodeToken(Code c) {
  std::string t = CodeName(c);
  for (char& ch : t)
    if (ch == ' ') ch = '_';
  return t;
}

Code CodeFromToken(const std::string& token) {
  for (int c = int(Code::kOk); c <= int(Code::kPermission); ++c)
    if (CodeToken(Code(c)) == token) return Code(c);
  return Code::kFailed;
}

bool PercentDecode(const std::string& in, std::string* out) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  out->clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out->push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size()) return false;  // "%" or "%4" at the end
    int a = hex(in[i + 1]), b = hex(in[i + 2]);
    if (a < 0 || b < 0) return false;
    out->push_back(char(a * 16 + b));
    i += 2;
  }
  return true;
}

std::string PercentEncode(const std::string& in) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : in) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(char(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::shared_ptr<const std::string> EventsBodyCache::Get(const std::string& id, uint64_t events) {
  std::lock_guard<std::mutex> g(mu_);
  auto it = entries_.find(id);
  if (it == entries_.end() || it->second.events != events) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second.at);
  return it->second.body;
}

void EventsBodyCache::Put(const std::string& id, uint64_t events, std::shared_ptr<const std::string> body) {
  if (body->size() > kBytes / 4) return;  // one huge history would push out every other
  std::lock_guard<std::mutex> g(mu_);
  if (auto it = entries_.find(id); it != entries_.end()) {
    bytes_ -= it->second.body->size();
    lru_.erase(it->second.at);
    entries_.erase(it);
  }
  lru_.push_front(id);
  bytes_ += body->size();
  entries_.emplace(id, Entry{events, std::move(body), lru_.begin()});
  while (entries_.size() > kEntries || bytes_ > kBytes) {  // bounded: each turn drops one
    auto last = entries_.find(lru_.back());
    bytes_ -= last->second.body->size();
    entries_.erase(last);
    lru_.pop_back();
  }
}

ApiResponse Api::Handle(const ApiRequest& r) const {
  std::string route = "other";
  ApiResponse out = Route(r, &route);
  if (metrics_) metrics_->OnRequest(route, out.status);
  return out;
}

ApiResponse Api::Route(const ApiRequest& r, std::string* route) const {
  size_t qm = r.target.find('?');
  std::string path = r.target.substr(0, qm);
  std::map<std::string, std::string> q;
  std::string why;
  if (qm != std::string::npos && !ParseQuery(r.target.substr(qm + 1), &q, &why))
    return Error(400, "invalid_argument", why);
  auto only_get = [&]() { return r.method == "GET" || r.method == "HEAD"; };

  if (path == "/metrics" && metrics_) {
    *route = path;
    if (!only_get()) return Error(405, "method_not_allowed", "use GET " + path);
    return {200, metrics_->Render(log_->Stats(), engine_ ? engine_->Running() : 0),
            "text/plain; version=0.0.4; charset=utf-8"};
  }
  if (path == "/v1/health" || path == "/v1/workflows" || path == "/v1/audit" || path == "/v1/replay") *route = path;
  if (auto hook = hooks_.gets.find(path); hook != hooks_.gets.end()) {
    *route = path;
    if (!only_get()) return Error(405, "method_not_allowed", "use GET " + path);
    auto out = hook->second(q);
    if (!out.ok()) return FromStatus(out.status());
    return Ok(*out);
  }
  if (path == "/v1/replay") {
    if (!only_get()) return Error(405, "method_not_allowed", "use GET " + path);
    if (!Known(q, {"workflow"}, &why)) return Error(400, "invalid_argument", why);
    if (!registry_) return Error(503, "unavailable", "this server has no workflow types to replay with");
    auto report = VerifyJson(*log_, *registry_, q["workflow"]);
    if (!report.ok()) return FromStatus(report.status());
    return Ok(*report);
  }
  if (path == "/v1/health") {
    if (!only_get()) return Error(405, "method_not_allowed", "use GET " + path);
    return Ok({{"ok", true}, {"last_seq", log_->LastSeq()}});
  }
  if (path == "/v1/workflows") {
    if (r.method == "POST") return StartWorkflow(r.body);
    if (!only_get()) return Error(405, "method_not_allowed", "use GET or POST " + path);
    uint64_t limit = 1000;
    if (!Known(q, {"status", "type", "limit", "after", "prefix"}, &why) || !Uint(q, "limit", &limit, &why))
      return Error(400, "invalid_argument", why);
    std::string status = q.count("status") ? q["status"] : "";
    if (!status.empty() && status != "running" && status != "completed" && status != "failed" &&
        status != "cancelled")
      return Error(400, "invalid_argument",
                   "query parameter 'status' must be running, completed, failed or cancelled, not '" + status + "'");
    auto page = ListWorkflows(*log_, status, q.count("type") ? q["type"] : "", limit, q.count("after") ? q["after"] : "",
                              q.count("prefix") ? q["prefix"] : "");
    if (!page.ok()) return FromStatus(page.status());
    return Ok({{"workflows", page->workflows},
               {"next_after", page->more ? json(page->last_id) : json(nullptr)}});
  }
  if (path == "/v1/audit") {
    if (!only_get()) return Error(405, "method_not_allowed", "use GET " + path);
    if (!Known(q, {"app", "service", "container", "host"}, &why)) return Error(400, "invalid_argument", why);
    auto rows = AuditRows(*log_, q["app"], q["service"], q["container"], q["host"]);
    if (!rows.ok()) return FromStatus(rows.status());
    return Ok(*rows);
  }
  // /v1/subjects/{subject}: how many events name it (of one type, with `type`).
  const std::string subject_prefix = "/v1/subjects/";
  if (path.rfind(subject_prefix, 0) == 0 && path.size() > subject_prefix.size()) {
    *route = "/v1/subjects/{subject}";
    if (!only_get()) return Error(405, "method_not_allowed", "use GET " + path);
    std::string subject;
    if (!PercentDecode(path.substr(subject_prefix.size()), &subject))
      return Error(400, "invalid_argument", "the subject in " + path + " has a malformed %-escape");
    if (!Known(q, {"type"}, &why)) return Error(400, "invalid_argument", why);
    uint64_t n = 0;
    const std::string type = q["type"];
    Status s = log_->ScanSubject(subject, [&](const eventlog::Event& e) {
      n += type.empty() || e.type == type;
      return true;
    });
    if (!s.ok()) return FromStatus(s);
    return Ok({{"subject", subject}, {"events", n}});
  }
  // /v1/workflows/{id}[/events|/cancel]; the id is one %-encoded segment.
  const std::string wf_prefix = "/v1/workflows/";
  if (path.rfind(wf_prefix, 0) == 0 && path.size() > wf_prefix.size()) {
    std::string rest = path.substr(wf_prefix.size()), action;
    if (size_t slash = rest.find('/'); slash != std::string::npos) {
      action = rest.substr(slash + 1);
      rest.resize(slash);
    }
    *route = "/v1/workflows/{id}" + (action.empty() ? "" : "/" + action);
    std::string id;
    if (rest.empty() || !PercentDecode(rest, &id))
      return Error(400, "invalid_argument", "the workflow id in " + path + " is empty or has a malformed %-escape");
    if (action.empty()) {
      if (!only_get()) return Error(405, "method_not_allowed", "use GET " + path);
      if (!Known(q, {}, &why)) return Error(400, "invalid_argument", why);
      auto wf = WorkflowJson(*log_, id);
      if (!wf.ok()) return FromStatus(wf.status());
      return Ok(*wf);
    }
    if (action == "events") {
      if (!only_get()) return Error(405, "method_not_allowed", "use GET " + path);
      uint64_t after = 0, limit = 0;
      if (!Known(q, {"after", "limit", "follow"}, &why) || !Uint(q, "after", &after, &why) ||
          !Uint(q, "limit", &limit, &why))
        return Error(400, "invalid_argument", why);
      if (q.count("follow")) {
        const std::string& f = q["follow"];
        if (f != "1" && f != "true" && f != "0" && f != "false")
          return Error(400, "invalid_argument", "query parameter 'follow' must be 1, true, 0 or false, not '" + f + "'");
        if (f == "1" || f == "true") {
          if (limit) return Error(400, "invalid_argument", "'limit' does not go with 'follow' (a stream ends with its workflow)");
          auto wf = WorkflowJson(*log_, id);
          if (!wf.ok()) return FromStatus(wf.status());
          ApiResponse streamed{200, "", "application/x-ndjson"};
          streamed.stream = std::make_shared<EventStream>(log_, id, after);
          return streamed;
        }
      }
      // The whole history: served from the cache while the workflow's event count is unchanged.
      uint64_t count = 0;
      std::string raw;
      engine::WorkflowSummary sum;
      bool whole = after == 0 && limit == 0 && log_->GetProjection(engine::SummaryKey(id), &raw).ok() &&
                   engine::DecodeSummary(raw, &sum).ok();
      if (whole) {
        count = sum.events;
        if (auto body = events_cache_.Get(id, count)) return {200, *body};
      }
      auto events = WorkflowEvents(*log_, id, after, limit);
      if (!events.ok()) return FromStatus(events.status());
      ApiResponse out = Ok(*events);
      // Made after the count was read: it holds at least those events (more is newer, not wrong).
      if (whole) events_cache_.Put(id, count, std::make_shared<const std::string>(out.body));
      return out;
    }
    if (action == "cancel") {
      if (r.method != "POST") return Error(405, "method_not_allowed", "use POST " + path);
      return CancelWorkflow(id);
    }
    if (action == "retry") {
      if (r.method != "POST") return Error(405, "method_not_allowed", "use POST " + path);
      if (!engine_) return Error(503, "unavailable", "this server runs no engine");
      json j = json::parse(r.body, nullptr, false);
      if (j.is_discarded() || !j.is_object() || !j.contains("from") || !j["from"].is_string() || j.size() != 1)
        return Error(400, "invalid_argument", "the body must be {\"from\": \"<step>\"}: the step to retry from (see the workflow's events)");
      std::vector<std::string> reset;
      if (Status s = engine_->Retry(id, j["from"].get<std::string>(), &reset); !s.ok()) return FromStatus(s);
      return {202, json{{"id", id}, {"status", "running"}, {"from", j["from"]}, {"reset", reset}}.dump() + "\n"};
    }
    if (action == "pause" || action == "unpause") {
      if (r.method != "POST") return Error(405, "method_not_allowed", "use POST " + path);
      if (!engine_) return Error(503, "unavailable", "this server runs no engine");
      Status s = action == "pause" ? engine_->Pause(id) : engine_->Unpause(id);
      if (!s.ok()) return FromStatus(s);
      return {202, json{{"id", id}, {"status", action == "pause" ? "paused" : "running"}}.dump() + "\n"};
    }
  }
  return Error(404, "not_found", "no route " + r.method + " " + path + " (see docs/api.md)");
}

ApiResponse Api::StartWorkflow(const std::string& body) const {
  if (!engine_) return Error(503, "unavailable", "this server runs no engine");
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return Error(400, "invalid_argument", "the body must be a JSON object {\"type\": ..., \"input\": {...}}");
  for (const auto& [k, v] : j.items())
    if (k != "type" && k != "id" && k != "input")
      return Error(400, "invalid_argument", "unknown field '" + k + "' (known: type, id, input)");
  if (!j.contains("type") || !j["type"].is_string() || j["type"].get<std::string>().empty())
    return Error(400, "invalid_argument", "field 'type' (a workflow type, e.g. \"synthetic\") is missing or not a string");
  if (j.contains("id") && !j["id"].is_string()) return Error(400, "invalid_argument", "field 'id' must be a string");
  json input = j.contains("input") ? j["input"] : json::object();
  if (hooks_.on_start)
    if (Status s = hooks_.on_start(j["type"].get<std::string>(), &input); !s.ok()) return FromStatus(s);
  engine::StartRequest req{j["type"].get<std::string>(), j.value("id", ""), input.dump(), eventlog::Actor::kUser, true};
  auto id = engine_->Start(req);
  if (!id.ok()) return FromStatus(id.status());
  return {201, json{{"id", *id}, {"status", "running"}}.dump() + "\n"};
}

ApiResponse Api::CancelWorkflow(const std::string& id) const {
  if (!engine_) return Error(503, "unavailable", "this server runs no engine");
  if (Status s = engine_->Cancel(id); !s.ok()) return FromStatus(s);
  // Finish the cancellation now if it was not loaded: in-doubt steps are reconciled, then
  // it ends as cancelled (as `berth cancel` does in-process).
  size_t n = 0;
  if (Status s = engine_->Recover(&n, id); !s.ok()) return FromStatus(s);
  return {202, json{{"id", id}, {"status", "cancelling"}}.dump() + "\n"};
}

}  // namespace berth::server
