#include "workflows/deploy/restart.h"

#include <algorithm>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "workflows/deploy/activity_util.h"
#include "workflows/deploy/names.h"

namespace berth::workflows {
namespace {

using engine::Command;
using engine::StepState;
using engine::WorkflowState;
using json = nlohmann::json;

struct RestartInput {
  std::string app, container, id, restart;
  RestartRule rule;
  int exit_code = 0;
  int attempt = 1;  // restarts in a row, this one included
  int64_t backoff_ms = 0;
};

Result<RestartInput> ParseInput(const std::string& text) {
  json j = json::parse(text, nullptr, false);
  auto str = [&](const char* k) { return j.contains(k) && j[k].is_string() ? j[k].get<std::string>() : ""; };
  if (j.is_discarded() || !j.is_object() || str("app").empty() || str("container").empty() || str("id").empty() ||
      !j.contains("attempt") || !j["attempt"].is_number_integer() || !j.contains("backoff_ms") ||
      !j["backoff_ms"].is_number_integer())
    return InvalidArgument("restart input must be {\"app\", \"container\", \"id\", \"restart\", \"exit_code\", "
                           "\"attempt\", \"backoff_ms\"}");
  RestartInput in;
  in.app = str("app");
  in.container = str("container");
  in.id = str("id");
  in.restart = str("restart");
  auto rule = ParseRestart(in.restart);
  if (!rule.ok()) return rule.status();
  in.rule = *rule;
  in.exit_code = j.value("exit_code", 0);
  in.attempt = j["attempt"].get<int>();
  in.backoff_ms = j["backoff_ms"].get<int64_t>();
  return in;
}

class RestartWorkflow final : public engine::Workflow {
 public:
  std::string type() const override { return "restart"; }
  Status ValidateInput(const std::string& input) const override { return ParseInput(input).status(); }
  std::string ExclusiveKey(const std::string& input) const override {
    auto in = ParseInput(input);
    return in.ok() ? "app:" + in->app : "";
  }

  std::vector<Command> Decide(const WorkflowState& st) const override {
    auto in = ParseInput(st.input);
    if (!in.ok()) return {engine::FailWorkflow{in.status().message()}};
    std::vector<std::string> subjects = {ContainerSubject(in->container), AppSubject(in->app)};
    auto check = st.steps.find("check");
    if (check == st.steps.end()) return {engine::ScheduleActivity{"check", "docker.inspect-state", json{{"id", in->id}}.dump(), subjects}};
    if (check->second.phase == StepState::kFailed) return {engine::FailWorkflow{"checking " + in->container + ": " + check->second.error}};
    if (check->second.phase != StepState::kCompleted) return {};
    json seen = json::parse(check->second.result, nullptr, false);
    std::string state = seen.is_object() ? seen.value("state", "") : "";
    auto done = [&](const std::string& action, const std::string& why) {
      return std::vector<Command>{engine::CompleteWorkflow{
          json{{"action", action}, {"why", why}, {"container", in->container}, {"exit_code", in->exit_code}}.dump()}};
    };
    if (state != "exited") return done("none", "it is " + state + " now");
    const RestartRule& r = in->rule;
    if (r.name == "no") return done("none", "its restart policy is \"no\"");
    if (r.name == "on-failure" && in->exit_code == 0) return done("none", "it exited 0 and its policy is on-failure");
    // `docker stop` by hand (the watcher's signal "stopped", from the engine's stop event):
    // not restarted, Docker's own rule for every policy. Waits for a backoff timer already
    // running, so that nothing of this workflow is left armed when it ends.
    bool stopped = std::any_of(st.signals.begin(), st.signals.end(),
                               [](const engine::Signal& g) { return g.name == kStoppedSignal; });
    if (stopped && !st.steps.count("restart")) {
      auto backoff = st.timers.find("backoff");
      if (backoff != st.timers.end() && !backoff->second.fired) return {};
      return done("none", "it was stopped with `docker stop`, which is not restarted; `berth up` starts it again");
    }
    if (in->attempt > r.limit)
      return {engine::FailWorkflow{fmt::format("gave up: {} died (exit code {}) after {} restarts in a row, the limit of "
                                               "restart: {}; it stays stopped until the next `berth up`",
                                               in->container, in->exit_code, r.limit, in->restart)}};
    auto timer = st.timers.find("backoff");
    if (timer == st.timers.end()) return {engine::StartTimer{"backoff", in->backoff_ms}};
    if (!timer->second.fired) return {};
    auto start = st.steps.find("restart");
    if (start == st.steps.end())
      return {engine::ScheduleActivity{"restart", "docker.start", json{{"name", in->id}}.dump(), subjects}};
    if (start->second.phase == StepState::kFailed) return {engine::FailWorkflow{"restarting " + in->container + ": " + start->second.error}};
    if (start->second.phase != StepState::kCompleted) return {};
    return {engine::CompleteWorkflow{json{{"action", "restarted"},
                                          {"container", in->container},
                                          {"exit_code", in->exit_code},
                                          {"attempt", in->attempt},
                                          {"backoff_ms", in->backoff_ms}}
                                         .dump()}};
  }
};

// docker.inspect-state: what a restart workflow checks first.

class InspectState final : public internal::DockerActivity {
 public:
  explicit InspectState(DockerProvider d)
      : DockerActivity("docker.inspect-state", ByHost(std::move(d), {})) {}

 protected:
  Result<std::string> Do(const engine::ActivityContext&, const json& in, docker::DockerClient& d) override {
    auto info = d.InspectContainer(internal::Str(in, "id"));
    if (info.status().code() == Code::kNotFound) return json{{"state", "gone"}}.dump();
    if (!info.ok()) return info.status();
    std::string state = info->state.running ? "running" : info->state.status;
    return json{{"state", state}, {"exit_code", info->state.exit_code}}.dump();
  }
};

}  // namespace

Result<RestartRule> ParseRestart(const std::string& value) {
  RestartRule r;
  std::string name = value, count;
  if (size_t colon = value.find(':'); colon != std::string::npos) {
    name = value.substr(0, colon);
    count = value.substr(colon + 1);
  }
  r.name = name.empty() ? "no" : name;
  if (r.name != "no" && r.name != "always" && r.name != "unless-stopped" && r.name != "on-failure")
    return InvalidArgument("restart: '" + value + "' is not no, always, unless-stopped or on-failure[:N]");
  r.limit = kRestartsInARowMax;
  if (!count.empty()) {
    if (r.name != "on-failure" || count.find_first_not_of("0123456789") != std::string::npos || count.size() > 6)
      return InvalidArgument("restart: '" + value + "': only on-failure takes a count (on-failure:N)");
    r.limit = std::stoi(count);
  }
  return r;
}

int64_t RestartBackoffMs(int n) {
  int64_t ms = 200;
  for (int i = 1; i < n && ms < 10'000; ++i) ms *= 2;
  return std::min<int64_t>(ms, 10'000);
}

void RegisterRestart(engine::Registry* r, DockerProvider docker) {
  r->Add(std::make_unique<RestartWorkflow>());
  r->Add(std::make_unique<InspectState>(std::move(docker)));
}

std::string RestartWorkflowPrefix(const std::string& container) { return "restart-" + container + "-"; }

std::string RestartWorkflowId(const std::string& container, int64_t died_at_ns) {
  return fmt::format("{}{:020}", RestartWorkflowPrefix(container), died_at_ns);
}

bool IsRestartOf(const std::string& id, const std::string& container) {
  const std::string prefix = RestartWorkflowPrefix(container);
  if (id.size() != prefix.size() + 20 || id.compare(0, prefix.size(), prefix) != 0) return false;
  return id.find_first_not_of("0123456789", prefix.size()) == std::string::npos;
}

}  // namespace berth::workflows
