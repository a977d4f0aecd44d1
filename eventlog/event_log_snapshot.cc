// SnapshotView: EventLog::Snapshot() of a RocksEventLog. Every read goes through the same
// RocksDB snapshot; the view holds the log's read lock (db_mu_ shared) for its whole life,
// so the database it reads cannot be reopened under it.
#include <rocksdb/snapshot.h>

#include "eventlog/rocks_event_log.h"

namespace berth::eventlog {

class SnapshotView final : public EventLog {
 public:
  SnapshotView(const RocksEventLog* log, std::shared_lock<std::shared_mutex> lock, uint64_t durable)
      : log_(log), lock_(std::move(lock)), durable_(durable), snap_(log->db_.get()) {
    ro_.snapshot = snap_.snapshot();
  }

  Status Append(AppendRequest, AppendResult*) override { return ReadOnly(); }
  void AppendAsync(AppendRequest, AppendCallback done) override { done(ReadOnly(), AppendResult{}); }
  uint64_t LastSeq() const override { return durable_; }
  Status Get(uint64_t seq, Event* out) const override { return log_->GetLocked(ro_, seq, out); }
  Status ScanRange(uint64_t from, uint64_t to, const Visitor& visit) const override {
    return log_->ScanLocked(ro_, from, to, visit);
  }
  Status ScanWorkflow(const std::string& wf, const Visitor& visit) const override {
    return log_->ScanIndexLocked(ro_, kCfByWorkflow, wf + '\0', visit);
  }
  Status ScanWorkflowFrom(const std::string& wf, uint64_t from, const Visitor& visit) const override {
    return log_->ScanIndexLocked(ro_, kCfByWorkflow, wf + '\0', visit, WorkflowKey(wf, std::max<uint64_t>(from, 1)));
  }
  Status ScanSubject(const std::string& subject, const Visitor& visit) const override {
    return log_->ScanIndexLocked(ro_, kCfBySubject, subject + '\0', visit);
  }
  Status VerifyChain(uint64_t* checked) const override {
    bool stopped = false;
    return log_->ChainLocked(ro_, durable_, checked, nullptr, &stopped);
  }
  Status VerifyIndexes() const override {
    uint64_t n = 0;
    return log_->VerifyAllLocked(ro_, durable_, &n, [](const Event&) { return true; });
  }
  Status VerifyAll(uint64_t* checked, const Visitor& visit) const override {
    return log_->VerifyAllLocked(ro_, durable_, checked, visit);
  }
  Status GetProjection(const std::string& key, std::string* value) const override {
    return log_->GetRowLocked(ro_, kCfProjections, key, value);
  }
  Status GetOnce(const std::string& key, std::string* value) const override {
    return log_->GetRowLocked(ro_, kCfOnce, key, value);
  }
  Status ScanOnce(const std::string& prefix,
                  const std::function<bool(const std::string&, const std::string&)>& visit) const override {
    return log_->ScanRowsLocked(ro_, kCfOnce, prefix, "", visit);
  }
  Status ScanProjections(const std::string& prefix,
                         const std::function<bool(const std::string&, const std::string&)>& visit) const override {
    return log_->ScanRowsLocked(ro_, kCfProjections, prefix, "", visit);
  }
  Status ScanProjectionsAfter(const std::string& prefix, const std::string& after,
                              const std::function<bool(const std::string&, const std::string&)>& visit) const override {
    return log_->ScanRowsLocked(ro_, kCfProjections, prefix, after, visit);
  }
  LogStats Stats() const override { return log_->Stats(); }

 private:
  static Status ReadOnly() { return Status(Code::kUnsupported, "a snapshot of the log is read-only"); }

  const RocksEventLog* log_;
  std::shared_lock<std::shared_mutex> lock_;  // before snap_: the database outlives the snapshot
  uint64_t durable_;
  rocksdb::ManagedSnapshot snap_;
  rocksdb::ReadOptions ro_;
};

Result<std::unique_ptr<EventLog>> RocksEventLog::Snapshot() const {
  std::shared_lock<std::shared_mutex> lock;
  if (Status l = LockForRead(&lock); !l.ok()) return l;
  uint64_t durable = durable_seq_.load();  // before the snapshot, which then holds at least this
  return std::unique_ptr<EventLog>(std::make_unique<SnapshotView>(this, std::move(lock), durable));
}

}  // namespace berth::eventlog
