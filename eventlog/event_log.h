// EventLog: Berth's durable, append-only, tamper-evident log on one RocksDB database.
//
// Layout (column families; docs/event-format.md has the byte-level spec):
//   default      unused
//   events       SeqKey(seq)                         -> record (event_codec.h)
//   by_workflow  workflow_id \0 BE64(workflow_seq)   -> SeqKey(seq)
//   by_subject   subject \0 SeqKey(seq)              -> ""
//   projections  caller-defined key                  -> caller-defined value
//   meta         "format" -> "berth-eventlog 1", "created_us" -> decimal
//
// Durability: Append returns (or calls back) only after the events, their index entries and
// the projection rows of the same request are in one RocksDB WriteBatch written with
// sync=true. Either all of a request is durable or none of it is. Group commit: any number
// of threads append concurrently; each encodes its events on its own thread, then, under one
// short lock, takes sequence numbers, seals the records (CRC, hash chain) and adds them to
// the open batch. A committer thread writes the oldest batch whenever it is idle, so a write
// carries everything that arrived during the previous fsync.
//
// Failures: if a write fails with an I/O error (e.g. the disk is full) the log pauses: it
// reports the error through Options::on_write_error, reopens the database (recovering exactly
// what reached the disk) and retries the same batch with backoff until it lands, so appends
// simply wait and none is half-written or reordered. Only a corruption error (or closing the
// log) fails the waiting appends; after a corruption every later append fails too.
//
// One process at a time: Open fails with kBusy if another process holds the directory.
//
// Thread safety: every method may be called from any thread. Callbacks of AppendAsync run
// on the log's notifier thread, in sequence order; they must be short and must not call
// Append (post work elsewhere instead).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "eventlog/event.h"
#include "eventlog/status.h"

namespace berth::eventlog {

struct Options {
  bool create_if_missing = true;
  // sync=true: an append survives power loss once it returns. false only for tests and
  // benchmarks that say so: a crash may then lose the last appends (never corrupt order).
  bool sync = true;
  // Upper bound on the events sealed into one WriteBatch.
  size_t batch_events_max = 4096;
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
};

class EventLog {
 public:
  // Opens (creating if allowed) the log in `dir`. Errors: kBusy (another process has it),
  // kCorruption (damaged database, or a directory that holds something other than a Berth
  // log: the message says which), kUnsupported (written by a newer Berth), kIOError.
  static Result<std::unique_ptr<EventLog>> Open(const std::string& dir, const Options& options);

  virtual ~EventLog() = default;

  // Appends atomically and durably; blocks until durable or failed. kInvalidArgument for a
  // malformed draft (nothing written). `time_us == 0` drafts are stamped with wall time.
  virtual Status Append(AppendRequest request, AppendResult* result = nullptr) = 0;
  // Same, without blocking: `done` runs on the notifier thread.
  virtual void AppendAsync(AppendRequest request, AppendCallback done) = 0;

  // Highest durable sequence number (0 when empty).
  virtual uint64_t LastSeq() const = 0;

  // Reads are checked: each record's CRC and stored sequence number are verified on read
  // (kCorruption names the seq). `visit` returns false to stop early.
  using Visitor = std::function<bool(const Event&)>;
  virtual Status Get(uint64_t seq, Event* out) const = 0;
  virtual Status ScanRange(uint64_t from_seq, uint64_t to_seq, const Visitor& visit) const = 0;
  virtual Status ScanWorkflow(const std::string& workflow_id, const Visitor& visit) const = 0;
  virtual Status ScanSubject(const std::string& subject, const Visitor& visit) const = 0;
  // Like ScanRange over everything, additionally checking the hash chain and that the
  // sequence is dense. Reports the first broken seq.
  virtual Status VerifyChain(uint64_t* events_checked) const = 0;
  // Checks that the by_workflow and by_subject indexes agree with the events.
  virtual Status VerifyIndexes() const = 0;

  virtual Status GetProjection(const std::string& key, std::string* value) const = 0;
  virtual Status ScanProjections(
      const std::string& prefix,
      const std::function<bool(const std::string& key, const std::string& value)>& visit)
      const = 0;

  virtual LogStats Stats() const = 0;
};

}  // namespace berth::eventlog
