#include "workflows/deploy/restart_watcher.h"

#include <ctime>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "engine/workflow_state.h"
#include "workflows/deploy/names.h"
#include "workflows/deploy/restart.h"

namespace berth::workflows {

using json = nlohmann::json;

int64_t ParseDockerTimeNs(const std::string& t) {
  std::tm tm{};
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0, used = 0;
  if (std::sscanf(t.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &s, &used) != 6 || y < 1970) return 0;
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  int64_t ns = int64_t(timegm(&tm)) * 1'000'000'000;
  size_t i = size_t(used);
  if (i < t.size() && t[i] == '.') {
    int64_t scale = 100'000'000;
    for (++i; i < t.size() && std::isdigit(static_cast<unsigned char>(t[i])); ++i, scale /= 10)
      ns += (t[i] - '0') * scale;
  }
  return ns;
}

RestartWatcher::RestartWatcher(engine::Engine* engine, const eventlog::EventLog* log, DockerProvider docker,
                               std::function<void(const std::string&)> warn, std::string cursor_path)
    : engine_(engine), log_(log), docker_(std::move(docker)), warn_(std::move(warn)),
      cursor_path_(std::move(cursor_path)) {}

std::string RestartWatcher::ReadCursor() const {
  if (cursor_path_.empty()) return "";
  std::ifstream in(cursor_path_);
  int64_t ns = 0;
  if (!(in >> ns) || ns <= 0) return "";  // none yet, or unreadable: the listing covers it
  return fmt::format("{}.{:09}", ns / 1'000'000'000, ns % 1'000'000'000);
}

// Written to a temporary file and renamed, so a crash leaves the old cursor or the new one;
// not synced: a cursor a little behind only replays events whose handling is idempotent.
void RestartWatcher::SaveCursor(int64_t time_ns) {
  if (cursor_path_.empty() || time_ns <= cursor_ns_) return;
  cursor_ns_ = time_ns;
  std::string tmp = cursor_path_ + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << time_ns << "\n";
    if (!out) return;
  }
  std::error_code ec;
  std::filesystem::rename(tmp, cursor_path_, ec);
}

void RestartWatcher::OnEvent(docker::DockerClient& d, const docker::Event& e) {
  if (e.action == "stop")
    OnStop(d, e.actor_id);
  else
    OnDeath(d, e.actor_id);
  SaveCursor(e.time_nano);
}

RestartWatcher::~RestartWatcher() { Stop(); }

void RestartWatcher::Start() {
  thread_ = std::jthread([this](std::stop_token stop) { Run(stop); });
}

void RestartWatcher::Stop() {
  if (thread_.joinable()) {
    thread_.request_stop();
    thread_.join();
  }
}

// The restarts in a row before this death: the attempt of the container's latest restart
// workflow if that one restarted it, else 0. Reads the restart workflows of this container
// only (their ids share a prefix).
int RestartWatcher::PreviousAttempt(const std::string& container, int64_t died_at_ns) const {
  std::string mine = RestartWorkflowId(container, died_at_ns), last;
  (void)log_->ScanProjections(engine::SummaryKey(RestartWorkflowPrefix(container)), [&](const std::string& key, const std::string&) {
    std::string id = key.substr(std::string(engine::kSummaryPrefix).size());
    if (IsRestartOf(id, container) && id < mine) last = id;
    return true;
  });
  if (last.empty()) return 0;
  auto st = engine::FoldWorkflow(*log_, last);
  if (!st.ok() || st->status != engine::RunStatus::kCompleted) return 0;
  json result = json::parse(st->result, nullptr, false), input = json::parse(st->input, nullptr, false);
  if (!result.is_object() || result.value("action", "") != "restarted" || !input.is_object()) return 0;
  return input.value("attempt", 0);
}

void RestartWatcher::OnDeath(docker::DockerClient& d, const std::string& id) {
  auto info = d.InspectContainer(id);
  if (!info.ok() || info->state.running || info->state.status != "exited") return;  // gone, or back
  auto label = [&](const char* k) {
    auto it = info->labels.find(k);
    return it == info->labels.end() ? std::string() : it->second;
  };
  std::string app = label(kLabelApp);
  if (app.empty() || label(kLabelRole) == "install" || label(kLabelService).empty()) return;
  int64_t died = ParseDockerTimeNs(info->state.finished_at), started = ParseDockerTimeNs(info->state.started_at);
  if (died == 0) return;
  bool stable = started == 0 || died - started >= kRestartStableMs * 1'000'000;
  int attempt = stable ? 1 : PreviousAttempt(info->name, died) + 1;
  std::string restart = label(kLabelRestart);
  json input = {{"app", app},
                {"container", info->name},
                {"id", info->id},
                {"restart", restart},
                {"exit_code", info->state.exit_code},
                {"attempt", attempt},
                {"backoff_ms", RestartBackoffMs(attempt)}};
  engine::StartRequest req{"restart", RestartWorkflowId(info->name, died), input.dump(), eventlog::Actor::kPolicy, true};
  auto started_wf = engine_->Start(req);
  if (!started_wf.ok() && started_wf.status().code() != Code::kConflict)  // kConflict: seen before
    warn_("restart policy: cannot start " + req.id + ": " + started_wf.status().ToString());
}

void RestartWatcher::OnStop(docker::DockerClient& d, const std::string& id) {
  auto info = d.InspectContainer(id);
  if (!info.ok() || info->state.running) return;
  int64_t died = ParseDockerTimeNs(info->state.finished_at);
  if (died == 0) return;
  // kNotFound (not a service container: no workflow for its death) and kConflict (it has
  // ended) are expected; anything else is worth a line.
  Status s = engine_->Signal(RestartWorkflowId(info->name, died), kStoppedSignal, "");
  if (!s.ok() && s.code() != Code::kNotFound && s.code() != Code::kConflict)
    warn_("restart policy: cannot tell the restart of " + info->name + " that it was stopped: " + s.ToString());
}

Status RestartWatcher::ListOnce(docker::DockerClient& d) {
  auto list = d.ListContainers({{kLabelApp, ""}});
  if (!list.ok()) return list.status();
  for (const auto& c : *list)
    if (c.state.status == "exited") OnDeath(d, c.id);
  return Status::Ok();
}

void RestartWatcher::Run(std::stop_token stop) {
  int64_t backoff_ms = 1000;
  bool warned = false;
  while (!stop.stop_requested()) {
    auto d = docker_();
    Status s = d.ok() ? Status::Ok() : d.status();
    if (s.ok()) {
      docker::EventFilter f;
      // "die" of every death; "stop" after the die of a `docker stop` (not of a crash or a kill).
      f.filters = {{"type", {"container"}}, {"event", {"die", "stop"}}, {"label", {kLabelApp}}};
      auto handle = [&](const docker::Event& e) {
        OnEvent(**d, e);
        return !stop.stop_requested();
      };
      std::string now = std::to_string(std::time(nullptr));
      std::string since = std::to_string(std::time(nullptr) - 1);  // a little before the listing
      // The events missed since the cursor, up to now (the stream ends there), in order.
      if (std::string cursor = ReadCursor(); !cursor.empty()) {
        docker::EventFilter missed = f;
        missed.since = cursor;
        missed.until = now;
        s = (*d)->StreamEvents(missed, handle, stop);
      }
      if (s.ok()) s = ListOnce(**d);
      if (s.ok()) {
        f.since = since;
        backoff_ms = 1000;
        warned = false;
        s = (*d)->StreamEvents(f, handle, stop);
      }
    }
    if (stop.stop_requested()) return;
    if (!s.ok() && !warned) {
      warn_("restart policy: watching the Docker engine: " + s.ToString() + "; retrying");
      warned = true;
    }
    // Sleep in small slices so a stop is noticed at once. Bounded: at most 30 s.
    for (int64_t slept = 0; slept < backoff_ms && !stop.stop_requested(); slept += 100)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    backoff_ms = std::min<int64_t>(backoff_ms * 2, 30'000);
  }
}

}  // namespace berth::workflows
