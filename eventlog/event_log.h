// EventLog: Berth's durable, append-only, tamper-evident log on one RocksDB database.
//
// Layout (column families; docs/event-format.md has the byte-level spec):
//   default      unused
//   events       SeqKey(seq)                         -> record (event_codec.h)
//   by_workflow  workflow_id \0 BE64(workflow_seq)   -> SeqKey(seq)
//   by_subject   subject \0 SeqKey(seq)              -> ""
//   projections  caller-defined key                  -> caller-defined value
//   meta         "format" -> "berth-eventlog 1", "created_us" -> decimal,
//                "closed_us" -> decimal (the last clean close that found old WALs)
// Beside RocksDB's files the directory holds berth.lock (the one-process lock, data_dir.h)
// and berth.mark (the durable high-water mark, high_water_mark.h).
//
// Durability: Append returns (or calls back) only after the events, their index entries and
// the projection rows of the same request are in one RocksDB WriteBatch written with
// sync=true. Either all of a request is durable or none of it is. Group commit: any number
// of threads append concurrently; each encodes its events on its own thread, then, under one
// short lock, takes sequence numbers, seals the records (CRC, hash chain) and adds them to
// the open batch. A committer thread writes the oldest batch whenever it is idle, so a write
// carries everything that arrived during the previous fsync. At most
// Options::pending_events_max events (pending_bytes_max bytes) are sealed and not yet
// durable at any time; an append beyond that waits for room (back-pressure).
//
// Recovery: RocksDB replays its write-ahead log with kTolerateCorruptedTailRecords: a torn
// last record (a crash mid-write, never acknowledged) is dropped; damage anywhere else fails
// Open with kCorruption naming the WAL file, instead of RocksDB's default of silently
// dropping everything after it. After each durable batch the highest durable seq is also
// recorded outside the WAL (berth.mark); a log that ends before it lost acknowledged events
// and Open and VerifyChain report kCorruption ("events N+1..M are missing").
//
// Failures: if a write fails with an I/O error (e.g. the disk is full) the log pauses: it
// reports the error through Options::on_write_error, reopens the database (recovering exactly
// what reached the disk) and retries the same batch with backoff, so appends simply wait and
// none is half-written or reordered. After Options::write_retry_ms_max of failures (or at
// once on a corruption, or when the log is closed) the waiting appends fail with the write's
// error and the log is failed: every later append fails with that error; a new Open (a new
// berth process) starts again from what is on disk.
//
// One process at a time: Open fails with kBusy if another process (or another EventLog in
// this one) holds the directory's lock (berth.lock), or if RocksDB's own LOCK is held by a
// process that does not take berth.lock (an older berth, a RocksDB tool), and only then.
//
// Privacy: the log holds every deploy's environment values. Open creates the directory (and
// missing parents) 0700, strips group/other bits from an existing one and from the files in
// it. RocksDB creates files 0644 & ~umask: a process that wants them 0600 sets umask 077 (the
// berth tool does); the 0700 directory keeps other users out either way.
//
// Thread safety: every method may be called from any thread. Callbacks of AppendAsync run
// on the log's notifier thread, in sequence order, except that a request refused before it
// was sealed (malformed, log closing or failed, no room in time) is called back at once on
// the calling thread. Callbacks must be short and must not call Append (post work elsewhere
// instead).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "eventlog/event.h"
#include "eventlog/status.h"

namespace rocksdb {
class Env;
}

namespace berth::eventlog {

struct Options {
  bool create_if_missing = true;
  // sync=true: an append survives power loss once it returns. false only for tests and
  // benchmarks that say so: a crash may then lose the last appends (never corrupt order).
  bool sync = true;
  // On a clean close, flush RocksDB's memtables, so the next Open does not replay the WAL
  // (seconds for a full write buffer: that cost would land on the next start, however
  // little it has to resume). false leaves everything in the WAL (tests of WAL damage).
  bool flush_on_close = true;
  // Upper bound on the events sealed into one WriteBatch.
  size_t batch_events_max = 4096;
  // Back-pressure: at most this many events, and about this many bytes (records, index
  // entries, projections), sealed but not yet durable. A request that would exceed either
  // waits until the committer has written enough; a request alone larger than a bound is
  // admitted when nothing else is pending. Append waits as long as it takes (bounded by
  // write_retry_ms_max: a log that cannot write fails, which ends the wait).
  size_t pending_events_max = 65536;
  size_t pending_bytes_max = size_t(64) << 20;
  // AppendAsync waits for room at most this long, blocking its caller, then calls `done`
  // with kUnavailable on the calling thread (nothing sealed: retry later). It never waits
  // while there is room, so this matters only when writes stall (a full or failing disk).
  int64_t append_wait_ms_max = 500;
  // A failing write is retried (reopen, backoff up to 1 s) for at most this long; then the
  // waiting appends fail with the write's error (kNoSpace, kIOError, kPermission) and the
  // log is failed (see "Failures" above). Default 30 minutes.
  int64_t write_retry_ms_max = int64_t(30) * 60 * 1000;
  // The high-water mark is written (pwrite, no fsync) after every durable batch and
  // fdatasync'ed at most this often by the committer, so the hot path gains no fsync. A
  // mark that has not reached the disk is only lower than the truth (high_water_mark.h).
  // With sync=false the mark is not advanced at all (the events may not be on disk).
  int64_t mark_sync_interval_ms = 1000;
  // The RocksDB Env (files, clock) to use; nullptr: rocksdb::Env::Default(). Tests pass a
  // fault-injecting one. Must outlive the log.
  rocksdb::Env* env = nullptr;
  // Called on the notifier thread after each request becomes durable, with the count of
  // requests made durable by this log so far (1-based). Used by the crash-test fault hook.
  std::function<void(uint64_t requests_durable)> after_durable;
  // Called on the committer thread after each WriteBatch is durable, with its event count.
  // Used by `berth bench log` to replay the same batch sizes against raw RocksDB.
  std::function<void(size_t events)> after_batch;
  // Called on the committer thread each time a write fails and will be retried.
  std::function<void(const Status&)> on_write_error;
};

struct AppendRequest {
  std::vector<EventDraft> events;          // at least one
  std::vector<ProjectionPut> projections;  // written in the same batch
};

struct AppendResult {
  uint64_t first_seq = 0;  // seq of events[0]; the rest follow densely
};

using AppendCallback = std::function<void(const Status&, AppendResult)>;

struct LogStats {
  uint64_t appends = 0;  // requests made durable
  uint64_t events = 0;   // events made durable
  uint64_t batches = 0;  // WriteBatches written
  uint64_t pending_events = 0;       // sealed, not yet durable, now
  uint64_t pending_events_peak = 0;  // the most that were ever pending at once
};

class EventLog {
 public:
  // Opens (creating if allowed) the log in `dir`. Errors: kNotFound (no log and
  // !create_if_missing), kBusy (another process, or another open in this one, holds it),
  // kPermission (the OS refused: a read-only file system, a directory this user may not
  // write, or one open to other users that this user may not make private), kCorruption (a
  // damaged database: the message names the file, e.g. the WAL, and says what to do; a log
  // that ends before its high-water mark; or a directory that holds something other than a
  // Berth log), kUnsupported (written by a newer Berth), kNoSpace, kIOError.
  static Result<std::unique_ptr<EventLog>> Open(const std::string& dir, const Options& options);

  virtual ~EventLog() = default;

  // Appends atomically and durably; blocks until durable or failed (waiting for room first
  // if pending_events_max/pending_bytes_max are reached). kInvalidArgument for a malformed
  // draft (nothing written). kConflict for a second start of a workflow id: an event with
  // workflow_seq 1 for an id that has one already, durable or sealed (nothing written; two
  // histories under one id would share one by_workflow index). kCancelled once the log is
  // closing. After a failure the log
  // refuses every later append with the error that failed it (kCorruption, kNoSpace,
  // kIOError, kPermission). kUnavailable while a failed write's reopen left no database.
  // `time_us == 0` drafts are stamped with wall time.
  virtual Status Append(AppendRequest request, AppendResult* result = nullptr) = 0;
  // Same, without waiting for durability: `done` runs on the notifier thread. It may block
  // the caller while the queue is full, for at most append_wait_ms_max; then `done` gets
  // kUnavailable at once, on the calling thread (the request was not sealed: retry it).
  virtual void AppendAsync(AppendRequest request, AppendCallback done) = 0;

  // Highest durable sequence number (0 when empty).
  virtual uint64_t LastSeq() const = 0;

  // Reads are checked: each record's CRC and stored sequence number are verified on read
  // (kCorruption names the seq). `visit` returns false to stop early.
  using Visitor = std::function<bool(const Event&)>;
  virtual Status Get(uint64_t seq, Event* out) const = 0;
  virtual Status ScanRange(uint64_t from_seq, uint64_t to_seq, const Visitor& visit) const = 0;
  virtual Status ScanWorkflow(const std::string& workflow_id, const Visitor& visit) const = 0;
  // The workflow's events from its `from_workflow_seq`-th on (1: all): a follower's next
  // page costs what it reads, not the workflow's whole history.
  virtual Status ScanWorkflowFrom(const std::string& workflow_id, uint64_t from_workflow_seq,
                                  const Visitor& visit) const = 0;
  virtual Status ScanSubject(const std::string& subject, const Visitor& visit) const = 0;
  // Like ScanRange over everything, additionally checking the hash chain, that the sequence
  // is dense and that it reaches the high-water mark (read at Open) and every seq this log
  // made durable. Reports the first broken seq. Reads one RocksDB snapshot, so appends
  // running meanwhile are simply not seen.
  virtual Status VerifyChain(uint64_t* events_checked) const = 0;
  // Checks that the by_workflow and by_subject indexes agree with the events, all read
  // through one snapshot (safe while appends run).
  virtual Status VerifyIndexes() const = 0;
  // Both, in one pass over the events (through one snapshot), handing each checked event to
  // `visit` as it goes; the index checks then scan each index once, comparing it with
  // fingerprints taken in that pass, without a lookup per entry. Linear in the log. The
  // default runs the three one after another.
  virtual Status VerifyAll(uint64_t* events_checked, const Visitor& visit) const {
    if (Status s = VerifyChain(events_checked); !s.ok()) return s;
    if (Status s = VerifyIndexes(); !s.ok()) return s;
    return ScanRange(1, UINT64_MAX, visit);
  }

  virtual Status GetProjection(const std::string& key, std::string* value) const = 0;
  // The put-once keyspace (ProjectionPut::put_once): a row, and the rows of a prefix.
  virtual Status GetOnce(const std::string& key, std::string* value) const = 0;
  virtual Status ScanOnce(const std::string& prefix,
                          const std::function<bool(const std::string& key, const std::string& value)>& visit)
      const = 0;
  virtual Status ScanProjections(
      const std::string& prefix,
      const std::function<bool(const std::string& key, const std::string& value)>& visit)
      const = 0;
  // Rows of `prefix` whose key sorts after `after` (a full key; "" for the first), in key
  // order: a page of a listing without reading the rows before it.
  virtual Status ScanProjectionsAfter(
      const std::string& prefix, const std::string& after,
      const std::function<bool(const std::string& key, const std::string& value)>& visit)
      const {
    return ScanProjections(prefix, [&](const std::string& k, const std::string& v) {
      return k <= after || visit(k, v);
    });
  }

  virtual LogStats Stats() const = 0;

  // A read-only view of the log as it is now: every read through it (events, indexes,
  // projections, verification) sees one RocksDB snapshot, so checking the projections
  // against the events through it agrees with itself while appends go on. Appends through
  // it are refused (kUnsupported); LastSeq is the last durable seq when it was taken. It
  // must not outlive the log, and a reopen after a write error waits until it is gone:
  // keep it only for one verification. kUnsupported where there is none (the default).
  virtual Result<std::unique_ptr<EventLog>> Snapshot() const {
    return Status(Code::kUnsupported, "this log has no snapshots");
  }
};

}  // namespace berth::eventlog
