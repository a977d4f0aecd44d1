#include "server/metrics.h"

#include <fmt/format.h>
#include <sys/time.h>

#include <nlohmann/json.hpp>

#include "engine/events.h"
#include "server/api.h"

namespace berth::server {

namespace ev = engine::ev;

namespace {
int64_t NowUs() {
  timeval tv{};
  gettimeofday(&tv, nullptr);
  return int64_t(tv.tv_sec) * 1'000'000 + tv.tv_usec;
}
// A label value in Prometheus' text format: backslash, quote and newline escaped.
std::string Esc(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}
}  // namespace

const std::vector<double>& Metrics::Bounds() {
  static const std::vector<double> b = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300};
  return b;
}

void Metrics::Histogram::Observe(double seconds) {
  if (buckets.empty()) buckets.assign(Bounds().size(), 0);
  for (size_t i = 0; i < Bounds().size(); ++i)
    if (seconds <= Bounds()[i]) {
      ++buckets[i];
      break;
    }
  ++count;
  sum += seconds;
}

void Metrics::OnEvent(const eventlog::Event& e) {
  int64_t now = NowUs();
  std::lock_guard<std::mutex> l(mu_);
  if (e.time_us > 0 && now >= e.time_us) durable_.Observe(double(now - e.time_us) / 1e6);
  const std::string& t = e.type;
  if (t == ev::kWorkflowStarted) {
    engine::WorkflowStartedP p;
    if (!engine::DecodePayload(e.payload, &p).ok()) return;
    type_of_[e.workflow_id] = p.type;
    ++started_[p.type];
  } else if (t == ev::kWorkflowCompleted || t == ev::kWorkflowFailed || t == ev::kWorkflowCancelled) {
    auto it = type_of_.find(e.workflow_id);
    std::string type = it == type_of_.end() ? "unknown" : it->second;  // started before this server
    if (it != type_of_.end()) type_of_.erase(it);
    std::string status = t == ev::kWorkflowCompleted ? "completed" : t == ev::kWorkflowFailed ? "failed" : "cancelled";
    ++ended_[{type, status}];
    if (type == "restart") {
      std::string outcome = "gave_up";
      if (t == ev::kWorkflowCompleted) {
        engine::EndedP p;
        nlohmann::json r = engine::DecodePayload(e.payload, &p).ok() ? nlohmann::json::parse(p.text, nullptr, false) : nlohmann::json();
        outcome = r.is_object() ? r.value("action", "none") : "none";
      } else if (t == ev::kWorkflowCancelled) {
        outcome = "cancelled";
      }
      ++restarts_[outcome];
    }
  } else if (t == ev::kActivityStarted) {
    engine::ActivityStartedP p;
    if (engine::DecodePayload(e.payload, &p).ok()) steps_[e.workflow_id + "/" + p.step] = {p.activity, e.time_us};
  } else if (t == ev::kActivityCompleted || t == ev::kActivityFailed) {
    std::string step;
    int32_t code = 0;
    if (t == ev::kActivityCompleted) {
      engine::ActivityCompletedP p;
      if (!engine::DecodePayload(e.payload, &p).ok()) return;
      step = p.step;
    } else {
      engine::ActivityFailedP p;
      if (!engine::DecodePayload(e.payload, &p).ok()) return;
      step = p.step;
      code = p.code;
    }
    auto it = steps_.find(e.workflow_id + "/" + step);
    if (it == steps_.end()) return;  // started before this server
    step_seconds_[it->second.first].Observe(double(e.time_us - it->second.second) / 1e6);
    if (t == ev::kActivityFailed) ++step_failures_[{it->second.first, CodeToken(Code(code))}];
    steps_.erase(it);
  }
}

void Metrics::OnRequest(const std::string& route, int status) {
  std::lock_guard<std::mutex> l(mu_);
  ++requests_[{route, status}];
}

std::string Metrics::Render(const eventlog::LogStats& log, size_t running) const {
  std::lock_guard<std::mutex> l(mu_);
  std::string out;
  auto head = [&](const char* name, const char* type, const char* help) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  };
  auto histogram = [&](const std::string& name, const std::string& labels, const Histogram& h) {
    uint64_t cum = 0;
    for (size_t i = 0; i < Bounds().size(); ++i) {
      cum += h.buckets.empty() ? 0 : h.buckets[i];
      out += fmt::format("{}_bucket{{{}le=\"{}\"}} {}\n", name, labels, Bounds()[i], cum);
    }
    out += fmt::format("{}_bucket{{{}le=\"+Inf\"}} {}\n", name, labels, h.count);
    std::string bare = labels.empty() ? "" : "{" + labels.substr(0, labels.size() - 1) + "}";
    out += fmt::format("{}_sum{} {}\n{}_count{} {}\n", name, bare, h.sum, name, bare, h.count);
  };
  head("berth_workflows_started_total", "counter", "workflows started since this server started");
  for (const auto& [type, n] : started_) out += fmt::format("berth_workflows_started_total{{type=\"{}\"}} {}\n", Esc(type), n);
  head("berth_workflows_ended_total", "counter", "workflows ended since this server started");
  for (const auto& [k, n] : ended_)
    out += fmt::format("berth_workflows_ended_total{{type=\"{}\",status=\"{}\"}} {}\n", Esc(k.first), k.second, n);
  head("berth_workflows_running", "gauge", "workflows running in this server");
  out += fmt::format("berth_workflows_running {}\n", running);
  head("berth_step_seconds", "histogram", "activity attempts, start to end");
  for (const auto& [activity, h] : step_seconds_) histogram("berth_step_seconds", "activity=\"" + Esc(activity) + "\",", h);
  head("berth_step_failures_total", "counter", "failed activity attempts by error code");
  for (const auto& [k, n] : step_failures_)
    out += fmt::format("berth_step_failures_total{{activity=\"{}\",code=\"{}\"}} {}\n", Esc(k.first), k.second, n);
  head("berth_restarts_total", "counter", "restart workflows by outcome");
  for (const auto& [outcome, n] : restarts_) out += fmt::format("berth_restarts_total{{outcome=\"{}\"}} {}\n", Esc(outcome), n);
  head("berth_event_durable_seconds", "histogram", "from an event's append to the engine seeing it durable");
  histogram("berth_event_durable_seconds", "", durable_);
  head("berth_log_appends_total", "counter", "append requests made durable by this log");
  out += fmt::format("berth_log_appends_total {}\n", log.appends);
  head("berth_log_events_total", "counter", "events made durable by this log");
  out += fmt::format("berth_log_events_total {}\n", log.events);
  head("berth_log_batches_total", "counter", "write batches (one fsync each); events/batches is the mean batch size");
  out += fmt::format("berth_log_batches_total {}\n", log.batches);
  head("berth_http_requests_total", "counter", "API requests by route and status");
  for (const auto& [k, n] : requests_)
    out += fmt::format("berth_http_requests_total{{route=\"{}\",code=\"{}\"}} {}\n", Esc(k.first), k.second, n);
  return out;
}

}  // namespace berth::server
