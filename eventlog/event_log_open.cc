// RocksDB implementation of EventLog: opening (the directory, RocksDB's options, the format
// and its upgrade, the tail and the high-water mark) and closing (flush, compaction of the
// put-once rows). The write path is in event_log.cc.
#include <rocksdb/metadata.h>
#include <rocksdb/options.h>
#include <sys/stat.h>
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

}  // namespace berth::eventlog
