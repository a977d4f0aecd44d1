#include "eventlog/log_bench.h"

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <thread>
#include <vector>

#include "eventlog/event_codec.h"
#include "eventlog/event_log.h"

namespace berth::eventlog {
namespace {

using Clock = std::chrono::steady_clock;

EventDraft BenchDraft(unsigned producer, uint64_t i, size_t payload_bytes) {
  EventDraft d;
  d.workflow_id = "bench-" + std::to_string(producer);
  d.workflow_seq = i + 1;
  d.type = "BenchEvent";
  d.payload.assign(payload_bytes, char('a' + (i % 26)));
  d.subjects = {"bench:" + std::to_string(producer % 16)};
  return d;
}

double Percentile(std::vector<double>* v, double p) {
  if (v->empty()) return 0;
  size_t k = std::min(v->size() - 1, size_t(p * double(v->size())));
  std::nth_element(v->begin(), v->begin() + k, v->end());
  return (*v)[k];
}

// The same puts the log makes for one event (record, workflow index, subject index).
void PutEvent(rocksdb::WriteBatch* b, const std::vector<rocksdb::ColumnFamilyHandle*>& cf,
              const EventDraft& d, uint64_t seq, Digest* prev) {
  auto body = EncodeBody(d);
  std::string rec = SealRecord(body.value(), seq, *prev);
  *prev = HashRecord(rec);
  std::string key = SeqKey(seq);
  b->Put(cf[kCfEvents], key, rec);
  b->Put(cf[kCfByWorkflow], WorkflowKey(d.workflow_id, d.workflow_seq), key);
  for (const auto& s : d.subjects) b->Put(cf[kCfBySubject], SubjectKey(s, seq), "");
}

Result<double> RunBaseline(const std::string& dir, const std::vector<size_t>& batch_sizes,
                           const LogBenchOptions& o) {
  rocksdb::Options ro;
  ro.create_if_missing = true;
  ro.create_missing_column_families = true;
  ro.max_background_jobs = 2;
  std::vector<rocksdb::ColumnFamilyDescriptor> descs;
  for (const char* n : kColumnFamilies)
    descs.emplace_back(n, rocksdb::ColumnFamilyOptions(ro));
  std::vector<rocksdb::ColumnFamilyHandle*> cf;
  rocksdb::DB* raw = nullptr;
  auto s = rocksdb::DB::Open(ro, dir, descs, &cf, &raw);
  if (!s.ok()) return IOError("baseline open: " + s.ToString());
  std::unique_ptr<rocksdb::DB> db(raw);
  // Build every batch before timing: the baseline measures RocksDB alone.
  std::vector<rocksdb::WriteBatch> batches(batch_sizes.size());
  Digest prev{};
  uint64_t seq = 1;
  for (size_t b = 0; b < batch_sizes.size(); ++b)
    for (size_t i = 0; i < batch_sizes[b]; ++i, ++seq)
      PutEvent(&batches[b], cf, BenchDraft(unsigned(seq % o.producers), seq, o.payload_bytes), seq,
               &prev);
  rocksdb::WriteOptions wo;
  wo.sync = true;
  auto t0 = Clock::now();
  for (auto& b : batches) {
    s = db->Write(wo, &b);
    if (!s.ok()) return IOError("baseline write: " + s.ToString());
  }
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  for (auto* h : cf) db->DestroyColumnFamilyHandle(h);
  return double(seq - 1) / secs;
}

}  // namespace

Result<LogBenchResult> RunLogBench(const LogBenchOptions& o) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::remove_all(o.dir, ec);
  std::mutex mu;
  std::vector<size_t> batch_sizes;
  Options lo;
  lo.after_batch = [&](size_t n) {
    std::lock_guard<std::mutex> l(mu);
    batch_sizes.push_back(n);
  };
  auto opened = EventLog::Open(o.dir + "/berth", lo);
  if (!opened.ok()) return opened.status();
  auto log = std::move(opened).value();

  unsigned producers = std::max(1u, o.producers);
  uint64_t per = o.events / producers;
  std::vector<std::vector<double>> lat(producers);
  std::vector<Status> errors(producers);
  auto t0 = Clock::now();
  std::vector<std::thread> threads;
  for (unsigned p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      lat[p].reserve(per);
      for (uint64_t i = 0; i < per; ++i) {
        AppendRequest r;
        r.events.push_back(BenchDraft(p, i, o.payload_bytes));
        auto a = Clock::now();
        Status s = log->Append(std::move(r));
        if (!s.ok()) {
          errors[p] = s;
          return;
        }
        lat[p].push_back(std::chrono::duration<double, std::micro>(Clock::now() - a).count());
      }
    });
  }
  for (auto& t : threads) t.join();
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  for (auto& e : errors)
    if (!e.ok()) return e;
  log.reset();

  LogBenchResult r;
  r.events = per * producers;
  r.producers = producers;
  r.events_per_s = double(r.events) / secs;
  std::vector<double> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  r.p50_us = Percentile(&all, 0.50);
  r.p99_us = Percentile(&all, 0.99);
  r.batches = batch_sizes.size();
  r.mean_batch = r.batches ? double(r.events) / double(r.batches) : 0;
  auto base = RunBaseline(o.dir + "/raw", batch_sizes, o);
  if (!base.ok()) return base.status();
  r.baseline_events_per_s = base.value();
  r.ratio = r.events_per_s / r.baseline_events_per_s;
  fs::remove_all(o.dir, ec);
  return r;
}

}  // namespace berth::eventlog
