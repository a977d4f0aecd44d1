#include "workflows/synthetic/synthetic.h"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <thread>

namespace berth::workflows {
namespace {

constexpr int64_t kChildrenMax = 1'000'000;

struct Params {
  int64_t steps = 0;
  int64_t sleep_ms = 0;
  double fail_rate = 0;
  uint64_t seed = 0;
  bool noop = false;
  int64_t children = 0;
  std::string child_input;  // the input minus "children"
};

Result<Params> Parse(const std::string& input) {
  // Decide() runs on every event; most inputs repeat, so remember the last parse per thread.
  thread_local std::string last_input;
  thread_local Params last;
  if (!last_input.empty() && input == last_input) return last;
  nlohmann::json j = nlohmann::json::parse(input, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object())
    return InvalidArgument("synthetic input must be a JSON object like {\"steps\": 5}");
  Params p;
  auto num = [&](const char* k, auto* out) -> Status {
    if (!j.contains(k)) return Status::Ok();
    if (!j[k].is_number()) return InvalidArgument(std::string("synthetic input: '") + k + "' must be a number");
    *out = j[k].get<std::decay_t<decltype(*out)>>();
    return Status::Ok();
  };
  for (auto& [k, v] : j.items())
    if (k != "steps" && k != "sleep_ms" && k != "fail_rate" && k != "seed" && k != "noop" &&
        k != "children")
      return InvalidArgument("synthetic input: unknown key '" + k +
                             "' (known: steps, sleep_ms, fail_rate, seed, noop, children)");
  if (auto s = num("steps", &p.steps); !s.ok()) return s;
  if (auto s = num("sleep_ms", &p.sleep_ms); !s.ok()) return s;
  if (auto s = num("fail_rate", &p.fail_rate); !s.ok()) return s;
  if (auto s = num("seed", &p.seed); !s.ok()) return s;
  if (auto s = num("children", &p.children); !s.ok()) return s;
  if (p.children < 0 || p.children > kChildrenMax)
    return InvalidArgument("synthetic input: children must be 0.." + std::to_string(kChildrenMax));
  if (p.children > 0) {
    nlohmann::json c = j;
    c.erase("children");
    p.child_input = c.dump();
  }
  if (j.contains("noop")) {
    if (!j["noop"].is_boolean()) return InvalidArgument("synthetic input: 'noop' must be true or false");
    p.noop = j["noop"].get<bool>();
  }
  if (!j.contains("steps")) return InvalidArgument("synthetic input needs \"steps\" (1..100000)");
  if (p.steps < 1 || p.steps > 100000) return InvalidArgument("synthetic input: steps must be 1..100000");
  if (p.sleep_ms < 0 || p.sleep_ms > 3600000) return InvalidArgument("synthetic input: sleep_ms must be 0..3600000");
  if (!(p.fail_rate >= 0 && p.fail_rate <= 1)) return InvalidArgument("synthetic input: fail_rate must be 0..1");
  last_input = input;
  last = p;
  return p;
}

std::string StepName(int64_t i) { return "step-" + std::to_string(i); }

class SyntheticWorkflow final : public engine::Workflow {
 public:
  std::string type() const override { return "synthetic"; }
  Status ValidateInput(const std::string& input) const override { return Parse(input).status(); }
  std::vector<engine::Command> Decide(const engine::WorkflowState& s) const override {
    auto p = Parse(s.input);
    if (!p.ok()) return {engine::FailWorkflow{p.status().message()}};
    std::string act_input = p->noop ? "noop" : s.input;
    // Children first, all at once; then this workflow's own steps, one after another.
    // O(1) per call once the children are started (the engine decides after every batch).
    if (int64_t(s.children.size()) < p->children) {
      std::vector<engine::Command> start;
      for (int64_t i = 0; i < p->children; ++i) {
        std::string name = "child-" + std::to_string(i);
        if (!s.children.count(engine::ChildId(s.id, name)))
          start.push_back(engine::StartChild{name, "synthetic", p->child_input});
      }
      return start;
    }
    if (s.open_children > 0) return {};
    if (!s.children_failed.empty()) {
      // The failed child with the lowest index, as a walk over child-0.. would find it.
      const std::string* first = nullptr;
      int64_t lowest = INT64_MAX;
      for (const auto& id : s.children_failed) {
        int64_t i = std::atoll(id.c_str() + id.rfind('-') + 1);
        if (i < lowest) lowest = i, first = &id;
      }
      const auto& c = s.children.at(*first);
      return {engine::FailWorkflow{"child-" + std::to_string(lowest) + " " + c.status + ": " + c.result}};
    }
    int64_t next = int64_t(s.steps.size());  // steps 0..next-1 exist; only the last may be open
    if (next > 0) {
      const engine::StepState& last = s.steps.at(StepName(next - 1));
      if (last.phase == engine::StepState::kFailed)
        return {engine::FailWorkflow{StepName(next - 1) + " failed: " + last.error}};
      if (last.phase != engine::StepState::kCompleted) return {};  // still running
    }
    if (next < p->steps) return {engine::ScheduleActivity{StepName(next), "synthetic.effect", act_input}};
    return {engine::CompleteWorkflow{std::to_string(p->steps) + " steps"}};
  }
};

class SyntheticActivity final : public engine::Activity {
 public:
  explicit SyntheticActivity(std::string dir) : dir_(std::move(dir)) {}
  std::string name() const override { return "synthetic.effect"; }
  engine::RetryPolicy retry_policy() const override {
    engine::RetryPolicy p;
    // Generous: a full disk (kNoSpace) should pause a step for seconds, not fail it.
    p.attempts_max = 30;
    p.backoff_initial_ms = 10;
    p.backoff_max_ms = 500;
    return p;
  }
  bool inline_ok(const std::string& input) const override { return input == "noop"; }

  Result<std::string> Run(const engine::ActivityContext& ctx) override {
    if (ctx.input == "noop") return std::string("noop");
    auto p = Parse(ctx.input);
    if (!p.ok()) return p.status();
    if (p->sleep_ms) std::this_thread::sleep_for(std::chrono::milliseconds(p->sleep_ms));
    if (p->fail_rate > 0) {
      uint64_t h = std::hash<std::string>()(ctx.idempotency_key + "#" + std::to_string(ctx.attempt) +
                                            "#" + std::to_string(p->seed));
      if (double(h % 1000000) / 1e6 < p->fail_rate)
        return Status(Code::kUnavailable, "injected failure (fail_rate " + std::to_string(p->fail_rate) + ")");
    }
    return WriteEffect(ctx.idempotency_key);
  }

  Result<std::optional<std::string>> Reconcile(const engine::ActivityContext& ctx) override {
    if (ctx.input == "noop") return std::optional<std::string>();
    std::ifstream in(SyntheticEffectPath(dir_, ctx.idempotency_key));
    if (!in) return std::optional<std::string>();
    std::string content;
    std::getline(in, content);
    return std::optional<std::string>(content);
  }

 private:
  // Reads the run count, writes count+1 to a temporary file, fsyncs, renames over.
  Result<std::string> WriteEffect(const std::string& key) {
    std::string path = SyntheticEffectPath(dir_, key);
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
    int64_t runs = 0;
    if (std::ifstream in(path); in) in >> runs;
    std::string content = std::to_string(runs + 1);
    std::string tmp = path + ".tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return IOError("writing " + tmp + ": " + std::strerror(errno));
    bool ok = ::write(fd, content.data(), content.size()) == ssize_t(content.size()) && ::fsync(fd) == 0;
    ::close(fd);
    if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0)
      return Status(errno == ENOSPC ? Code::kNoSpace : Code::kIOError, "writing " + path + ": " + std::strerror(errno));
    return content;
  }

  std::string dir_;
};

}  // namespace

std::string SyntheticEffectPath(const std::string& data_dir, const std::string& key) {
  std::string name = key;
  for (char& c : name)
    if (c == '/') c = '~';
  return data_dir + "/synthetic/" + name;
}

std::unique_ptr<engine::Workflow> MakeSyntheticWorkflow() { return std::make_unique<SyntheticWorkflow>(); }
std::unique_ptr<engine::Activity> MakeSyntheticActivity(const std::string& data_dir) {
  return std::make_unique<SyntheticActivity>(data_dir);
}

}  // namespace berth::workflows
