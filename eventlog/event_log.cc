// RocksDB implementation of EventLog: opening, appending, the committer. See event_log.h
// for the contract, rocks_event_log.h for the class; reads are in event_log_read.cc.
#include <linux/futex.h>
#include <rocksdb/metadata.h>
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

// Format 2 keeps the put-once rows in the "once" column family; format 1 kept them, the
// engine's "open/" rows, among the projections (moved when a format 1 log is opened).
constexpr const char* kFormatValue = "berth-eventlog 2";
constexpr int kFormatVersion = 2;
constexpr const char* kFormat1OncePrefix = "open/";
constexpr size_t kFamilyCount = std::size(kColumnFamilies);

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

int64_t NowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t MsSince(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now() - t)
      .count();
}

}  // namespace

Status RocksEventLog::OpenDb(const std::string& dir, const Options& options) {
  options_ = options;
  dir_ = dir;
  bool has_current = false;
  if (Status s = PrepareDir(&has_current); !s.ok()) return s;
  if (Status s = ConfigureRocks(has_current); !s.ok()) return s;
  if (Status s = OpenRocks(); !s.ok()) return s;
  // Again, for the files RocksDB's recovery just wrote (CURRENT, MANIFEST, the new WAL):
  // they are 0644 & ~umask, and only a process with umask 077 makes them 0600 from birth.
  if (Status s = MakePrivate(dir_); !s.ok()) return s;
  if (Status s = CheckFormat(); !s.ok()) return s;
  // Recover the tail of the chain; it must reach the high-water mark.
  uint64_t seq = 0;
  if (Status t = ReadTail(&seq, &last_hash_); !t.ok()) return t;
  if (seq < mark_at_open_)
    return MissingEvents(seq, mark_at_open_, "its high-water mark " + mark_->path() + " says so");
  durable_seq_ = seq;
  durable_on_disk_ = seq;
  next_seq_ = seq + 1;
  mark_synced_at_ = Clock::now();
  committer_ = std::thread([this] { CommitterLoop(); });
  notifier_ = std::thread([this] { NotifierLoop(); });
  return Status::Ok();
}

// Order matters: refuse a foreign directory before putting anything in it; take the lock
// before looking at RocksDB's files (another process may be creating them) and before
// changing modes (a directory this user may not write fails at the lock, as kPermission).
Status RocksEventLog::PrepareDir(bool* has_current) {
  struct stat st;
  bool exists = ::stat(dir_.c_str(), &st) == 0;
  if (!exists && errno != ENOENT) return ErrnoStatus(errno, "reading", dir_);
  if (!exists && !options_.create_if_missing) return NotFound("no Berth log at " + dir_);
  if (exists)
    if (Status s = CheckNotForeign(); !s.ok()) return s;
  if (Status s = MakePrivateDirs(dir_); !s.ok()) return s;
  auto lock = DirLock::Acquire(dir_);
  if (!lock.ok()) return lock.status();
  lock_.emplace(std::move(lock).value());
  if (Status s = MakePrivate(dir_); !s.ok()) return s;
  std::string current = dir_ + "/CURRENT";
  *has_current = ::stat(current.c_str(), &st) == 0;
  if (!*has_current && errno != ENOENT) return ErrnoStatus(errno, "reading", current);
  if (!*has_current && !options_.create_if_missing) return NotFound("no Berth log at " + dir_);
  auto mark = HighWaterMark::Open(dir_ + "/" + kMarkFileName);
  if (!mark.ok()) return mark.status();
  mark_.emplace(std::move(mark).value());
  mark_at_open_ = mark_->value();
  return Status::Ok();
}

// A directory without RocksDB's CURRENT may hold only Berth's own files (a creation that
// stopped before RocksDB made any); anything else is somebody else's.
Status RocksEventLog::CheckNotForeign() {
  namespace fs = std::filesystem;
  std::error_code ec;
  bool has_current = fs::exists(fs::path(dir_) / "CURRENT", ec);
  if (ec) return ErrnoStatus(ec.value(), "reading", dir_);
  if (has_current) return Status::Ok();
  for (const auto& e : fs::directory_iterator(dir_, ec)) {
    std::string name = e.path().filename().string();
    if (name != kLockFileName && name != kMarkFileName)
      return Corruption(dir_ + " is not empty and holds no Berth log; point --data-dir at an "
                        "empty or Berth-owned directory");
  }
  if (ec) return ErrnoStatus(ec.value(), "listing", dir_);
  return Status::Ok();
}

Status RocksEventLog::ConfigureRocks(bool has_current) {
  rocksdb::Options ro;
  ro.create_if_missing = options_.create_if_missing;
  // On an existing database only after the 'meta' check below: a format 1 log gains "once".
  ro.create_missing_column_families = true;
  ro.max_background_jobs = 2;
  ro.info_log = logger_;
  // RocksDB's default, kPointInTimeRecovery, stops replaying the WAL at the first bad record
  // and opens without a word: one flipped byte silently drops every event after it. This
  // mode drops only a torn last record (a crash mid-write) and fails on damage anywhere
  // else. Checked on RocksDB 7.8.3 (docs/event-format.md, "Recovery"); kAbsoluteConsistency
  // refuses the torn tail too, which a crash mid-fsync leaves behind.
  ro.wal_recovery_mode = rocksdb::WALRecoveryMode::kTolerateCorruptedTailRecords;
  if (options_.env) ro.env = options_.env;
  // Compactions run at the lowest CPU priority: on a 2-core machine they otherwise take a
  // core from the command that opened the log. A snapshot's release makes RocksDB rewrite
  // the bottommost files (compaction reason "BottommostFiles": zeroing sequence numbers),
  // the whole log, in the background of every `replay --verify` and resume; a short command
  // aborts it at close, so it runs again next time. Measured: 9% of verify's samples.
  (void)(ro.env ? ro.env : rocksdb::Env::Default())
      ->LowerThreadPoolCPUPriority(rocksdb::Env::Priority::LOW, rocksdb::CpuPriority::kIdle);
  if (has_current) {
    std::vector<std::string> families;
    auto s = rocksdb::DB::ListColumnFamilies(ro, dir_, &families);
    if (!s.ok()) return OpenError(s);
    if (std::find(families.begin(), families.end(), "meta") == families.end())
      return Corruption(dir_ + " holds a RocksDB database that is not a Berth log (no 'meta' "
                        "column family); use another --data-dir");
  }
  rocks_options_ = ro;
  return Status::Ok();
}

Status RocksEventLog::OpenRocks() {
  std::vector<rocksdb::ColumnFamilyDescriptor> descs;
  for (const char* name : kColumnFamilies)
    descs.emplace_back(name, rocksdb::ColumnFamilyOptions(rocks_options_));
  rocksdb::DB* raw = nullptr;
  logger_->Clear();
  auto s = rocksdb::DB::Open(rocks_options_, dir_, descs, &cf_, &raw);
  if (!s.ok()) return OpenError(s);
  db_.reset(raw);
  return Status::Ok();
}

// Busy was decided by berth.lock before RocksDB was asked; its errors are what they say.
Status RocksEventLog::OpenError(const rocksdb::Status& s) {
  std::string m = s.ToString();
  // RocksDB's own LOCK held by a process that does not take berth.lock (an older berth, a
  // RocksDB tool): fcntl's EAGAIN, in the exact words of RocksDB's LockFile.
  if (s.IsIOError() && m.find("While lock file: ") != std::string::npos &&
      m.find(std::strerror(EAGAIN)) != std::string::npos)
    return Status(Code::kBusy, "data directory " + dir_ + " is in use by another process " +
                                   "holding RocksDB's LOCK (" + m + "); stop it, then retry");
  if (m.find("Column famil") != std::string::npos)
    return Corruption(dir_ + " holds a RocksDB database that is not a Berth log (" + m + ")");
  if (!s.IsCorruption()) return FromRocks(s, "opening the log in " + dir_);
  WalDamage d = logger_->FirstWalDamage();
  if (!d.file.empty())
    return Corruption("the write-ahead log " + d.file + " is damaged (" + d.reason + "; " +
                      d.bytes + " bytes there are unreadable; RocksDB does not report the "
                      "offset): berth will not open a log that would silently lose the events "
                      "after it. Restore " + dir_ + " from a copy taken while berth was "
                      "stopped; do not delete " + d.file + " (that loses every event in it)");
  return Corruption("the log's database in " + dir_ + " is damaged (" + m + "); restore " +
                    dir_ + " from a copy taken while berth was stopped; do not delete files "
                    "in it");
}

Status RocksEventLog::CheckFormat() {
  std::string format;
  auto s = db_->Get(rocksdb::ReadOptions(), cf_[kCfMeta], "format", &format);
  if (s.IsNotFound()) {
    rocksdb::WriteBatch b;
    b.Put(cf_[kCfMeta], "format", kFormatValue);
    b.Put(cf_[kCfMeta], "created_us", std::to_string(NowUs()));
    rocksdb::WriteOptions wo;
    wo.sync = true;
    s = db_->Write(wo, &b);
    if (!s.ok()) return FromRocks(s, "initialising " + dir_);
  } else if (!s.ok()) {
    return FromRocks(s, "reading format of " + dir_);
  } else if (format.rfind("berth-eventlog ", 0) != 0) {
    return Corruption(dir_ + " is not a Berth log (format '" + format + "')");
  } else if (std::atoi(format.c_str() + 15) > kFormatVersion) {
    return Status(Code::kUnsupported, dir_ + " was written by a newer Berth (" + format +
                                          "); this berth reads format " +
                                          std::to_string(kFormatVersion) + "; upgrade berth");
  } else if (std::atoi(format.c_str() + 15) == 1) {
    return UpgradeFormat1();
  }
  return Status::Ok();
}

// Format 1 -> 2: the put-once rows (format 1 wrote only the engine's "open/" rows so) move
// from the projections to "once", with the new format value, in one synced batch.
Status RocksEventLog::UpgradeFormat1() {
  rocksdb::WriteBatch b;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf_[kCfProjections]));
  for (it->Seek(kFormat1OncePrefix); it->Valid() && it->key().starts_with(kFormat1OncePrefix); it->Next()) {
    b.Put(cf_[kCfOnce], it->key(), it->value());
    b.Delete(cf_[kCfProjections], it->key());
  }
  if (Status s = FromRocks(it->status(), "reading the open rows of " + dir_); !s.ok()) return s;
  b.Put(cf_[kCfMeta], "format", kFormatValue);
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return FromRocks(db_->Write(wo, &b), "upgrading " + dir_ + " to format " + std::to_string(kFormatVersion));
}

Status RocksEventLog::ReadTail(uint64_t* seq, Digest* hash) {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf_[kCfEvents]));
  it->SeekToLast();
  *seq = 0;
  if (hash) *hash = Digest{};
  if (!it->Valid()) return FromRocks(it->status(), "reading the log tail in " + dir_);
  *seq = SeqFromKey(it->key().ToStringView());
  Event e;
  if (Status d = DecodeRecord(*seq, it->value().ToStringView(), &e); !d.ok()) return d;
  if (hash) *hash = HashRecord(it->value().ToStringView());
  return Status::Ok();
}

Status RocksEventLog::MissingEvents(uint64_t last, uint64_t must_reach,
                                   const std::string& source) const {
  return Corruption(
      "events " + std::to_string(last + 1) + ".." + std::to_string(must_reach) +
      " are missing: the log was truncated (it ends at event " + std::to_string(last) +
      ", but events up to " + std::to_string(must_reach) + " were durable: " + source +
      "; a lost or damaged write-ahead log, or files from an older copy). "
      "Restore " + dir_ + " from a copy taken while berth was stopped; do not delete files "
      "in it. Only if there is no copy and you accept losing those events: remove " +
      mark_->path() + " and run `berth replay --verify`");
}

// A put-once row and its SingleDelete vanish together only when one flush or compaction
// holds both. A flush does that when both were in one memtable; a row put by an earlier
// session (a workflow resumed, or one that outlived a memtable switch) leaves its
// SingleDelete in a newer file than its put, and in a short-lived process the background
// compaction that would pair them rarely runs to its end. Every scan of the rows (each
// resume's `open/`) then walks past them: 24,000 after 50,000 finished workflows, 8 ms of
// a 12 ms resume. So a clean close that erased rows compacts "once" whole: it holds only
// the live rows and what was erased since the last such close (measured: docs/benchmarks.md).
// The same compaction over the projections' range cost 0.39 s: those files hold every
// workflow's summary.
void RocksEventLog::CompactErasedOnce() {
  {
    std::lock_guard<std::mutex> l(in_mu_);
    if (!once_erased_) return;
    once_erased_ = false;
  }
  // CompactFiles runs on this thread; CompactRange queued behind the background compactions
  // that the close's flush had just started (idle priority, over the big families): 0.33 s.
  rocksdb::ColumnFamilyMetaData meta;
  db_->GetColumnFamilyMetaData(cf_[kCfOnce], &meta);
  std::vector<std::string> files;
  for (const auto& level : meta.levels)
    for (const auto& f : level.files) files.push_back(f.name);
  if (files.empty()) return;
  (void)db_->CompactFiles(rocksdb::CompactionOptions(), cf_[kCfOnce], files,
                          int(meta.levels.size()) - 1);  // best effort: only speed
}

void RocksEventLog::CloseRocks() {
  if (db_) {
    for (auto* h : cf_) db_->DestroyColumnFamilyHandle(h);
    (void)db_->Close();
  }
  cf_.clear();
  db_.reset();
}

void RocksEventLog::Shutdown() {
  if (!committer_.joinable()) {  // Open failed after DB::Open: release the handles only
    CloseRocks();
    return;
  }
  {
    std::lock_guard<std::mutex> l(in_mu_);
    stopping_ = true;
  }
  in_cv_.notify_all();  // the committer writes what is sealed, then ends
  space_cv_.notify_all();
  if (committer_.joinable()) committer_.join();
  {
    std::lock_guard<std::mutex> l(done_mu_);
    notifier_stop_ = true;
  }
  done_cv_.notify_all();
  if (notifier_.joinable()) notifier_.join();
  (void)mark_->Sync();  // best effort: a mark that did not reach the disk is only lower
  if (options_.flush_on_close && db_ && broken_.ok() && cf_.size() == kFamilyCount) {
    // Every open starts a new WAL, and RocksDB deletes the old ones only once a flush moves
    // the column families past them: a session that appended nothing flushes nothing, so
    // each read-only command (ps, history, audit) left one more empty WAL that every later
    // open lists and replays. A one-row write to meta gives the flush something to do.
    // (RocksDB's GetSortedWalFiles leaves empty WALs out: the directory is listed instead.)
    std::error_code ec;
    int wals = 0;
    for (const auto& f : std::filesystem::directory_iterator(dir_, ec))
      wals += f.path().extension() == ".log";
    if (wals > 1)
      (void)db_->Put(rocksdb::WriteOptions(), cf_[kCfMeta], "closed_us", std::to_string(NowUs()));
    rocksdb::FlushOptions fo;
    fo.wait = true;
    (void)db_->Flush(fo, cf_);  // best effort: what is not flushed is still in the WAL
    CompactErasedOnce();
  }
  CloseRocks();
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
