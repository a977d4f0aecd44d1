#include "workflows/deploy/plan.h"

#include <algorithm>

#include "engine/activity.h"
#include "workflows/deploy/names.h"

namespace berth::workflows {

using engine::StepState;
using json = nlohmann::json;

namespace {
Result<Observed> ParseObservedUncached(const std::string& result);
}  // namespace

Result<std::shared_ptr<const Observed>> ParseObserved(const std::string& result) {
  // Decide runs after every append and reads the same recorded result each time: parse it
  // once per thread (the result of an earlier text is kept, so verify's many workflows work).
  thread_local std::string last_text;
  thread_local std::shared_ptr<const Observed> last;
  if (last && result == last_text) return last;
  auto parsed = ParseObservedUncached(result);
  if (!parsed.ok()) return parsed.status();
  last_text = result;
  last = std::make_shared<const Observed>(std::move(parsed).value());
  return last;
}

namespace {
Result<Observed> ParseObservedUncached(const std::string& result) {
  Observed o;
  json j = json::parse(result, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Corruption("recorded observe result is not a JSON object");
  try {
  for (const auto& c : j.value("containers", json::array())) {
    Observed::Container x;
    x.name = c.value("name", "");
    x.id = c.value("id", "");
    x.service = c.value("service", "");
    x.config = c.value("config", "");
    x.image_id = c.value("image_id", "");
    x.index = c.value("index", 0);
    x.level = c.value("level", 0);
    x.stop_timeout = c.value("stop_timeout", 10);
    x.running = c.value("running", false);
    std::string status = c.value("status", "");  // absent in results recorded before it
    x.removing = status == "removing" || status == "dead";
    x.scratch = c.value("scratch", false);
    x.host = c.value("host", "");
    o.containers.push_back(std::move(x));
  }
  for (const auto& n : j.value("networks", json::array())) {
    if (n.is_string()) o.networks.push_back({n.get<std::string>(), ""});
    else if (n.is_object()) o.networks.push_back({n.value("name", ""), n.value("host", "")});
  }
  const json hosts = j.value("hosts", json::object());  // (items() of a temporary would dangle)
  for (const auto& [host, c] : hosts.items()) {
    Observed::Census& x = o.hosts[host];
    x.containers = c.value("containers", int64_t(0));
    x.memory_reserved = c.value("memory_reserved", int64_t(0));
    x.cpus_reserved = c.value("cpus_reserved", 0.0);
    x.apps = c.value("apps", std::map<std::string, int>());
    x.services = c.value("services", std::map<std::string, int>());
  }
  o.unreachable = j.value("unreachable", std::map<std::string, std::string>());
  } catch (const json::exception& e) {
    return Corruption(std::string("recorded observe result: ") + e.what());
  }
  return o;
}
}  // namespace

namespace {
// "image/web" -> "service web: step image/web"; "create/web/2" likewise.
std::string Where(const std::string& step) {
  size_t a = step.find('/');
  std::string kind = a == std::string::npos ? step : step.substr(0, a);
  if (kind == "network" || kind == "network-remove" || kind == "remove" || kind == "undo" ||
      a == std::string::npos)
    return "step " + step;
  size_t b = step.find('/', a + 1);
  return "service " + step.substr(a + 1, b == std::string::npos ? std::string::npos : b - a - 1) +
         ": step " + step;
}
}  // namespace

Plan::Plan(const engine::WorkflowState& s, const std::string& preset) : s_(s) {
  // A cancel request stops the plan like a failure (nothing new, half-made undone), but the
  // workflow then ends as cancelled: Finish returns nothing and the engine records it.
  cancelled_ = failed_ = s.cancel_requested;
  Collect();
  if (!preset.empty() && !failed_) {
    failure_ = preset;
    failed_ = true;
  }
  failed_at_start_ = failed_;
}

void Plan::Collect() {
  const engine::WorkflowState& s = s_;
  if (s.steps_failed.empty()) return;  // O(1) on every decision of a deploy that goes well
  // In step-name order, as the message has always been built.
  std::vector<const std::string*> failed;
  for (const auto& name : s.steps_failed) failed.push_back(&name);
  std::sort(failed.begin(), failed.end(), [](auto* a, auto* b) { return *a < *b; });
  for (const std::string* name : failed) {
    const StepState& st = s.steps.at(*name);
    if (!failed_) failure_ = Where(*name) + ": " + st.error;
    else failure_ += " (and " + Where(*name) + " failed too)";
    failed_ = true;
  }
}

const StepState* Plan::Find(const std::string& step) const {
  auto it = s_.steps.find(step);
  return it == s_.steps.end() ? nullptr : &it->second;
}

bool Plan::Need(const std::string& step, const std::string& activity, const Input& input,
                const std::vector<std::string>& subjects) {
  const StepState* st = Find(step);
  if (!st) {
    if (!failed_) cmds_.push_back(engine::ScheduleActivity{step, activity, input().dump(), subjects});
    return false;
  }
  return st->phase == StepState::kCompleted;
}

const std::string& Plan::Result(const std::string& step) const {
  static const std::string kNone;
  const StepState* st = Find(step);
  return st ? st->result : kNone;
}

const engine::ChildState* Plan::Child(const std::string& name) const {
  auto it = s_.children.find(engine::ChildId(s_.id, name));
  return it == s_.children.end() ? nullptr : &it->second;
}

void Plan::StartChild(const std::string& name, const std::string& type, const json& input) {
  if (!failed_) cmds_.push_back(engine::StartChild{name, type, input.dump()});
}

const std::string& Plan::InputOf(const std::string& step) const {
  static const std::string kNone;
  const StepState* st = Find(step);
  return st ? st->input : kNone;
}

bool Plan::Remove(const std::string& app, const Observed::Container& c, Tally* tally) {
  tally->removed++;
  auto in = [&] {
    json j{{"name", c.name}, {"timeout_s", c.stop_timeout}};
    if (!c.host.empty()) j["host"] = c.host;
    return j;
  };
  return Need("remove/" + c.name, "docker.remove", in,
              {AppSubject(app), ServiceSubject(app, c.service), ContainerSubject(c.name)});
}

void Plan::Chain::Step(const std::string& step, const std::string& activity,
                       const Input& input, const std::vector<std::string>& subjects) {
  if (subjects_.empty()) subjects_ = subjects;
  if (blocked_) return;
  const StepState* st = plan_->Find(step);
  if (activity == "docker.create") create_step_ = step;
  if (activity == "docker.create" && st) {
    created_ = true;
    // Ended without an answer (timed out, answer lost, or cut by a cancel while in doubt):
    // the daemon may still carry the create out, so the undo watches for it.
    Code code = Code(st->error_code);
    in_doubt_ = st->phase == StepState::kFailed && (engine::LeavesInDoubt(code) || code == Code::kCancelled);
  }
  if (st && (st->phase == StepState::kRunning || st->phase == StepState::kRetryWait)) running_ = true;
  if (!plan_->Need(step, activity, input, subjects)) blocked_ = true;
}

Plan::Chain::~Chain() {
  if (plan_->failed_ && created_ && blocked_ && !running_)
    plan_->undo_.push_back({container_, plan_->s_.id + "/" + create_step_, host_, subjects_, in_doubt_});
}

std::vector<engine::Command> Plan::Finish() {
  if (!failed_) return std::move(cmds_);
  std::vector<engine::Command> out;
  bool waiting = false;
  for (const auto& u : undo_) {
    std::string step = "undo/" + u.container;
    const StepState* st = Find(step);
    if (!st) {
      json in = {{"name", u.container}, {"key", u.key}, {"timeout_s", 0}};
      if (u.settle) in["settle"] = true;  // absent otherwise: inputs recorded before it match
      if (!u.host.empty()) in["host"] = u.host;
      out.push_back(engine::ScheduleActivity{step, "docker.remove", in.dump(), u.subjects});
      waiting = true;
    }
  }
  // An install whose last attempt failed, and whose own cleanup failed too, leaves its
  // scratch container: it goes by the image step's key, as a half-made container does.
  for (const auto& name : s_.steps_failed) {
    if (name.rfind("image/", 0) != 0) continue;
    std::string step = "undo-install/" + name.substr(6);
    if (Find(step)) continue;
    json in = {{"name", ""}, {"key", s_.id + "/" + name}, {"timeout_s", 0}};
    if (size_t at = name.find('@'); at != std::string::npos) in["host"] = name.substr(at + 1);  // image/S@HOST
    out.push_back(engine::ScheduleActivity{step, "docker.remove", in.dump(), s_.steps.at(name).subjects});
    waiting = true;
  }
  if (s_.open_steps > 0 || s_.open_children > 0) waiting = true;
  if (!waiting && !cancelled_) out.push_back(engine::FailWorkflow{failure_});
  return out;
}

}  // namespace berth::workflows
