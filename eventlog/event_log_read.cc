// RocksEventLog's reads and verification. Every read is checked (event_codec.h: DecodeRecord);
// the verifications read through one RocksDB snapshot each, so appends running meanwhile
// are either wholly visible to them or not at all.
#include <rocksdb/snapshot.h>

#include <algorithm>
#include <functional>
#include <string_view>
#include <thread>
#include <vector>

#include "eventlog/rocks_event_log.h"

namespace berth::eventlog {

Status RocksEventLog::LockForRead(std::shared_lock<std::shared_mutex>* lock) const {
  *lock = std::shared_lock<std::shared_mutex>(db_mu_);
  if (db_) return Status::Ok();
  return Status(Code::kUnavailable, "the log is reopening after a write error; retry");
}

Status RocksEventLog::Get(uint64_t seq, Event* out) const {
  std::shared_lock<std::shared_mutex> lock;
  if (Status l = LockForRead(&lock); !l.ok()) return l;
  return GetLocked(rocksdb::ReadOptions(), seq, out);
}

Status RocksEventLog::GetLocked(const rocksdb::ReadOptions& ro, uint64_t seq, Event* out) const {
  std::string v;
  auto s = db_->Get(ro, cf_[kCfEvents], SeqKey(seq), &v);
  if (s.IsNotFound()) return NotFound("no event with seq " + std::to_string(seq));
  if (!s.ok()) return FromRocks(s, "reading event " + std::to_string(seq));
  return DecodeRecord(seq, v, out);
}

Status RocksEventLog::ScanRange(uint64_t from, uint64_t to, const Visitor& visit) const {
  std::shared_lock<std::shared_mutex> lock;
  if (Status l = LockForRead(&lock); !l.ok()) return l;
  return ScanLocked(rocksdb::ReadOptions(), from, to, visit);
}

Status RocksEventLog::ScanLocked(const rocksdb::ReadOptions& base, uint64_t from, uint64_t to,
                                 const Visitor& visit) const {
  rocksdb::ReadOptions ro = base;
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

Status RocksEventLog::ScanIndex(int family, const std::string& prefix, const Visitor& visit,
                                const std::string& start) const {
  std::shared_lock<std::shared_mutex> lock;
  if (Status l = LockForRead(&lock); !l.ok()) return l;
  // One snapshot for the index and the events it points at: an entry seen is never followed
  // to an event that is not there yet.
  rocksdb::ManagedSnapshot snap(db_.get());
  rocksdb::ReadOptions ro;
  ro.snapshot = snap.snapshot();
  return ScanIndexLocked(ro, family, prefix, visit, start);
}

Status RocksEventLog::ScanIndexLocked(const rocksdb::ReadOptions& ro, int family, const std::string& prefix,
                                      const Visitor& visit, const std::string& start) const {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, cf_[family]));
  Event e;
  for (it->Seek(start.empty() ? prefix : start); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    // by_workflow stores the seq as its value; by_subject ends its key with it.
    uint64_t seq = family == kCfByWorkflow
                       ? SeqFromKey(it->value().ToStringView())
                       : SeqFromKey(it->key().ToStringView().substr(prefix.size()));
    if (Status s = GetLocked(ro, seq, &e); !s.ok()) return s;
    if (!visit(e)) return Status::Ok();
  }
  return FromRocks(it->status(), "scanning the index of '" + prefix.substr(0, prefix.size() - 1) + "'");
}

Status RocksEventLog::ScanWorkflow(const std::string& wf, const Visitor& visit) const {
  return ScanIndex(kCfByWorkflow, wf + '\0', visit);
}

Status RocksEventLog::ScanWorkflowFrom(const std::string& wf, uint64_t from_workflow_seq,
                                       const Visitor& visit) const {
  return ScanIndex(kCfByWorkflow, wf + '\0', visit, WorkflowKey(wf, std::max<uint64_t>(from_workflow_seq, 1)));
}

Status RocksEventLog::ScanSubject(const std::string& subject, const Visitor& visit) const {
  return ScanIndex(kCfBySubject, subject + '\0', visit);
}

// The one pass both verifications make: density, record checks, the hash chain, then the
// chain's reach (the mark, what this process made durable). `each` (may be empty) sees every
// checked event; returning false stops the pass early, successfully (*stopped = true).
Status RocksEventLog::ChainLocked(const rocksdb::ReadOptions& base, uint64_t durable,
                                  uint64_t* checked, const Visitor& each, bool* stopped) const {
  rocksdb::ReadOptions ro = base;
  ro.fill_cache = false;
  ro.readahead_size = 2 << 20;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, cf_[kCfEvents]));
  Digest prev{};
  uint64_t expect = 1;
  Event e;
  *stopped = false;
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
    if (each && !each(e)) {
      *stopped = true;
      return Status::Ok();
    }
  }
  if (Status s = FromRocks(it->status(), "verifying the chain"); !s.ok()) return s;
  uint64_t last = expect - 1;
  if (checked) *checked = last;
  if (last < mark_at_open_)
    return MissingEvents(last, mark_at_open_,
                         "the high-water mark " + mark_->path() + " said so when it was opened");
  if (last < durable)
    return MissingEvents(last, durable, "this process made them durable");
  return Status::Ok();
}

Status RocksEventLog::VerifyChain(uint64_t* checked) const {
  std::shared_lock<std::shared_mutex> lock;
  if (Status l = LockForRead(&lock); !l.ok()) return l;
  // Read before the snapshot, so the snapshot holds at least this much: the chain must reach
  // both what this process made durable and the mark Open found.
  uint64_t durable = durable_seq_.load();
  rocksdb::ManagedSnapshot snap(db_.get());
  rocksdb::ReadOptions ro;
  ro.snapshot = snap.snapshot();
  bool stopped = false;
  return ChainLocked(ro, durable, checked, nullptr, &stopped);
}

namespace {
uint64_t Print(std::string_view bytes) { return std::hash<std::string_view>()(bytes); }

// splitmix64's finaliser over a hash and a number: the term of one index entry in a sum.
uint64_t Mix(uint64_t h, uint64_t n) {
  uint64_t z = h + n * 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// An index key "<name>\0<8-byte number>": the hash of the name and the number; false when
// the key has another shape.
bool SplitKey(std::string_view key, uint64_t* name_hash, uint64_t* number) {
  if (key.size() < 9 || key[key.size() - 9] != '\0') return false;
  *name_hash = Print(key.substr(0, key.size() - 9));
  *number = SeqFromKey(key.substr(key.size() - 8));
  return true;
}
}  // namespace

// by_workflow: "<workflow>\0<workflow seq>" -> seq. by_subject: "<subject>\0<seq>".
void RocksEventLog::AddEventSums(const Event& e, IndexSums* s) {
  s->workflow += Mix(Mix(Print(e.workflow_id), e.workflow_seq), e.seq);
  ++s->workflow_entries;
  for (const auto& subject : e.subjects) s->subjects += Mix(Print(subject), e.seq);
  s->subject_entries += e.subjects.size();
}

Status RocksEventLog::IndexSumsLocked(const rocksdb::ReadOptions& base, IndexSums* out) const {
  rocksdb::ReadOptions ro = base;
  ro.fill_cache = false;
  ro.readahead_size = 2 << 20;
  uint64_t name = 0, number = 0;
  {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, cf_[kCfByWorkflow]));
    for (it->SeekToFirst(); it->Valid(); it->Next(), ++out->workflow_entries) {
      if (!SplitKey(it->key().ToStringView(), &name, &number)) {
        out->malformed = true;
        continue;
      }
      out->workflow += Mix(Mix(name, number), SeqFromKey(it->value().ToStringView()));
    }
    if (Status s = FromRocks(it->status(), "scanning the workflow index"); !s.ok()) return s;
  }
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, cf_[kCfBySubject]));
  for (it->SeekToFirst(); it->Valid(); it->Next(), ++out->subject_entries) {
    if (!SplitKey(it->key().ToStringView(), &name, &number)) {
      out->malformed = true;
      continue;
    }
    out->subjects += Mix(name, number);
  }
  return FromRocks(it->status(), "scanning the subject index");
}

void RocksEventLog::AddPrints(const Event& e, IndexPrints* p) {
  p->workflow.push_back(Print(WorkflowKey(e.workflow_id, e.workflow_seq)));
  uint64_t sum = 0;
  for (const auto& subject : e.subjects) sum += Print(subject);
  p->subjects.push_back(sum);
  p->subject_count += e.subjects.size();
}

Status RocksEventLog::VerifyIndexes() const {
  std::shared_lock<std::shared_mutex> lock;
  if (Status l = LockForRead(&lock); !l.ok()) return l;
  // Counting events, then index entries, across appends would report false corruption
  // (more entries than events): everything is read through one snapshot.
  rocksdb::ManagedSnapshot snap(db_.get());
  rocksdb::ReadOptions ro;
  ro.snapshot = snap.snapshot();
  return CheckIndexesExactlyLocked(ro);
}

Status RocksEventLog::CheckIndexesExactlyLocked(const rocksdb::ReadOptions& ro) const {
  IndexPrints prints;
  uint64_t expect = 1;
  Status s = ScanLocked(ro, 1, UINT64_MAX, [&](const Event& e) {
    if (e.seq != expect) return false;  // not dense: VerifyChain names the gap
    ++expect;
    AddPrints(e, &prints);
    return true;
  });
  if (!s.ok()) return s;
  if (Status w = CheckWorkflowIndexLocked(ro, prints); !w.ok()) return w;
  return CheckSubjectIndexLocked(ro, &prints);
}

Status RocksEventLog::VerifyAll(uint64_t* checked, const Visitor& visit) const {
  std::shared_lock<std::shared_mutex> lock;
  if (Status l = LockForRead(&lock); !l.ok()) return l;
  uint64_t durable = durable_seq_.load();  // before the snapshot: see VerifyChain
  rocksdb::ManagedSnapshot snap(db_.get());
  rocksdb::ReadOptions ro;
  ro.snapshot = snap.snapshot();
  return VerifyAllLocked(ro, durable, checked, visit);
}

Status RocksEventLog::VerifyAllLocked(const rocksdb::ReadOptions& ro, uint64_t durable, uint64_t* checked,
                                      const Visitor& visit) const {
  IndexSums from_events, from_indexes;
  Status index_scan;
  std::thread indexes([&] { index_scan = IndexSumsLocked(ro, &from_indexes); });
  bool stopped = false;
  Status s = ChainLocked(ro, durable, checked, [&](const Event& e) {
    AddEventSums(e, &from_events);
    return visit(e);
  }, &stopped);
  indexes.join();
  if (!s.ok() || stopped) return s;
  if (!index_scan.ok()) return index_scan;
  if (from_events == from_indexes) return Status::Ok();
  if (Status exact = CheckIndexesExactlyLocked(ro); !exact.ok()) return exact;
  return Corruption("the indexes disagree with the events (their fingerprints differ), yet no entry "
                    "could be named; run `berth replay --verify` again");
}

Status RocksEventLog::CheckWorkflowIndexLocked(const rocksdb::ReadOptions& base,
                                               const IndexPrints& p) const {
  rocksdb::ReadOptions ro = base;
  ro.fill_cache = false;
  uint64_t entries = 0, events = p.workflow.size();
  std::vector<bool> seen(events, false);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, cf_[kCfByWorkflow]));
  for (it->SeekToFirst(); it->Valid(); it->Next(), ++entries) {
    uint64_t seq = SeqFromKey(it->value().ToStringView());
    if (seq == 0 || seq > events)
      return Corruption("workflow index points at missing event " + std::to_string(seq));
    if (seen[seq - 1] || Print(it->key().ToStringView()) != p.workflow[seq - 1])
      return Corruption("workflow index entry for event seq " + std::to_string(seq) +
                        " does not match the event");
    seen[seq - 1] = true;
  }
  if (Status s = FromRocks(it->status(), "scanning the workflow index"); !s.ok()) return s;
  if (entries != events)
    return Corruption("workflow index has " + std::to_string(entries) + " entries for " +
                      std::to_string(events) + " events");
  return Status::Ok();
}

Status RocksEventLog::CheckSubjectIndexLocked(const rocksdb::ReadOptions& base,
                                              IndexPrints* p) const {
  rocksdb::ReadOptions ro = base;
  ro.fill_cache = false;
  uint64_t entries = 0, events = p->subjects.size();
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, cf_[kCfBySubject]));
  for (it->SeekToFirst(); it->Valid(); it->Next(), ++entries) {
    std::string subject;
    uint64_t seq = 0;
    if (!ParseSubjectKey(it->key().ToStringView(), &subject, &seq))
      return Corruption("subject index holds a malformed key");
    if (seq == 0 || seq > events)
      return Corruption("subject index points at missing event " + std::to_string(seq));
    p->subjects[seq - 1] -= Print(subject);  // every event's sum ends at 0
  }
  if (Status s = FromRocks(it->status(), "scanning the subject index"); !s.ok()) return s;
  for (uint64_t i = 0; i < events; ++i)
    if (p->subjects[i] != 0)
      return Corruption("subject index entries for event seq " + std::to_string(i + 1) +
                        " are not the event's subjects");
  if (entries != p->subject_count)
    return Corruption("subject index has " + std::to_string(entries) + " entries for " +
                      std::to_string(p->subject_count) + " event subjects");
  return Status::Ok();
}

Status RocksEventLog::GetRow(int cf, const std::string& key, std::string* value) const {
  std::shared_lock<std::shared_mutex> lock;
  if (Status l = LockForRead(&lock); !l.ok()) return l;
  return GetRowLocked(rocksdb::ReadOptions(), cf, key, value);
}

Status RocksEventLog::GetRowLocked(const rocksdb::ReadOptions& ro, int cf, const std::string& key,
                                   std::string* value) const {
  auto s = db_->Get(ro, cf_[cf], key, value);
  if (s.IsNotFound()) return NotFound("no projection " + key);
  return FromRocks(s, "reading projection " + key);
}

Status RocksEventLog::ScanRows(int cf, const std::string& prefix, const std::string& after,
                               const std::function<bool(const std::string&, const std::string&)>& visit) const {
  std::shared_lock<std::shared_mutex> lock;
  if (Status l = LockForRead(&lock); !l.ok()) return l;
  return ScanRowsLocked(rocksdb::ReadOptions(), cf, prefix, after, visit);
}

Status RocksEventLog::ScanRowsLocked(const rocksdb::ReadOptions& ro, int cf, const std::string& prefix,
                                     const std::string& after,
                                     const std::function<bool(const std::string&, const std::string&)>& visit) const {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, cf_[cf]));
  it->Seek(after.empty() || after < prefix ? prefix : after);
  if (it->Valid() && !after.empty() && it->key().ToStringView() == after) it->Next();
  for (; it->Valid() && it->key().starts_with(prefix); it->Next())
    if (!visit(it->key().ToString(), it->value().ToString())) break;
  return FromRocks(it->status(), "scanning projections");
}

Status RocksEventLog::GetProjection(const std::string& key, std::string* value) const {
  return GetRow(kCfProjections, key, value);
}

Status RocksEventLog::ScanProjections(
    const std::string& prefix,
    const std::function<bool(const std::string&, const std::string&)>& visit) const {
  return ScanRows(kCfProjections, prefix, "", visit);
}

Status RocksEventLog::GetOnce(const std::string& key, std::string* value) const {
  return GetRow(kCfOnce, key, value);
}

Status RocksEventLog::ScanOnce(const std::string& prefix,
                               const std::function<bool(const std::string&, const std::string&)>& visit) const {
  return ScanRows(kCfOnce, prefix, "", visit);
}

Status RocksEventLog::ScanProjectionsAfter(
    const std::string& prefix, const std::string& after,
    const std::function<bool(const std::string&, const std::string&)>& visit) const {
  return ScanRows(kCfProjections, prefix, after, visit);
}

}  // namespace berth::eventlog
