#include "engine/engine.h"

#include <algorithm>
#include <cstdio>
#include <thread>

#include "engine/engine_impl.h"
#include "eventlog/check.h"

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
    : log(l), registry(r), options(std::move(o)) {
  if (!options.clock) options.clock = &system_clock;
  if (!options.random) {
    default_random = std::make_unique<SeededRandom>(uint64_t(options.clock->NowUs()));
    options.random = default_random.get();
  }
  sched = options.scheduler;
  if (!sched) {
    own_scheduler = MakeThreadScheduler(options.threads, options.activity_threads, options.clock);
    sched = own_scheduler.get();
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
  stopping_flag->store(true);  // running side effects return soon (ActivityContext::Abandoned)
  // In-flight appends finish (durably or not) within the log's own bounds; wait for them so
  // no callback posts to a lane after the scheduler is gone. Bounded: 60 s.
  for (int i = 0; i < 60000 && appends_in_flight.load() > 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  sched->Stop();
  std::lock_guard<std::mutex> l(mu_);
  running_.clear();
  key_waiters_.clear();
  cv_.notify_all();
}

Result<std::string> Engine::Impl::Start(StartRequest req, const std::string& parent,
                                        StartDone done) {
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
  auto conflict = [&] {
    return Status(Code::kConflict, "workflow id '" + req.id + "' is already used; pick another --id");
  };
  {
    // Reserved before the append: two concurrent starts of one id cannot both pass.
    std::lock_guard<std::mutex> l(mu_);
    if (shut_) return Status(Code::kUnavailable, "the engine is shutting down");
    if (running_.count(req.id) || !reserved_.insert(req.id).second) return conflict();
  }
  auto release = [this, id = req.id] {
    std::lock_guard<std::mutex> l(mu_);
    reserved_.erase(id);
    cv_.notify_all();
  };
  std::string existing;
  if (log->GetProjection(SummaryKey(req.id), &existing).ok()) {
    release();
    return conflict();
  }
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
  Status applied = Apply(e, &state);
  BERTH_CHECK_MSG(applied.ok(), applied.ToString().c_str());
  a.projections.push_back({SummaryKey(req.id), EncodeSummary(Summarize(state)), false});
  a.projections.push_back({OpenKey(req.id), "", false, /*put_once=*/true});
  // Once durable: register (and run) it, then tell the caller.
  auto durable = [this, def, e, state, run = req.run, release](const Status& s,
                                                               uint64_t first_seq) mutable {
    if (!s.ok()) {
      release();
      return s;
    }
    state.first_seq = first_seq;
    e.seq = first_seq;
    if (options.observer) options.observer(e);
    if (run) {
      Launch(def, std::move(state), /*resume=*/false);  // takes the id over from reserved_
    } else {
      release();
    }
    return Status::Ok();
  };
  if (done) {
    appends_in_flight++;
    log->AppendAsync(std::move(a), [this, durable, done, id = req.id](
                                       const Status& s, eventlog::AppendResult r) mutable {
      Status st = durable(s, r.first_seq);
      if (st.ok())
        done(id);
      else
        done(st);
      appends_in_flight--;
    });
    return req.id;
  }
  eventlog::AppendResult r;
  Status s = log->Append(std::move(a), &r);
  if (Status st = durable(s, r.first_seq); !st.ok()) return st;
  return req.id;
}

void Engine::Impl::Launch(const Workflow* def, WorkflowState state, bool resume) {
  std::string id = state.id;
  uint64_t first_seq = state.first_seq;
  auto inst = std::make_shared<Instance>(this, def, std::move(state));
  std::lock_guard<std::mutex> l(mu_);
  reserved_.erase(id);
  if (shut_) return;
  running_[id] = inst;
  const std::string& key = inst->exclusive_key();
  if (!key.empty()) {
    auto [it, mine] = key_holder_.try_emplace(key, id);
    if (!mine && it->second != id) {
      inst->set_blocked_by(it->second);
      key_waiters_[key][first_seq] = inst;
      // Posted under mu_ so that the Unblock of a release cannot overtake it.
      sched->Post(inst->lane(), [inst, resume] { inst->Park(resume); });
      return;
    }
  }
  sched->Post(inst->lane(), [inst, resume] { inst->Begin(resume); });
}

void Engine::Impl::ReleaseKey(const std::string& key, const std::string& id) {
  // Under mu_.
  auto h = key_holder_.find(key);
  if (h == key_holder_.end() || h->second != id) {
    // A waiter that ended (cancelled) while waiting.
    auto w = key_waiters_.find(key);
    if (w != key_waiters_.end()) {
      for (auto it = w->second.begin(); it != w->second.end(); ++it)
        if (it->second->id() == id) {
          w->second.erase(it);
          break;
        }
      if (w->second.empty()) key_waiters_.erase(w);
    }
    return;
  }
  auto w = key_waiters_.find(key);
  if (w == key_waiters_.end() || w->second.empty()) {
    key_holder_.erase(h);
    return;
  }
  auto next = w->second.begin()->second;  // the oldest start
  w->second.erase(w->second.begin());
  if (w->second.empty()) key_waiters_.erase(w);
  h->second = next->id();
  sched->Post(next->lane(), [next] { next->Unblock(); });
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
    auto it = running_.find(s.id);
    if (it != running_.end()) {
      if (!it->second->exclusive_key().empty()) ReleaseKey(it->second->exclusive_key(), s.id);
      running_.erase(it);
    }
    finished_[s.id] = sum;
    if (!s.parent.empty()) {
      auto p = running_.find(s.parent);
      if (p != running_.end()) parent = p->second;
    }
  }
  cv_.notify_all();
  if (parent) {
    std::string text = s.status == RunStatus::kCompleted ? s.result : s.error;
    parent->Post([parent, id = s.id, st = s.status, text] { parent->OnChildEnded(id, st, text); });
  }
}

void Engine::Impl::OnHalted(const std::string& id, const Status& why) {
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = running_.find(id);
    if (it != running_.end()) {
      if (!it->second->exclusive_key().empty()) ReleaseKey(it->second->exclusive_key(), id);
      running_.erase(it);
    }
    halted_[id] = why.WithContext("workflow " + id + " stopped, unfinished (resume it later)");
  }
  cv_.notify_all();
}

namespace {
// Open workflows this many or fewer are folded one by one through the by-workflow index;
// more are folded in one scan from the oldest one's first event. Either way the cost is
// that of the open workflows' events, not of the whole history.
constexpr size_t kFoldOneByOneMax = 512;

bool Covers(const std::string& only_id, const std::string& id) {
  return only_id.empty() || id == only_id ||
         (id.size() > only_id.size() && id.compare(0, only_id.size(), only_id) == 0 &&
          id[only_id.size()] == '/');  // a descendant ("<parent>/<name>")
}
}  // namespace

Status Engine::Impl::LoadOpen(const std::string& only_id, std::vector<WorkflowState>* open) {
  std::unordered_map<std::string, WorkflowState> states;
  Status s = log->ScanOnce(kOpenPrefix, [&](const std::string& key, const std::string&) {
    std::string id = key.substr(std::string(kOpenPrefix).size());
    if (Covers(only_id, id)) states.emplace(id, WorkflowState());
    return true;
  });
  if (!s.ok() || states.empty()) return s;
  if (states.size() <= kFoldOneByOneMax) {
    for (auto& [id, st] : states) {
      auto folded = FoldWorkflow(*log, id);
      if (!folded.ok()) return folded.status().WithContext("open workflow " + id);
      st = std::move(folded).value();
    }
  } else {
    uint64_t from = UINT64_MAX;
    for (const auto& [id, st] : states) {
      std::string raw;
      WorkflowSummary sum;
      if (Status g = log->GetProjection(SummaryKey(id), &raw); !g.ok() || !DecodeSummary(raw, &sum).ok())
        return Corruption("projection " + SummaryKey(id) + " of an open workflow is missing or undecodable; run `berth replay --verify`");
      from = std::min(from, std::max<uint64_t>(sum.first_seq, 1));
    }
    if (Status f = FoldLog(*log, /*only_listed=*/true, &states, from); !f.ok()) return f;
  }
  for (auto& [id, st] : states)
    if (!IsTerminal(st.status) && st.events > 0) open->push_back(std::move(st));
  // Oldest first: exclusive keys go to the workflow that started first, on every recovery.
  std::sort(open->begin(), open->end(),
            [](const WorkflowState& a, const WorkflowState& b) { return a.first_seq < b.first_seq; });
  return Status::Ok();
}

Status Engine::Impl::Recover(size_t* resumed, const std::string& only_id) {
  std::lock_guard<std::mutex> admin(admin_mu_);
  std::vector<WorkflowState> open;
  if (Status s = LoadOpen(only_id, &open); !s.ok()) return s.WithContext("recovering workflows");
  size_t n = 0;
  Status missing;
  for (auto& st : open) {
    if (Find(st.id)) continue;
    // Paused (and not cancelled): it stays parked in the log; Unpause loads it.
    if (st.paused && !st.cancel_requested && only_id.empty()) continue;
    {
      std::lock_guard<std::mutex> l(mu_);
      if (reserved_.count(st.id)) continue;  // being started right now
    }
    const Workflow* def = registry->FindWorkflow(st.type);
    if (!def) {
      missing = InvalidArgument("workflow " + st.id + " has type '" + st.type +
                                "' which this berth does not know; it stays unfinished");
      continue;
    }
    Launch(def, std::move(st), /*resume=*/true);
    ++n;
  }
  if (resumed) *resumed = n;
  return missing;
}

Result<WorkflowSummary> Engine::Impl::Wait(const std::string& id) {
  std::unique_lock<std::mutex> l(mu_);
  cv_.wait(l, [&] {
    return finished_.count(id) || halted_.count(id) || (!running_.count(id) && !reserved_.count(id)) ||
           shut_;
  });
  if (auto it = finished_.find(id); it != finished_.end()) return it->second;
  if (auto it = halted_.find(id); it != halted_.end()) return it->second;
  return NotFound("workflow '" + id + "' is not running here");
}

void Engine::Impl::WaitIdle() {
  std::unique_lock<std::mutex> l(mu_);
  cv_.wait(l, [&] { return (running_.empty() && reserved_.empty()) || shut_; });
}

size_t Engine::Impl::Running() const {
  std::lock_guard<std::mutex> l(mu_);
  return running_.size() + reserved_.size();
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

}  // namespace berth::engine
