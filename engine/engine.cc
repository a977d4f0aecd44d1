#include "engine/engine.h"

#include <cstdio>
#include <thread>
#include <unordered_set>

#include "engine/engine_impl.h"

namespace berth::engine {

bool RetryPolicy::Retryable(Code c) const {
  for (Code n : non_retryable)
    if (n == c) return false;
  return c != Code::kOk;
}

std::string ChildId(const std::string& parent, const std::string& name) {
  return parent + "/" + name;
}

Engine::Impl::Impl(eventlog::EventLog* l, const Registry* r, EngineOptions o)
    : log(l),
      registry(r),
      options(std::move(o)),
      pool(std::max(1u, options.threads)),
      activity_pool(std::max(1u, options.activity_threads)) {
  if (!options.clock) options.clock = &system_clock;
  if (!options.random) {
    default_random = std::make_unique<SeededRandom>(uint64_t(options.clock->NowUs()));
    options.random = default_random.get();
  }
}

Engine::Impl::~Impl() { Shutdown(); }

void Engine::Impl::Shutdown() {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (shut_) return;
    shut_ = true;
  }
  stopping = true;
  activity_pool.join();
  // In-flight appends finish (durably or not) within the log's own bounds; wait for them so
  // their callbacks find the strands alive. Bounded: 60 s.
  for (int i = 0; i < 60000 && appends_in_flight.load() > 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  pool.stop();
  pool.join();
  std::lock_guard<std::mutex> l(mu_);
  running_.clear();
  cv_.notify_all();
}

Result<std::string> Engine::Impl::Start(StartRequest req, const std::string& parent) {
  const Workflow* def = registry->FindWorkflow(req.type);
  if (!def) {
    std::string known;
    for (const auto& t : registry->WorkflowTypes()) known += (known.empty() ? "" : ", ") + t;
    return InvalidArgument("unknown workflow type '" + req.type + "' (registered: " + known + ")");
  }
  if (Status v = def->ValidateInput(req.input); !v.ok()) return v;
  if (req.id.empty()) {
    // Two draws: one double carries only 53 random bits, which left the low digits 0000.
    auto draw32 = [&] { return uint64_t(options.random->Uniform() * 4294967296.0); };
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx",
                  static_cast<unsigned long long>(draw32() << 32 | draw32()));
    req.id = req.type + "-" + hex;
  }
  if (req.id.size() > 200 || req.id.find('\0') != std::string::npos)
    return InvalidArgument("workflow id must be 1..200 bytes without NUL");
  std::string existing;
  if (log->GetProjection(SummaryKey(req.id), &existing).ok() || Find(req.id))
    return Status(Code::kConflict, "workflow id '" + req.id + "' is already used; pick another --id");
  eventlog::AppendRequest a;
  eventlog::EventDraft d;
  d.workflow_id = req.id;
  d.workflow_seq = 1;
  d.time_us = NowUs();
  d.actor = req.actor;
  d.type = ev::kWorkflowStarted;
  d.payload = EncodePayload(WorkflowStartedP{req.type, req.input, parent});
  a.events.push_back(d);
  WorkflowState state;
  eventlog::Event e;
  static_cast<eventlog::EventDraft&>(e) = d;
  (void)Apply(e, &state);
  a.projections.push_back({SummaryKey(req.id), EncodeSummary(Summarize(state)), false});
  a.projections.push_back({OpenKey(req.id), "", false});
  eventlog::AppendResult r;
  if (Status s = log->Append(std::move(a), &r); !s.ok()) return s;
  state.first_seq = r.first_seq;
  if (options.observer) {
    e.seq = r.first_seq;
    options.observer(e);
  }
  if (req.run) {
    auto inst = Launch(def, std::move(state));
    asio::post(inst->strand(), [inst] { inst->Pump(); });
  }
  return req.id;
}

std::shared_ptr<Instance> Engine::Impl::Launch(const Workflow* def, WorkflowState state) {
  std::string id = state.id;
  auto inst = std::make_shared<Instance>(this, def, std::move(state));
  std::lock_guard<std::mutex> l(mu_);
  running_[id] = inst;
  return inst;
}

std::shared_ptr<Instance> Engine::Impl::Find(const std::string& id) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = running_.find(id);
  return it == running_.end() ? nullptr : it->second;
}

void Engine::Impl::OnFinished(const WorkflowState& s) {
  WorkflowSummary sum = Summarize(s);
  std::shared_ptr<Instance> parent;
  {
    std::lock_guard<std::mutex> l(mu_);
    running_.erase(s.id);
    finished_[s.id] = sum;
    if (!s.parent.empty()) {
      auto it = running_.find(s.parent);
      if (it != running_.end()) parent = it->second;
    }
  }
  cv_.notify_all();
  if (parent)
    asio::post(parent->strand(), [parent, sum, result = s.result] {
      parent->OnChildEnded(sum, result);
    });
}

Status Engine::Impl::LoadOpen(const std::string& only_id, std::vector<WorkflowState>* open) {
  std::unordered_map<std::string, WorkflowState> states;
  Status s = log->ScanProjections(kOpenPrefix, [&](const std::string& key, const std::string&) {
    std::string id = key.substr(std::string(kOpenPrefix).size());
    if (only_id.empty() || id == only_id) states.emplace(id, WorkflowState());
    return true;
  });
  if (!s.ok() || states.empty()) return s;
  if (Status f = FoldLog(*log, /*only_listed=*/true, &states); !f.ok()) return f;
  for (auto& [id, st] : states)
    if (!IsTerminal(st.status) && st.events > 0) open->push_back(std::move(st));
  return Status::Ok();
}

Status Engine::Impl::Recover(size_t* resumed, const std::string& only_id) {
  std::vector<WorkflowState> open;
  if (Status s = LoadOpen(only_id, &open); !s.ok()) return s.WithContext("recovering workflows");
  size_t n = 0;
  Status missing;
  for (auto& st : open) {
    if (Find(st.id)) continue;
    const Workflow* def = registry->FindWorkflow(st.type);
    if (!def) {
      missing = InvalidArgument("workflow " + st.id + " has type '" + st.type +
                                "' which this berth does not know; it stays unfinished");
      continue;
    }
    auto inst = Launch(def, std::move(st));
    asio::post(inst->strand(), [inst] { inst->Resume(); });
    ++n;
  }
  if (resumed) *resumed = n;
  return missing;
}

Result<WorkflowSummary> Engine::Impl::Wait(const std::string& id) {
  std::unique_lock<std::mutex> l(mu_);
  cv_.wait(l, [&] { return finished_.count(id) || !running_.count(id) || shut_; });
  auto it = finished_.find(id);
  if (it != finished_.end()) return it->second;
  return NotFound("workflow '" + id + "' is not running here");
}

void Engine::Impl::WaitIdle() {
  std::unique_lock<std::mutex> l(mu_);
  cv_.wait(l, [&] { return running_.empty() || shut_; });
}

size_t Engine::Impl::Running() const {
  std::lock_guard<std::mutex> l(mu_);
  return running_.size();
}

// ---- Engine: the public face ----

Engine::Engine(eventlog::EventLog* log, const Registry* registry, EngineOptions options)
    : impl_(std::make_unique<Impl>(log, registry, std::move(options))) {}
Engine::~Engine() = default;

Status Engine::Recover(size_t* resumed, const std::string& only_id) {
  return impl_->Recover(resumed, only_id);
}
Result<std::string> Engine::Start(StartRequest req) { return impl_->Start(std::move(req), ""); }
Result<WorkflowSummary> Engine::Wait(const std::string& id) { return impl_->Wait(id); }
void Engine::WaitIdle() { impl_->WaitIdle(); }
size_t Engine::Running() const { return impl_->Running(); }
void Engine::Shutdown() { impl_->Shutdown(); }

namespace {
// Folds a workflow from the log (for requests about workflows not loaded here).
Result<WorkflowState> FoldFromLog(eventlog::EventLog* log, const std::string& id) {
  WorkflowState st;
  Status fold;
  Status s = log->ScanWorkflow(id, [&](const eventlog::Event& e) {
    fold = Apply(e, &st);
    return fold.ok();
  });
  if (!s.ok()) return s;
  if (!fold.ok()) return fold;
  if (st.events == 0) return NotFound("no workflow '" + id + "'; list them with `berth workflows`");
  return st;
}

Status DeliverEvent(Engine::Impl* impl, const std::string& id, eventlog::EventDraft d) {
  d.workflow_id = id;
  if (auto inst = impl->Find(id)) {
    asio::post(inst->strand(), [inst, d] { inst->Deliver(d); });
    return Status::Ok();
  }
  auto st = FoldFromLog(impl->log, id);
  if (!st.ok()) return st.status();
  if (IsTerminal(st->status))
    return Status(Code::kConflict, "workflow '" + id + "' already ended (" +
                                       RunStatusName(st->status) + ")");
  // Not running in this process: record it; it takes effect when the workflow resumes.
  d.workflow_seq = st->events + 1;
  d.time_us = impl->NowUs();
  eventlog::Event next;
  static_cast<eventlog::EventDraft&>(next) = d;
  WorkflowSummary sum = SummaryAfter(st.value(), next);
  eventlog::AppendRequest a;
  a.events.push_back(std::move(d));
  a.projections.push_back({SummaryKey(id), EncodeSummary(sum), false});
  return impl->log->Append(std::move(a));
}
}  // namespace

Status Engine::Signal(const std::string& id, const std::string& name, const std::string& payload) {
  eventlog::EventDraft d;
  d.type = ev::kSignalReceived;
  d.actor = eventlog::Actor::kUser;
  d.payload = EncodePayload(SignalP{name, payload});
  return DeliverEvent(impl_.get(), id, std::move(d));
}

Status Engine::Cancel(const std::string& id, eventlog::Actor actor) {
  eventlog::EventDraft d;
  d.type = ev::kCancelRequested;
  d.actor = actor;
  d.payload = EncodePayload(NameP{"cancel requested"});
  return DeliverEvent(impl_.get(), id, std::move(d));
}

}  // namespace berth::engine
