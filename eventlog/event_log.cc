// RocksDB implementation of EventLog. See event_log.h for the contract.
#include "eventlog/event_log.h"

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <mutex>
#include <shared_mutex>
#include <thread>

#include "eventlog/event_codec.h"

namespace berth::eventlog {
namespace {

constexpr const char* kFormatValue = "berth-eventlog 1";
constexpr int kFormatVersion = 1;
constexpr size_t kFamilyCount = std::size(kColumnFamilies);

// RocksDB's own info LOG file is of no use to Berth users and, on a full disk, Debian's
// assert-enabled RocksDB aborts on its second failed write. Keep it out of the data dir.
class SilentLogger final : public rocksdb::Logger {
 public:
  using rocksdb::Logger::Logv;
  void Logv(const char*, va_list) override {}
};

Status FromRocks(const rocksdb::Status& s, const std::string& where) {
  if (s.ok()) return Status::Ok();
  if (s.IsNoSpace() || s.subcode() == rocksdb::Status::kNoSpace)
    return Status(Code::kNoSpace, where + ": disk full (" + s.ToString() + "); free space and retry");
  if (s.IsCorruption()) return Corruption(where + ": " + s.ToString());
  return IOError(where + ": " + s.ToString());
}

int64_t NowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class RocksEventLog final : public EventLog {
 public:
  ~RocksEventLog() override { Shutdown(); }

  Status OpenDb(const std::string& dir, const Options& options);

  Status Append(AppendRequest request, AppendResult* result) override {
    // A futex on the caller's stack instead of a std::promise (which allocates a shared
    // state per append), waited on without spinning: with hundreds of producers on a few
    // cores, spin-then-yield waiting (std::atomic::wait) burns the CPU the writer needs.
    // A wake that arrives after the waiter returned only hits a futex nobody waits on.
    struct Waiter {
      std::atomic<uint32_t> done{0};
      Status s;
      AppendResult r;
    } w;
    AppendAsync(std::move(request), [&w](const Status& s, AppendResult r) {
      w.s = s;
      w.r = r;
      w.done.store(1, std::memory_order_release);
      syscall(SYS_futex, reinterpret_cast<uint32_t*>(&w.done), FUTEX_WAKE_PRIVATE, 1, nullptr,
              nullptr, 0);
    });
    while (w.done.load(std::memory_order_acquire) == 0)
      syscall(SYS_futex, reinterpret_cast<uint32_t*>(&w.done), FUTEX_WAIT_PRIVATE, 0, nullptr,
              nullptr, 0);
    if (result) *result = w.r;
    return w.s;
  }

  void AppendAsync(AppendRequest request, AppendCallback done) override;
  uint64_t LastSeq() const override { return durable_seq_.load(); }
  Status Get(uint64_t seq, Event* out) const override;
  Status GetLocked(uint64_t seq, Event* out) const;
  Status ScanRange(uint64_t from, uint64_t to, const Visitor& visit) const override;
  Status ScanWorkflow(const std::string& wf, const Visitor& visit) const override;
  Status ScanSubject(const std::string& subject, const Visitor& visit) const override;
  Status VerifyChain(uint64_t* checked) const override;
  Status VerifyIndexes() const override;
  Status GetProjection(const std::string& key, std::string* value) const override;
  Status ScanProjections(
      const std::string& prefix,
      const std::function<bool(const std::string&, const std::string&)>& visit) const override;
  LogStats Stats() const override {
    std::lock_guard<std::mutex> l(stats_mu_);
    return stats_;
  }

 private:
  struct Pending {
    AppendRequest req;
    std::vector<EncodedBody> bodies;
    AppendCallback done;
    uint64_t first_seq = 0;
  };
  struct Sealed {
    rocksdb::WriteBatch batch;
    std::vector<Pending> reqs;
    uint64_t last_seq = 0;
    size_t events = 0;
  };

  struct Done {
    std::vector<Pending> reqs;
    Status status;
  };

  void CommitterLoop();
  void NotifierLoop();
  void Notify(std::vector<Pending>* reqs, const Status& st);
  void Seal(Pending* p, Sealed* out);
  void Commit(Sealed* s);
  void FailAll(std::deque<Sealed>* batches, const Status& why);
  bool ShuttingDown();
  Status OpenRocks();  // DB::Open with our column families; caller holds db_mu_ (or is Open)
  Status ReadTail(uint64_t* seq, Digest* hash);  // last durable event on disk
  Status Reopen();
  void CloseRocks();  // releases the handles and closes db_, if open
  // Takes db_mu_ shared for a reader; kUnavailable while a failed Reopen left no database.
  Status LockForRead(std::shared_lock<std::shared_mutex>* lock) const;
  // Visits the events an index (by_workflow or by_subject) lists under `prefix`.
  Status ScanIndex(int family, const std::string& prefix, const Visitor& visit) const;
  void Shutdown();

  Options options_;
  std::string dir_;
  // db_ is replaced by Reopen after a failed write; every user holds db_mu_ (shared).
  mutable std::shared_mutex db_mu_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> cf_;
  rocksdb::Options rocks_options_;
  uint64_t durable_on_disk_ = 0;  // committer thread only
  Status reopen_error_;           // why db_ is null after a failed Reopen

  // Producers seal their own events (seq, hash chain, WriteBatch puts) under in_mu_ into
  // the last batch of ready_; the committer takes the front batch whenever it is idle. So a
  // write carries everything that arrived during the previous fsync, with no thread hop
  // between a producer and the writer.
  std::mutex in_mu_;
  std::condition_variable in_cv_;  // the committer waits here for work
  std::deque<Sealed> ready_;       // sealed, not yet written; each <= batch_events_max
  bool stopping_ = false;
  bool committer_wants_ = false;  // the committer is idle, waiting for a batch
  Status broken_;  // set after a fatal write error; every later append fails with it

  // Chain state, guarded by in_mu_.
  uint64_t next_seq_ = 1;
  Digest last_hash_{};

  std::atomic<uint64_t> durable_seq_{0};
  uint64_t requests_durable_ = 0;

  mutable std::mutex stats_mu_;
  LogStats stats_;

  // Committer -> notifier: callbacks run off the committer thread, so the next write starts
  // as soon as the previous one is durable instead of after ~100 wake-ups.
  std::mutex done_mu_;
  std::condition_variable done_cv_;
  std::deque<Done> done_;
  bool notifier_stop_ = false;

  std::thread committer_;
  std::thread notifier_;
};

Status RocksEventLog::OpenDb(const std::string& dir, const Options& options) {
  namespace fs = std::filesystem;
  options_ = options;
  dir_ = dir;
  std::error_code ec;
  bool exists = fs::exists(dir, ec);
  bool has_current = fs::exists(fs::path(dir) / "CURRENT", ec);
  if (exists && !has_current && !fs::is_empty(dir, ec))
    return Corruption(dir + " is not empty and holds no Berth log; point --data-dir at an "
                      "empty or Berth-owned directory");
  if (!exists && !options.create_if_missing)
    return NotFound("no Berth log at " + dir);
  fs::create_directories(dir, ec);
  if (ec) return IOError("creating " + dir + ": " + ec.message());

  rocksdb::Options ro;
  ro.create_if_missing = options.create_if_missing;
  ro.create_missing_column_families = !has_current;
  ro.max_background_jobs = 2;
  ro.info_log = std::make_shared<SilentLogger>();
  if (has_current) {
    std::vector<std::string> families;
    auto s = rocksdb::DB::ListColumnFamilies(ro, dir, &families);
    if (!s.ok()) return FromRocks(s, "reading " + dir);
    if (std::find(families.begin(), families.end(), "meta") == families.end())
      return Corruption(dir + " holds a RocksDB database that is not a Berth log (no 'meta' "
                        "column family); use another --data-dir");
  }
  rocks_options_ = ro;
  if (Status s = OpenRocks(); !s.ok()) return s;

  std::string format;
  auto s = db_->Get(rocksdb::ReadOptions(), cf_[kCfMeta], "format", &format);
  if (s.IsNotFound()) {
    rocksdb::WriteBatch b;
    b.Put(cf_[kCfMeta], "format", kFormatValue);
    b.Put(cf_[kCfMeta], "created_us", std::to_string(NowUs()));
    rocksdb::WriteOptions wo;
    wo.sync = true;
    s = db_->Write(wo, &b);
    if (!s.ok()) return FromRocks(s, "initialising " + dir);
  } else if (!s.ok()) {
    return FromRocks(s, "reading format of " + dir);
  } else if (format.rfind("berth-eventlog ", 0) != 0) {
    return Corruption(dir + " is not a Berth log (format '" + format + "')");
  } else if (std::atoi(format.c_str() + 15) > kFormatVersion) {
    return Status(Code::kUnsupported, dir + " was written by a newer Berth (" + format +
                                          "); this berth reads format " +
                                          std::to_string(kFormatVersion) + "; upgrade berth");
  }

  // Recover the tail of the chain.
  uint64_t seq = 0;
  if (Status t = ReadTail(&seq, &last_hash_); !t.ok()) return t;
  durable_seq_ = seq;
  durable_on_disk_ = seq;
  next_seq_ = seq + 1;
  committer_ = std::thread([this] { CommitterLoop(); });
  notifier_ = std::thread([this] { NotifierLoop(); });
  return Status::Ok();
}

Status RocksEventLog::OpenRocks() {
  std::vector<rocksdb::ColumnFamilyDescriptor> descs;
  for (const char* name : kColumnFamilies)
    descs.emplace_back(name, rocksdb::ColumnFamilyOptions(rocks_options_));
  rocksdb::DB* raw = nullptr;
  auto s = rocksdb::DB::Open(rocks_options_, dir_, descs, &cf_, &raw);
  if (!s.ok()) {
    std::string m = s.ToString();
    if (m.find("lock") != std::string::npos || m.find("LOCK") != std::string::npos)
      return Status(Code::kBusy, "data directory " + dir_ +
                                     " is in use by another berth process; wait for it to "
                                     "finish or stop it, then retry");
    if (m.find("Column famil") != std::string::npos)
      return Corruption(dir_ + " holds a RocksDB database that is not a Berth log (" + m + ")");
    return FromRocks(s, "opening the log in " + dir_);
  }
  db_.reset(raw);
  return Status::Ok();
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

void RocksEventLog::CloseRocks() {
  if (db_) {
    for (auto* h : cf_) db_->DestroyColumnFamilyHandle(h);
    (void)db_->Close();
  }
  cf_.clear();
  db_.reset();
}

Status RocksEventLog::LockForRead(std::shared_lock<std::shared_mutex>* lock) const {
  *lock = std::shared_lock<std::shared_mutex>(db_mu_);
  if (db_) return Status::Ok();
  return Status(Code::kUnavailable, "the log is reopening after a write error; retry");
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
  if (committer_.joinable()) committer_.join();
  {
    std::lock_guard<std::mutex> l(done_mu_);
    notifier_stop_ = true;
  }
  done_cv_.notify_all();
  if (notifier_.joinable()) notifier_.join();
  CloseRocks();
}

void RocksEventLog::AppendAsync(AppendRequest request, AppendCallback done) {
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
  p.req = std::move(request);
  p.done = std::move(done);
  Status refused;
  bool wake = false;
  {
    // Sealing reads cf_, which Reopen replaces after a failed write: hold db_mu_ shared.
    std::shared_lock<std::shared_mutex> db_lock(db_mu_);
    std::lock_guard<std::mutex> l(in_mu_);
    if (stopping_) {
      refused = Status(Code::kCancelled, "event log is closing");
    } else if (!broken_.ok()) {
      refused = broken_;
    } else if (cf_.size() != kFamilyCount) {
      refused = Status(Code::kUnavailable, "the log is reopening after a write error; retry");
    } else {
      if (ready_.empty() || (ready_.back().events > 0 &&
                             ready_.back().events + p.bodies.size() > options_.batch_events_max))
        ready_.emplace_back();
      Seal(&p, &ready_.back());
      wake = committer_wants_;
      committer_wants_ = false;
    }
  }
  if (!refused.ok()) {
    p.done(refused, {});
    return;
  }
  if (wake) in_cv_.notify_one();
}

// Caller holds in_mu_.
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
    ++s->events;
  }
  for (const auto& pr : p->req.projections) {
    if (pr.erase)
      s->batch.Delete(cf_[kCfProjections], pr.key);
    else
      s->batch.Put(cf_[kCfProjections], pr.key, pr.value);
  }
  p->bodies.clear();
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
  Status st;
  bool landed = false;
  int64_t backoff_ms = 20;
  for (;;) {
    {
      std::shared_lock<std::shared_mutex> l(db_mu_);
      rocksdb::WriteOptions wo;
      wo.sync = options_.sync;
      st = db_ ? FromRocks(db_->Write(wo, &s->batch), "appending to the event log")
               : reopen_error_;
    }
    landed = st.ok();
    if (landed || st.code() == Code::kCorruption || ShuttingDown()) break;
    // A failed WAL write (e.g. ENOSPC) leaves RocksDB refusing further writes to that WAL.
    // Pause: reopen the database (which recovers exactly what reached the disk) and retry
    // the same sealed batch until it lands. Seqs and hashes stay valid because nothing after
    // the durable tail was written. Appends wait meanwhile; none is half-written.
    if (options_.on_write_error) options_.on_write_error(st);
    std::this_thread::sleep_for(std::chrono::milliseconds(backoff_ms));
    backoff_ms = std::min<int64_t>(backoff_ms * 2, 1000);
    reopen_error_ = Reopen();
    landed = reopen_error_.ok() && durable_on_disk_ >= s->last_seq;  // it had landed after all
    if (landed) break;
  }
  if (!landed) {
    // Fatal (corruption) or closing: fail this batch and all sealed after it.
    std::deque<Sealed> doomed;
    {
      std::lock_guard<std::mutex> l(in_mu_);
      doomed.swap(ready_);
      broken_ = st;
    }
    Notify(&s->reqs, st);
    FailAll(&doomed, st);
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

void RocksEventLog::FailAll(std::deque<Sealed>* batches, const Status& why) {
  for (auto& b : *batches) Notify(&b.reqs, why);
  batches->clear();
}

Status RocksEventLog::Get(uint64_t seq, Event* out) const {
  std::shared_lock<std::shared_mutex> lock;
  if (Status l = LockForRead(&lock); !l.ok()) return l;
  return GetLocked(seq, out);
}

Status RocksEventLog::GetLocked(uint64_t seq, Event* out) const {
  std::string v;
  auto s = db_->Get(rocksdb::ReadOptions(), cf_[kCfEvents], SeqKey(seq), &v);
  if (s.IsNotFound()) return NotFound("no event with seq " + std::to_string(seq));
  if (!s.ok()) return FromRocks(s, "reading event " + std::to_string(seq));
  return DecodeRecord(seq, v, out);
}

Status RocksEventLog::ScanRange(uint64_t from, uint64_t to, const Visitor& visit) const {
  std::shared_lock<std::shared_mutex> lock;
  if (Status l = LockForRead(&lock); !l.ok()) return l;
  rocksdb::ReadOptions ro;
  ro.readahead_size = 2 << 20;
  ro.fill_cache = false;  // a full scan would only evict the hot blocks
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, cf_[kCfEvents]));
  Event e;
  for (it->Seek(SeqKey(from)); it->Valid(); it->Next()) {
    uint64_t seq = SeqFromKey(it->key().ToStringView());
    if (seq > to) break;
    Status d = DecodeRecord(seq, it->value().ToStringView(), &e);
    if (!d.ok()) return d;
    if (!visit(e)) return Status::Ok();
  }
  return FromRocks(it->status(), "scanning events");
}

Status RocksEventLog::ScanIndex(int family, const std::string& prefix,
                                const Visitor& visit) const {
  std::shared_lock<std::shared_mutex> lock;
  if (Status l = LockForRead(&lock); !l.ok()) return l;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf_[family]));
  Event e;
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    // by_workflow stores the seq as its value; by_subject ends its key with it.
    uint64_t seq = family == kCfByWorkflow
                       ? SeqFromKey(it->value().ToStringView())
                       : SeqFromKey(it->key().ToStringView().substr(prefix.size()));
    if (Status s = GetLocked(seq, &e); !s.ok()) return s;
    if (!visit(e)) return Status::Ok();
  }
  return FromRocks(it->status(), "scanning the index of '" + prefix.substr(0, prefix.size() - 1) + "'");
}

Status RocksEventLog::ScanWorkflow(const std::string& wf, const Visitor& visit) const {
  return ScanIndex(kCfByWorkflow, wf + '\0', visit);
}

Status RocksEventLog::ScanSubject(const std::string& subject, const Visitor& visit) const {
  return ScanIndex(kCfBySubject, subject + '\0', visit);
}

Status RocksEventLog::VerifyChain(uint64_t* checked) const {
  std::shared_lock<std::shared_mutex> lock;
  if (Status l = LockForRead(&lock); !l.ok()) return l;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf_[kCfEvents]));
  Digest prev{};
  uint64_t expect = 1;
  Event e;
  for (it->SeekToFirst(); it->Valid(); it->Next(), ++expect) {
    uint64_t seq = SeqFromKey(it->key().ToStringView());
    if (seq != expect)
      return Corruption("event seq " + std::to_string(expect) + " is missing (next stored is " +
                        std::to_string(seq) + ")");
    Status d = DecodeRecord(seq, it->value().ToStringView(), &e);
    if (!d.ok()) return d;
    if (e.prev_hash != prev)
      return Corruption("event seq " + std::to_string(seq) +
                        ": hash chain broken (prev_hash does not match event " +
                        std::to_string(seq - 1) + "); the log was altered");
    prev = HashRecord(it->value().ToStringView());
  }
  if (checked) *checked = expect - 1;
  return FromRocks(it->status(), "verifying the chain");
}

Status RocksEventLog::VerifyIndexes() const {
  uint64_t events = 0, subjects = 0;
  Status s = ScanRange(1, UINT64_MAX, [&](const Event& e) {
    ++events;
    subjects += e.subjects.size();
    return true;
  });
  if (!s.ok()) return s;
  std::shared_lock<std::shared_mutex> lock;
  if (Status l = LockForRead(&lock); !l.ok()) return l;
  uint64_t wf_entries = 0;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf_[kCfByWorkflow]));
  Event e;
  for (it->SeekToFirst(); it->Valid(); it->Next(), ++wf_entries) {
    auto key = it->key().ToStringView();
    uint64_t seq = SeqFromKey(it->value().ToStringView());
    Status g = GetLocked(seq, &e);
    if (!g.ok()) return Corruption("workflow index points at missing event " + std::to_string(seq));
    if (key != WorkflowKey(e.workflow_id, e.workflow_seq))
      return Corruption("workflow index entry for event seq " + std::to_string(seq) +
                        " does not match the event");
  }
  if (wf_entries != events)
    return Corruption("workflow index has " + std::to_string(wf_entries) + " entries for " +
                      std::to_string(events) + " events");
  uint64_t subj_entries = 0;
  it.reset(db_->NewIterator(rocksdb::ReadOptions(), cf_[kCfBySubject]));
  for (it->SeekToFirst(); it->Valid(); it->Next(), ++subj_entries) {
    std::string subject;
    uint64_t seq = 0;
    if (!ParseSubjectKey(it->key().ToStringView(), &subject, &seq))
      return Corruption("subject index holds a malformed key");
    if (!GetLocked(seq, &e).ok())
      return Corruption("subject index points at missing event " + std::to_string(seq));
    if (std::find(e.subjects.begin(), e.subjects.end(), subject) == e.subjects.end())
      return Corruption("subject index entry '" + subject + "' for event seq " +
                        std::to_string(seq) + " is not among the event's subjects");
  }
  if (subj_entries != subjects)
    return Corruption("subject index has " + std::to_string(subj_entries) + " entries for " +
                      std::to_string(subjects) + " event subjects");
  return Status::Ok();
}

Status RocksEventLog::GetProjection(const std::string& key, std::string* value) const {
  std::shared_lock<std::shared_mutex> lock;
  if (Status l = LockForRead(&lock); !l.ok()) return l;
  auto s = db_->Get(rocksdb::ReadOptions(), cf_[kCfProjections], key, value);
  if (s.IsNotFound()) return NotFound("no projection " + key);
  return FromRocks(s, "reading projection " + key);
}

Status RocksEventLog::ScanProjections(
    const std::string& prefix,
    const std::function<bool(const std::string&, const std::string&)>& visit) const {
  std::shared_lock<std::shared_mutex> lock;
  if (Status l = LockForRead(&lock); !l.ok()) return l;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf_[kCfProjections]));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next())
    if (!visit(it->key().ToString(), it->value().ToString())) break;
  return FromRocks(it->status(), "scanning projections");
}

}  // namespace

Result<std::unique_ptr<EventLog>> EventLog::Open(const std::string& dir, const Options& options) {
  auto log = std::make_unique<RocksEventLog>();
  Status s = log->OpenDb(dir, options);
  if (!s.ok()) return s;
  return std::unique_ptr<EventLog>(std::move(log));
}

}  // namespace berth::eventlog
