// EventLogTest: the fixture the eventlog tests share (a scratch directory, appends, and
// raw RocksDB access for damaging a log on purpose).
#pragma once

#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "eventlog/event_codec.h"
#include "eventlog/event_log.h"
#include "eventlog/rocks_errors.h"
#include "tests/scratch_dir.h"

namespace berth::eventlog {

namespace fs = std::filesystem;

class EventLogTest : public ::testing::Test {
 protected:
  std::unique_ptr<EventLog> OpenLog(const Options& o = Options()) {
    auto r = EventLog::Open(dir_.string(), o);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(r).value() : nullptr;
  }

  // Appends events 1..n of workflow "a", one request each (sync=true unless `o` says).
  // Closed without a flush: what it appends stays in the WAL.
  static Options InWal() {
    Options o;
    o.flush_on_close = false;
    return o;
  }
  void AppendMany(int n, const Options& o = InWal()) {
    auto log = OpenLog(o);
    ASSERT_TRUE(log);
    uint64_t first = log->LastSeq();
    for (int i = 1; i <= n; ++i)
      ASSERT_TRUE(log->Append(One("a", first + i, "X", {"s:" + std::to_string(i % 7)})).ok());
  }

  // The largest file in the log directory whose name ends with `ext` (".log", ".sst").
  fs::path Largest(const std::string& ext) {
    fs::path best;
    for (const auto& e : fs::directory_iterator(dir_))
      if (e.path().extension() == ext &&
          (best.empty() || fs::file_size(e.path()) > fs::file_size(best)))
        best = e.path();
    return best;
  }

  static std::string ReadAll(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  static void Overwrite(const fs::path& p, size_t offset, const std::string& bytes) {
    std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(offset);
    f.write(bytes.data(), bytes.size());
  }

  static AppendRequest One(const std::string& wf, uint64_t wf_seq, const std::string& type,
                           std::vector<std::string> subjects = {}) {
    AppendRequest r;
    EventDraft d;
    d.workflow_id = wf;
    d.workflow_seq = wf_seq;
    d.type = type;
    d.payload = "payload-" + type;
    d.actor = Actor::kUser;
    d.subjects = std::move(subjects);
    r.events.push_back(d);
    return r;
  }

  // Runs `edit` on the log's database opened directly with RocksDB, bypassing the log.
  void WithRawDb(
      const std::function<void(rocksdb::DB*, std::vector<rocksdb::ColumnFamilyHandle*>&)>& edit) {
    std::vector<rocksdb::ColumnFamilyDescriptor> descs;
    for (const char* n : kColumnFamilies) descs.emplace_back(n, rocksdb::ColumnFamilyOptions());
    std::vector<rocksdb::ColumnFamilyHandle*> cf;
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::Options(), dir_.string(), descs, &cf, &db).ok());
    edit(db, cf);
    for (auto* h : cf) db->DestroyColumnFamilyHandle(h);
    delete db;
  }

  // Rewrites the stored record of `seq` with `mutate` applied, bypassing the log.
  void RewriteRecord(uint64_t seq, const std::function<void(std::string*)>& mutate) {
    WithRawDb([&](rocksdb::DB* db, std::vector<rocksdb::ColumnFamilyHandle*>& cf) {
      std::string v;
      ASSERT_TRUE(db->Get({}, cf[kCfEvents], SeqKey(seq), &v).ok());
      mutate(&v);
      ASSERT_TRUE(db->Put({}, cf[kCfEvents], SeqKey(seq), v).ok());
    });
  }

  berth::testing::ScratchDir scratch_{"eventlog"};
  const fs::path& dir_ = scratch_.path();
};

}  // namespace berth::eventlog
