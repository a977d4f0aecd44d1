#include "tools/berth-sim/sim_log.h"

#include <fmt/format.h>

#include <vector>

namespace berth::sim {

constexpr int64_t kMs = 1000;

const char* CrashKindName(SimLog::CrashKind k) {
  switch (k) {
    case SimLog::CrashKind::kNone: return "none";
    case SimLog::CrashKind::kBeforeAppend: return "before-append";
    case SimLog::CrashKind::kAfterAppend: return "after-append";
    case SimLog::CrashKind::kAfterEffect: return "after-effect";
  }
  return "?";
}

LogFaultRates LogFaultRates::Draw(Rng& rng) {
  LogFaultRates r;
  r.crashes_max = uint32_t(rng.Pick(std::vector<int>{0, 1, 2, 3, 4, 6}));
  if (r.crashes_max > 0) {
    r.crash_per_append = rng.Pick(std::vector<double>{1.0 / 200, 1.0 / 80, 1.0 / 30});
    r.crash_after_effect = rng.Chance(0.5) ? r.crash_per_append : 0;
  }
  if (rng.Chance(0.3)) {
    r.nospace_per_append = rng.Pick(std::vector<double>{0.002, 0.01});
    r.nospace_us_max = rng.Range(100, 5000) * kMs;
  }
  return r;
}

std::string LogFaultRates::ToString() const {
  return fmt::format("crashes_max={} crash_per_append={:.4f} crash_after_effect={:.4f} "
                     "nospace_per_append={} nospace_max_ms={}",
                     crashes_max, crash_per_append, crash_after_effect, nospace_per_append,
                     nospace_us_max / kMs);
}

SimLog::SimLog(SimClock* clock, Rng rng, LogFaultRates rates)
    : clock_(clock), rng_(rng), rates_(rates) {}

void SimLog::Attach(eventlog::EventLog* real, Post post) {
  std::lock_guard<std::mutex> g(mu_);
  real_ = real;
  post_ = std::move(post);
  dead_ = false;
  nospace_until_us_ = 0;  // the disk was cleaned up while the process was down
}

void SimLog::Detach() {
  std::lock_guard<std::mutex> g(mu_);
  real_ = nullptr;
  post_ = nullptr;
  dead_ = true;
}

bool SimLog::dead() const {
  std::lock_guard<std::mutex> g(mu_);
  return dead_;
}

SimLog::CrashKind SimLog::last_crash() const {
  std::lock_guard<std::mutex> g(mu_);
  return last_crash_;
}

void SimLog::Calm() {
  std::lock_guard<std::mutex> g(mu_);
  calm_ = true;
  nospace_until_us_ = 0;
}

SimLog::Counters SimLog::counters() const {
  std::lock_guard<std::mutex> g(mu_);
  return counters_;
}

void SimLog::Die(CrashKind kind) {
  dead_ = true;
  last_crash_ = kind;
  ++counters_.crashes;
}

bool SimLog::AfterEffect() {
  {
    std::lock_guard<std::mutex> g(mu_);
    if (dead_ || calm_ || counters_.crashes >= rates_.crashes_max) return false;
    if (!rng_.Chance(rates_.crash_after_effect)) return false;
    Die(CrashKind::kAfterEffect);
  }
  if (on_death_) on_death_(CrashKind::kAfterEffect);
  return true;
}

Status SimLog::Dead() const {
  return IOError("simulated crash: this process is dead (its log is closed)");
}

Status SimLog::DoAppend(eventlog::AppendRequest request, eventlog::AppendResult* result) {
  CrashKind crash = CrashKind::kNone;
  Status s;
  {
    // Held across the real append: a crash decided here is atomic with respect to every
    // other append, as a process dies between two appends, never inside one.
    std::lock_guard<std::mutex> g(mu_);
    if (dead_) return Dead();
    ++counters_.appends;
    int64_t now = clock_->NowUs();
    if (!calm_ && nospace_until_us_ > now) {
      ++counters_.nospace_refusals;
      return Status(Code::kNoSpace, "simulated full disk: no space left on device");
    }
    if (!calm_ && rng_.Chance(rates_.nospace_per_append)) {
      nospace_until_us_ = now + rng_.Range(10 * kMs, std::max<int64_t>(rates_.nospace_us_max, 20 * kMs));
      ++counters_.nospace_stretches;
      ++counters_.nospace_refusals;
      return Status(Code::kNoSpace, "simulated full disk: no space left on device");
    }
    if (!calm_ && counters_.crashes < rates_.crashes_max && rng_.Chance(rates_.crash_per_append))
      crash = rng_.Chance(0.5) ? CrashKind::kBeforeAppend : CrashKind::kAfterAppend;
    if (crash != CrashKind::kBeforeAppend) s = real_->Append(std::move(request), result);
    if (crash != CrashKind::kNone) Die(crash);
  }
  if (crash == CrashKind::kNone) return s;
  if (on_death_) on_death_(crash);
  return Dead();
}

Status SimLog::Append(eventlog::AppendRequest request, eventlog::AppendResult* result) {
  return DoAppend(std::move(request), result);
}

void SimLog::AppendAsync(eventlog::AppendRequest request, eventlog::AppendCallback done) {
  eventlog::AppendResult r;
  Status s = DoAppend(std::move(request), &r);
  std::function<void()> cb = [done = std::move(done), s, r] { done(s, r); };
  Post post;
  {
    std::lock_guard<std::mutex> g(mu_);
    post = post_;
    if (post) callbacks_.push_back(std::move(cb));
  }
  if (!post) return cb();
  post([this] {
    std::function<void()> next;
    {
      std::lock_guard<std::mutex> g(mu_);
      if (callbacks_.empty()) return;  // flushed already
      next = std::move(callbacks_.front());
      callbacks_.pop_front();
    }
    next();
  });
}

void SimLog::FlushCallbacks() {
  for (;;) {
    std::function<void()> next;
    {
      std::lock_guard<std::mutex> g(mu_);
      if (callbacks_.empty()) return;
      next = std::move(callbacks_.front());
      callbacks_.pop_front();
    }
    next();
  }
}

uint64_t SimLog::LastSeq() const {
  std::lock_guard<std::mutex> g(mu_);
  return real_ && !dead_ ? real_->LastSeq() : 0;
}

#define SIMLOG_READ(call)                         \
  eventlog::EventLog* real;                       \
  {                                               \
    std::lock_guard<std::mutex> g(mu_);           \
    if (dead_) return Dead();                     \
    real = real_;                                 \
  }                                               \
  return real->call

Status SimLog::Get(uint64_t seq, eventlog::Event* out) const { SIMLOG_READ(Get(seq, out)); }
Status SimLog::ScanRange(uint64_t from, uint64_t to, const Visitor& visit) const {
  SIMLOG_READ(ScanRange(from, to, visit));
}
Status SimLog::ScanWorkflow(const std::string& id, const Visitor& visit) const {
  SIMLOG_READ(ScanWorkflow(id, visit));
}
Status SimLog::ScanWorkflowFrom(const std::string& id, uint64_t from, const Visitor& visit) const {
  SIMLOG_READ(ScanWorkflowFrom(id, from, visit));
}
Status SimLog::ScanSubject(const std::string& subject, const Visitor& visit) const {
  SIMLOG_READ(ScanSubject(subject, visit));
}
Status SimLog::VerifyChain(uint64_t* checked) const { SIMLOG_READ(VerifyChain(checked)); }
Status SimLog::VerifyIndexes() const { SIMLOG_READ(VerifyIndexes()); }
Status SimLog::VerifyAll(uint64_t* checked, const Visitor& visit) const {
  SIMLOG_READ(VerifyAll(checked, visit));
}
Status SimLog::ScanProjectionsAfter(
    const std::string& prefix, const std::string& after,
    const std::function<bool(const std::string&, const std::string&)>& visit) const {
  SIMLOG_READ(ScanProjectionsAfter(prefix, after, visit));
}
Status SimLog::GetProjection(const std::string& key, std::string* value) const {
  SIMLOG_READ(GetProjection(key, value));
}
Status SimLog::GetOnce(const std::string& key, std::string* value) const { SIMLOG_READ(GetOnce(key, value)); }
Status SimLog::ScanOnce(const std::string& prefix,
                        const std::function<bool(const std::string&, const std::string&)>& visit) const {
  SIMLOG_READ(ScanOnce(prefix, visit));
}
Status SimLog::ScanProjections(
    const std::string& prefix,
    const std::function<bool(const std::string&, const std::string&)>& visit) const {
  SIMLOG_READ(ScanProjections(prefix, visit));
}
#undef SIMLOG_READ

eventlog::LogStats SimLog::Stats() const {
  std::lock_guard<std::mutex> g(mu_);
  return real_ ? real_->Stats() : eventlog::LogStats{};
}

}  // namespace berth::sim
