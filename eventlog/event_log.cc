// RocksDB implementation of EventLog: appending, the committer, reopening after a write
// error. See event_log.h for the contract, rocks_event_log.h for the class; opening and
// closing are in event_log_open.cc, reads in event_log_read.cc.
#include <linux/futex.h>
#include <rocksdb/options.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "eventlog/rocks_event_log.h"

namespace berth::eventlog {
namespace {


// Roughly what a request adds to its WriteBatch: records, index entries, projections.
size_t RequestBytes(const AppendRequest& req, const std::vector<EncodedBody>& bodies) {
  size_t n = 0;
  for (size_t i = 0; i < bodies.size(); ++i) {
    n += bodies[i].bytes.size() + kRecordHeaderSize + 2 * 8 + req.events[i].workflow_id.size();
    for (const auto& subj : req.events[i].subjects) n += subj.size() + 8;
  }
  for (const auto& pr : req.projections) n += pr.key.size() + pr.value.size();
  return n;
}

int64_t MsSince(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now() - t)
      .count();
}

}  // namespace

int64_t NowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

LogStats RocksEventLog::Stats() const {
  LogStats st;
  {
    std::lock_guard<std::mutex> l(stats_mu_);
    st = stats_;
  }
  std::lock_guard<std::mutex> l(in_mu_);
  st.pending_events = pending_events_;
  st.pending_events_peak = pending_events_peak_;
  return st;
}

Status RocksEventLog::Append(AppendRequest request, AppendResult* result) {
  // A futex on the caller's stack instead of a std::promise (which allocates a shared
  // state per append), waited on without spinning: with hundreds of producers on a few
  // cores, spin-then-yield waiting (std::atomic::wait) burns the CPU the writer needs.
  // A wake that arrives after the waiter returned only hits a futex nobody waits on.
  struct Waiter {
    std::atomic<uint32_t> done{0};
    Status s;
    AppendResult r;
  } w;
  Enqueue(std::move(request),
          [&w](const Status& s, AppendResult r) {
            w.s = s;
            w.r = r;
            w.done.store(1, std::memory_order_release);
            syscall(SYS_futex, reinterpret_cast<uint32_t*>(&w.done), FUTEX_WAKE_PRIVATE, 1,
                    nullptr, nullptr, 0);
          },
          /*wait_ms_max=*/-1);
  while (w.done.load(std::memory_order_acquire) == 0)
    syscall(SYS_futex, reinterpret_cast<uint32_t*>(&w.done), FUTEX_WAIT_PRIVATE, 0, nullptr,
            nullptr, 0);
  if (result) *result = w.r;
  return w.s;
}

void RocksEventLog::AppendAsync(AppendRequest request, AppendCallback done) {
  Enqueue(std::move(request), std::move(done), options_.append_wait_ms_max);
}

// Encodes on the caller's thread, then seals under in_mu_; `wait_ms_max` < 0 waits for room
// as long as it takes. A refused request is called back here, on the caller's thread.
void RocksEventLog::Enqueue(AppendRequest request, AppendCallback done, int64_t wait_ms_max) {
  if (request.events.empty()) {
    done(InvalidArgument("append of no events"), {});
    return;
  }
  Pending p;
  p.bodies.reserve(request.events.size());
  int64_t now = 0;
  for (auto& e : request.events) {
    if (e.time_us == 0) e.time_us = now ? now : (now = NowUs());
    auto body = EncodeBody(e);
    if (!body.ok()) {
      done(body.status(), {});
      return;
    }
    p.bodies.push_back(std::move(body).value());
  }
  p.bytes = RequestBytes(request, p.bodies);
  p.req = std::move(request);
  p.done = std::move(done);
  if (Status refused = Admit(&p, wait_ms_max); !refused.ok()) p.done(refused, {});
}

Status RocksEventLog::RefusalLocked() const {
  if (stopping_) return Status(Code::kCancelled, "event log is closing");
  // kFailed: no retry of this process can help (the engine halts the workflow at once).
  if (!broken_.ok()) return Status(Code::kFailed, broken_.message());
  if (cf_.size() != kFamilyCount)
    return Status(Code::kUnavailable, "the log is reopening after a write error; retry");
  return Status::Ok();
}

bool RocksEventLog::HasRoomLocked(const Pending& p) const {
  return pending_events_ == 0 ||
         (pending_events_ + p.bodies.size() <= options_.pending_events_max &&
          pending_bytes_ + p.bytes <= options_.pending_bytes_max);
}

// Seals `p` into the open batch once there is room. Waiting drops db_mu_ (a Reopen on the
// committer needs it exclusively to make the room) and keeps only in_mu_ for the wait.
Status RocksEventLog::Admit(Pending* p, int64_t wait_ms_max) {
  auto deadline = Clock::now() + std::chrono::milliseconds(std::max<int64_t>(wait_ms_max, 0));
  for (;;) {
    bool wake = false;
    {
      // Sealing reads cf_, which Reopen replaces after a failed write: hold db_mu_ shared.
      std::shared_lock<std::shared_mutex> db_lock(db_mu_);
      std::unique_lock<std::mutex> l(in_mu_);
      if (Status r = RefusalLocked(); !r.ok()) return r;
      if (HasRoomLocked(*p)) {
        if (Status dup = RefuseRestartLocked(*p); !dup.ok()) return dup;
        if (ready_.empty() || (ready_.back().events > 0 && ready_.back().events + p->bodies.size() >
                                                               options_.batch_events_max))
          ready_.emplace_back();
        pending_events_ += p->bodies.size();
        pending_bytes_ += p->bytes;
        BERTH_CHECK(pending_events_ == p->bodies.size() ||
                    pending_events_ <= options_.pending_events_max);
        pending_events_peak_ = std::max(pending_events_peak_, pending_events_);
        Seal(p, &ready_.back());
        wake = committer_wants_;
        committer_wants_ = false;
      } else {
        db_lock.unlock();
        auto room = [&] { return stopping_ || !broken_.ok() || HasRoomLocked(*p); };
        if (wait_ms_max < 0) {
          space_cv_.wait(l, room);
        } else if (!space_cv_.wait_until(l, deadline, room)) {
          return Status(Code::kUnavailable,
                        "the log's queue is full (" + std::to_string(pending_events_) +
                            " events, " + std::to_string(pending_bytes_) +
                            " bytes sealed and not yet durable) and did not drain within " +
                            std::to_string(wait_ms_max) +
                            " ms: writes to " + dir_ + " are stalled (a slow, full or failing "
                            "disk); nothing was written, retry");
        }
        continue;  // room (or a refusal) now: take the locks again in order
      }
    }
    if (wake) in_cv_.notify_one();
    return Status::Ok();
  }
}

// The engine reserves an id before its start is appended; this is the log's own guard, for
// any writer: one point read per started workflow, none for the events after.
Status RocksEventLog::RefuseRestartLocked(const Pending& p) const {
  std::unordered_set<std::string_view> here;  // started by this request
  for (const EventDraft& d : p.req.events) {
    if (d.workflow_seq != 1) continue;
    auto refuse = [&](const std::string& where) {
      return Status(Code::kConflict, "workflow '" + d.workflow_id + "' was started already (" +
                                         where + "); a second start of one id is refused, nothing "
                                         "was written: pick another id");
    };
    if (starting_.count(d.workflow_id)) return refuse("its start is being written");
    if (!here.insert(d.workflow_id).second) return refuse("twice in this append");
    std::string at;
    rocksdb::Status g = db_->Get(rocksdb::ReadOptions(), cf_[kCfByWorkflow], WorkflowKey(d.workflow_id, 1), &at);
    if (g.ok()) return refuse("event seq " + std::to_string(SeqFromKey(at)));
    if (!g.IsNotFound()) return FromRocks(g, "looking up workflow " + d.workflow_id + " in " + dir_);
  }
  return Status::Ok();
}

void RocksEventLog::Seal(Pending* p, Sealed* s) {
  p->first_seq = next_seq_;
  for (size_t i = 0; i < p->bodies.size(); ++i) {
    const EventDraft& d = p->req.events[i];
    uint64_t seq = next_seq_++;
    std::string record = SealRecord(p->bodies[i], seq, last_hash_);
    last_hash_ = HashRecord(record);
    std::string key = SeqKey(seq);
    s->batch.Put(cf_[kCfEvents], key, record);
    s->batch.Put(cf_[kCfByWorkflow], WorkflowKey(d.workflow_id, d.workflow_seq), key);
    for (const auto& subj : d.subjects) s->batch.Put(cf_[kCfBySubject], SubjectKey(subj, seq), "");
    if (d.workflow_seq == 1) {
      starting_.insert(d.workflow_id);
      s->started.push_back(d.workflow_id);
    }
    ++s->events;
  }
  for (const auto& pr : p->req.projections) {
    if (pr.put_once && pr.erase) {
      s->batch.SingleDelete(cf_[kCfOnce], pr.key);
      once_erased_ = true;
    } else if (pr.put_once) {
      s->batch.Put(cf_[kCfOnce], pr.key, pr.value);
    } else if (pr.erase)
      s->batch.Delete(cf_[kCfProjections], pr.key);
    else
      s->batch.Put(cf_[kCfProjections], pr.key, pr.value);
  }
  p->bodies.clear();
  s->bytes += p->bytes;
  s->last_seq = next_seq_ - 1;
  s->reqs.push_back(std::move(*p));
}

void RocksEventLog::CommitterLoop() {
  for (;;) {
    Sealed s;
    {
      std::unique_lock<std::mutex> l(in_mu_);
      committer_wants_ = true;
      in_cv_.wait(l, [&] { return stopping_ || !ready_.empty(); });
      committer_wants_ = false;
      if (ready_.empty()) return;  // closing and drained
      s = std::move(ready_.front());
      ready_.pop_front();
    }
    Commit(&s);
  }
}

void RocksEventLog::Notify(std::vector<Pending>* reqs, const Status& st) {
  {
    std::lock_guard<std::mutex> l(done_mu_);
    done_.push_back(Done{std::move(*reqs), st});
  }
  done_cv_.notify_one();
}

// Runs the callbacks of written (or failed) batches, in commit order.
void RocksEventLog::NotifierLoop() {
  for (;;) {
    std::deque<Done> work;
    {
      std::unique_lock<std::mutex> l(done_mu_);
      done_cv_.wait(l, [&] { return notifier_stop_ || !done_.empty(); });
      if (done_.empty()) return;
      work.swap(done_);
    }
    for (auto& d : work) {
      for (auto& p : d.reqs) {
        if (!d.status.ok()) {
          p.done(d.status, {});
          continue;
        }
        ++requests_durable_;
        if (options_.after_durable) options_.after_durable(requests_durable_);
        p.done(Status::Ok(), AppendResult{p.first_seq});
      }
    }
  }
}

void RocksEventLog::Commit(Sealed* s) {
  {
    // After a fatal error nothing more is written: a later batch would leave a gap.
    std::lock_guard<std::mutex> l(in_mu_);
    if (!broken_.ok()) {
      Notify(&s->reqs, broken_);
      return;
    }
  }
  if (Status st = WriteWithRetry(s); !st.ok()) {
    FailFrom(s, st);
    return;
  }
  durable_seq_ = s->last_seq;
  {
    std::lock_guard<std::mutex> l(stats_mu_);
    stats_.batches++;
    stats_.events += s->events;
    stats_.appends += s->reqs.size();
  }
  if (options_.after_batch) options_.after_batch(s->events);
  Notify(&s->reqs, Status::Ok());
  Release(*s);
  AdvanceMark(s->last_seq);
}

// Writes the batch; on an I/O error retries it until it lands, for at most
// write_retry_ms_max. Ok once durable; otherwise the error that ends the log.
Status RocksEventLog::WriteWithRetry(Sealed* s) {
  std::optional<Clock::time_point> failing_since;
  int64_t backoff_ms = 20;
  for (;;) {
    Status st;
    {
      std::shared_lock<std::shared_mutex> l(db_mu_);
      rocksdb::WriteOptions wo;
      wo.sync = options_.sync;
      st = db_ ? FromRocks(db_->Write(wo, &s->batch), "appending to the event log in " + dir_)
               : reopen_error_;
    }
    if (st.ok() || st.code() == Code::kCorruption || ShuttingDown()) return st;
    if (!failing_since) failing_since = Clock::now();
    int64_t failing_ms = MsSince(*failing_since);
    if (failing_ms >= options_.write_retry_ms_max)
      return Status(st.code(),
                    "writing events " + std::to_string(s->reqs.front().first_seq) + ".." +
                        std::to_string(s->last_seq) + " kept failing for " +
                        std::to_string(failing_ms / 1000) + " s (write_retry_ms_max), the last "
                        "time with: " + st.message() + "; the log stopped taking appends. "
                        "Fix the cause, then start berth again: it reopens at the last "
                        "durable event, and nothing acknowledged is lost");
    // A failed WAL write (e.g. ENOSPC) leaves RocksDB refusing further writes to that WAL.
    // Pause: reopen the database (which recovers exactly what reached the disk) and retry
    // the same sealed batch until it lands. Seqs and hashes stay valid because nothing after
    // the durable tail was written. Appends wait meanwhile; none is half-written.
    if (options_.on_write_error) options_.on_write_error(st);
    std::this_thread::sleep_for(std::chrono::milliseconds(
        std::min(backoff_ms, options_.write_retry_ms_max - failing_ms)));
    backoff_ms = std::min<int64_t>(backoff_ms * 2, 1000);
    reopen_error_ = Reopen();
    if (!reopen_error_.ok()) continue;
    if (durable_on_disk_ < durable_seq_.load())
      return MissingEvents(durable_on_disk_, durable_seq_.load(),
                           "this process wrote them, then reopened the log after a write error");
    if (durable_on_disk_ >= s->last_seq) return Status::Ok();  // it had landed after all
  }
}

// Fatal (corruption, retries exhausted) or closing: fail this batch and every batch sealed
// after it, and refuse every later append with `why`. The log cannot just carry on: those
// batches hold sequence numbers and chain hashes already handed out, each continuing the
// one before, so writing a later one would leave a gap in the seqs; and sealing new events
// again from the durable tail would reuse seqs whose failed write may still surface (a write
// that reported an error may have reached the WAL; only a successful reopen can tell). A new
// Open derives seq and hash from what is actually on disk.
void RocksEventLog::FailFrom(Sealed* s, const Status& why) {
  std::deque<Sealed> doomed;
  {
    std::lock_guard<std::mutex> l(in_mu_);
    doomed.swap(ready_);
    broken_ = why;
    starting_.clear();
    pending_events_ = 0;  // everything sealed fails here
    pending_bytes_ = 0;
  }
  space_cv_.notify_all();  // waiters now see broken_
  Notify(&s->reqs, why);
  for (auto& b : doomed) Notify(&b.reqs, why);
}

void RocksEventLog::Release(const Sealed& s) {
  {
    std::lock_guard<std::mutex> l(in_mu_);
    BERTH_CHECK(pending_events_ >= s.events && pending_bytes_ >= s.bytes);
    pending_events_ -= s.events;
    pending_bytes_ -= s.bytes;
    for (const auto& id : s.started) starting_.erase(id);  // the index has them now
  }
  space_cv_.notify_all();
}

// After the batch ending at `seq` is durable (see high_water_mark.h for why that makes a
// stale mark lower, never higher). One pwrite per batch; an fdatasync at most every
// mark_sync_interval_ms, after the batch's callbacks were handed to the notifier, so it
// delays at most the start of the next write, once per interval. Errors are ignored: a mark
// that was not written is only lower.
void RocksEventLog::AdvanceMark(uint64_t seq) {
  if (!options_.sync) return;  // the events may still be only in the page cache
  (void)mark_->Advance(seq);
  if (MsSince(mark_synced_at_) < options_.mark_sync_interval_ms) return;
  (void)mark_->Sync();
  mark_synced_at_ = Clock::now();
}

bool RocksEventLog::ShuttingDown() {
  std::lock_guard<std::mutex> l(in_mu_);
  return stopping_;
}

Status RocksEventLog::Reopen() {
  std::unique_lock<std::shared_mutex> l(db_mu_);
  CloseRocks();
  Status s = OpenRocks();
  if (!s.ok()) return s;
  return ReadTail(&durable_on_disk_, nullptr);
}

Result<std::unique_ptr<EventLog>> EventLog::Open(const std::string& dir, const Options& options) {
  auto log = std::make_unique<RocksEventLog>();
  Status s = log->OpenDb(dir, options);
  if (!s.ok()) return s;
  return std::unique_ptr<EventLog>(std::move(log));
}

}  // namespace berth::eventlog
