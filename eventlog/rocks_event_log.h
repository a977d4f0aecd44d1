// RocksEventLog: the RocksDB implementation of EventLog (event_log.h is the contract).
// Internal to eventlog/: event_log.cc has opening, appending and the committer,
// event_log_read.cc the reads and verification.
#pragma once

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <thread>
#include <unordered_set>
#include <vector>

#include "eventlog/data_dir.h"
#include "eventlog/event_codec.h"
#include "eventlog/event_log.h"
#include "eventlog/high_water_mark.h"
#include "eventlog/rocks_errors.h"

namespace berth::eventlog {

int64_t NowUs();  // wall clock, microseconds since the epoch (event_log.cc)

class SnapshotView;

class RocksEventLog final : public EventLog {
 public:
  ~RocksEventLog() override { Shutdown(); }

  Status OpenDb(const std::string& dir, const Options& options);

  Status Append(AppendRequest request, AppendResult* result) override;
  void AppendAsync(AppendRequest request, AppendCallback done) override;
  uint64_t LastSeq() const override { return durable_seq_.load(); }
  Status Get(uint64_t seq, Event* out) const override;
  Status ScanRange(uint64_t from, uint64_t to, const Visitor& visit) const override;
  Status ScanWorkflow(const std::string& wf, const Visitor& visit) const override;
  Status ScanWorkflowFrom(const std::string& wf, uint64_t from_workflow_seq, const Visitor& visit) const override;
  Status ScanSubject(const std::string& subject, const Visitor& visit) const override;
  Status VerifyChain(uint64_t* checked) const override;
  Status VerifyIndexes() const override;
  Status VerifyAll(uint64_t* checked, const Visitor& visit) const override;
  Status GetProjection(const std::string& key, std::string* value) const override;
  Status ScanProjectionsAfter(
      const std::string& prefix, const std::string& after,
      const std::function<bool(const std::string&, const std::string&)>& visit) const override;
  Status GetOnce(const std::string& key, std::string* value) const override;
  Status ScanOnce(const std::string& prefix,
                  const std::function<bool(const std::string& key, const std::string& value)>& visit)
      const override;
  Status ScanProjections(
      const std::string& prefix,
      const std::function<bool(const std::string&, const std::string&)>& visit) const override;
  LogStats Stats() const override;
  Result<std::unique_ptr<EventLog>> Snapshot() const override;

 private:
  using Clock = std::chrono::steady_clock;
  struct Pending {
    AppendRequest req;
    std::vector<EncodedBody> bodies;
    AppendCallback done;
    uint64_t first_seq = 0;
    size_t bytes = 0;  // RequestBytes: what it counts against pending_bytes_max
  };
  struct Sealed {
    rocksdb::WriteBatch batch;
    std::vector<Pending> reqs;
    uint64_t last_seq = 0;
    size_t events = 0;
    size_t bytes = 0;
    std::vector<std::string> started;  // ids whose first event (workflow_seq 1) it holds
  };
  struct Done {
    std::vector<Pending> reqs;
    Status status;
  };

  // Opening (event_log.cc).
  Status PrepareDir(bool* has_current);  // checks, creates, locks and tightens dir_
  Status CheckNotForeign();
  Status ConfigureRocks(bool has_current);
  Status OpenRocks();  // DB::Open with our column families; caller holds db_mu_ (or is Open)
  Status OpenError(const rocksdb::Status& s);
  Status CheckFormat();
  Status ReadTail(uint64_t* seq, Digest* hash);  // last durable event on disk
  Status Reopen();
  void CloseRocks();  // releases the handles and closes db_, if open
  void Shutdown();

  // Appending (event_log.cc).
  void Enqueue(AppendRequest request, AppendCallback done, int64_t wait_ms_max);
  Status Admit(Pending* p, int64_t wait_ms_max);
  Status RefusalLocked() const;                   // caller holds in_mu_
  bool HasRoomLocked(const Pending& p) const;     // caller holds in_mu_
  Status RefuseRestartLocked(const Pending& p) const;  // in_mu_ and db_mu_ (shared)
  void Seal(Pending* p, Sealed* out);             // caller holds in_mu_ and db_mu_ (shared)
  void CompactErasedOnce();                       // at a clean close, after the flush
  Status UpgradeFormat1();                        // at open, under CheckFormat
  Status GetRow(int cf, const std::string& key, std::string* value) const;
  // Rows of `prefix` after the key `after` ("" from the first).
  Status ScanRows(int cf, const std::string& prefix, const std::string& after,
                  const std::function<bool(const std::string&, const std::string&)>& visit) const;
  void CommitterLoop();
  void NotifierLoop();
  void Notify(std::vector<Pending>* reqs, const Status& st);
  void Commit(Sealed* s);
  Status WriteWithRetry(Sealed* s);
  void FailFrom(Sealed* s, const Status& why);
  void Release(const Sealed& s);  // its events no longer count as pending
  void AdvanceMark(uint64_t seq);
  bool ShuttingDown();

  // Reading (event_log_read.cc). Callers of the *Locked ones hold db_mu_ shared with db_ open.
  // Takes db_mu_ shared for a reader; kUnavailable while a failed Reopen left no database.
  Status LockForRead(std::shared_lock<std::shared_mutex>* lock) const;
  Status GetLocked(const rocksdb::ReadOptions& ro, uint64_t seq, Event* out) const;
  Status ScanLocked(const rocksdb::ReadOptions& ro, uint64_t from, uint64_t to,
                    const Visitor& visit) const;
  // Fingerprints of the events (index i: seq i+1) that the index checks compare with.
  struct IndexPrints {
    std::vector<uint64_t> workflow;  // hash of the event's by_workflow key
    std::vector<uint64_t> subjects;  // sum of the hashes of its subjects
    uint64_t subject_count = 0;
  };
  Status CheckWorkflowIndexLocked(const rocksdb::ReadOptions& ro, const IndexPrints& p) const;
  Status CheckSubjectIndexLocked(const rocksdb::ReadOptions& ro, IndexPrints* p) const;
  static void AddPrints(const Event& e, IndexPrints* p);
  // Both index checks through `ro`, naming the first entry that disagrees (a scan of the
  // events, then of each index).
  Status CheckIndexesExactlyLocked(const rocksdb::ReadOptions& ro) const;
  // Order-free fingerprints of the index entries (the multiset of (key, seq) pairs): summed
  // once from the events, once from the indexes, on a thread of its own beside the chain.
  // Equal sums and counts: the indexes agree (a 64-bit hash sum: an accidental match is
  // 2^-64); else CheckIndexesExactlyLocked names the entry.
  struct IndexSums {
    uint64_t workflow = 0, workflow_entries = 0, subjects = 0, subject_entries = 0;
    bool malformed = false;  // an index key of the wrong shape
    bool operator==(const IndexSums&) const = default;
  };
  static void AddEventSums(const Event& e, IndexSums* s);
  Status IndexSumsLocked(const rocksdb::ReadOptions& ro, IndexSums* out) const;
  Status ChainLocked(const rocksdb::ReadOptions& ro, uint64_t durable, uint64_t* checked,
                     const Visitor& each, bool* stopped) const;
  // Visits the events an index (by_workflow or by_subject) lists under `prefix`, from the
  // key `start` on ("": the first).
  Status ScanIndex(int family, const std::string& prefix, const Visitor& visit,
                   const std::string& start = "") const;
  // The same reads through `ro` (a snapshot's): what SnapshotView (event_log_snapshot.cc) uses.
  Status ScanIndexLocked(const rocksdb::ReadOptions& ro, int family, const std::string& prefix,
                         const Visitor& visit, const std::string& start = "") const;
  Status VerifyAllLocked(const rocksdb::ReadOptions& ro, uint64_t durable, uint64_t* checked,
                         const Visitor& visit) const;
  Status GetRowLocked(const rocksdb::ReadOptions& ro, int cf, const std::string& key, std::string* value) const;
  Status ScanRowsLocked(const rocksdb::ReadOptions& ro, int cf, const std::string& prefix, const std::string& after,
                        const std::function<bool(const std::string&, const std::string&)>& visit) const;
  friend class SnapshotView;
  // kCorruption: the log ends at `last` but `must_reach` was durable, as `source` shows.
  Status MissingEvents(uint64_t last, uint64_t must_reach, const std::string& source) const;

  Options options_;
  std::string dir_;
  std::optional<DirLock> lock_;        // held from before DB::Open to after Close
  std::optional<HighWaterMark> mark_;  // committer thread only, once open
  uint64_t mark_at_open_ = 0;          // the mark as read by Open: the log must reach it
  Clock::time_point mark_synced_at_{};
  std::shared_ptr<RocksLogger> logger_ = std::make_shared<RocksLogger>();

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
  mutable std::mutex in_mu_;
  std::condition_variable in_cv_;     // the committer waits here for work
  std::condition_variable space_cv_;  // producers wait here for room (back-pressure)
  std::deque<Sealed> ready_;          // sealed, not yet written; each <= batch_events_max
  size_t pending_events_ = 0;         // in ready_ plus the batch being written
  size_t pending_bytes_ = 0;
  size_t pending_events_peak_ = 0;
  bool stopping_ = false;
  bool committer_wants_ = false;  // the committer is idle, waiting for a batch
  Status broken_;  // set after a fatal write error; every later append fails with it
  // Ids whose first event is sealed and not yet durable (then the by_workflow index has it).
  std::unordered_set<std::string> starting_;

  // This session erased put-once rows (guarded by in_mu_): a clean close compacts them away.
  bool once_erased_ = false;

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

}  // namespace berth::eventlog
