#include "eventlog/event_log.h"

#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <filesystem>

#include "tests/scratch_dir.h"
#include <fstream>
#include <thread>

#include "eventlog/event_codec.h"

namespace berth::eventlog {
namespace {

namespace fs = std::filesystem;

class EventLogTest : public ::testing::Test {
 protected:
  std::unique_ptr<EventLog> OpenLog() {
    auto r = EventLog::Open(dir_.string(), Options());
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(r).value() : nullptr;
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

TEST_F(EventLogTest, AppendedEventsReadBackWithEveryField) {
  auto log = OpenLog();
  AppendResult r;
  ASSERT_TRUE(log->Append(One("wf-1", 1, "Started", {"container:a"}), &r).ok());
  EXPECT_EQ(r.first_seq, 1u);
  Event e;
  ASSERT_TRUE(log->Get(1, &e).ok());
  EXPECT_EQ(e.seq, 1u);
  EXPECT_EQ(e.workflow_id, "wf-1");
  EXPECT_EQ(e.workflow_seq, 1u);
  EXPECT_EQ(e.type, "Started");
  EXPECT_EQ(e.payload, "payload-Started");
  EXPECT_EQ(e.actor, Actor::kUser);
  EXPECT_EQ(e.subjects, std::vector<std::string>{"container:a"});
  EXPECT_GT(e.time_us, 0);
  EXPECT_EQ(e.prev_hash, Digest{});
  EXPECT_EQ(log->LastSeq(), 1u);
}

TEST_F(EventLogTest, ConcurrentProducersGetADenseVerifiedChain) {
  auto log = OpenLog();
  std::vector<std::thread> ts;
  for (int p = 0; p < 8; ++p)
    ts.emplace_back([&, p] {
      for (int i = 1; i <= 200; ++i)
        ASSERT_TRUE(log->Append(One("wf-" + std::to_string(p), i, "Step")).ok());
    });
  for (auto& t : ts) t.join();
  uint64_t checked = 0;
  ASSERT_TRUE(log->VerifyChain(&checked).ok());
  EXPECT_EQ(checked, 1600u);
  EXPECT_TRUE(log->VerifyIndexes().ok());
  EXPECT_LT(log->Stats().batches, 1600u) << "group commit should batch concurrent appends";
}

TEST_F(EventLogTest, ProjectionsAreWrittenWithTheirEvents) {
  auto log = OpenLog();
  auto req = One("wf-1", 1, "Started");
  req.projections.push_back({"wf/wf-1", "running"});
  ASSERT_TRUE(log->Append(std::move(req)).ok());
  std::string v;
  ASSERT_TRUE(log->GetProjection("wf/wf-1", &v).ok());
  EXPECT_EQ(v, "running");
  auto del = One("wf-1", 2, "Done");
  del.projections.push_back({"wf/wf-1", "", true});
  ASSERT_TRUE(log->Append(std::move(del)).ok());
  EXPECT_EQ(log->GetProjection("wf/wf-1", &v).code(), Code::kNotFound);
}

TEST_F(EventLogTest, ScansByWorkflowAndBySubjectReturnOnlyTheirEvents) {
  auto log = OpenLog();
  ASSERT_TRUE(log->Append(One("a", 1, "X", {"container:c1"})).ok());
  ASSERT_TRUE(log->Append(One("b", 1, "Y", {"container:c2"})).ok());
  ASSERT_TRUE(log->Append(One("a", 2, "Z", {"container:c2", "host:h"})).ok());
  std::vector<uint64_t> seqs;
  ASSERT_TRUE(log->ScanWorkflow("a", [&](const Event& e) {
    seqs.push_back(e.seq);
    return true;
  }).ok());
  EXPECT_EQ(seqs, (std::vector<uint64_t>{1, 3}));
  seqs.clear();
  ASSERT_TRUE(log->ScanSubject("container:c2", [&](const Event& e) {
    seqs.push_back(e.seq);
    return true;
  }).ok());
  EXPECT_EQ(seqs, (std::vector<uint64_t>{2, 3}));
}

TEST_F(EventLogTest, ReopenContinuesTheChain) {
  {
    auto log = OpenLog();
    ASSERT_TRUE(log->Append(One("a", 1, "X")).ok());
  }
  auto log = OpenLog();
  AppendResult r;
  ASSERT_TRUE(log->Append(One("a", 2, "Y"), &r).ok());
  EXPECT_EQ(r.first_seq, 2u);
  EXPECT_TRUE(log->VerifyChain(nullptr).ok());
}

TEST_F(EventLogTest, SecondOpenOfTheSameDirectoryIsBusy) {
  auto log = OpenLog();
  auto second = EventLog::Open(dir_.string(), Options());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), Code::kBusy) << second.status().ToString();
}

TEST_F(EventLogTest, FlippedByteIsACorruptionNamingTheSeq) {
  {
    auto log = OpenLog();
    ASSERT_TRUE(log->Append(One("a", 1, "X")).ok());
    ASSERT_TRUE(log->Append(One("a", 2, "Y")).ok());
    ASSERT_TRUE(log->Append(One("a", 3, "Z")).ok());
  }
  RewriteRecord(2, [](std::string* v) { (*v)[v->size() - 1] ^= 1; });
  auto log = OpenLog();
  Event e;
  Status s = log->Get(2, &e);
  EXPECT_EQ(s.code(), Code::kCorruption);
  EXPECT_NE(s.message().find("seq 2"), std::string::npos) << s.message();
  EXPECT_NE(log->VerifyChain(nullptr).message().find("seq 2"), std::string::npos);
}

TEST_F(EventLogTest, ResealedTamperingBreaksTheHashChainAtTheNextSeq) {
  {
    auto log = OpenLog();
    for (int i = 1; i <= 3; ++i) ASSERT_TRUE(log->Append(One("a", i, "X")).ok());
  }
  // A forger rewrites event 2 with a valid CRC; only the chain can tell.
  RewriteRecord(2, [](std::string* v) {
    Event e;
    ASSERT_TRUE(DecodeRecord(2, *v, &e).ok());
    e.payload = "forged";
    *v = SealRecord(EncodeBody(e).value(), 2, e.prev_hash);
  });
  auto log = OpenLog();
  Status s = log->VerifyChain(nullptr);
  EXPECT_EQ(s.code(), Code::kCorruption);
  EXPECT_NE(s.message().find("seq 3"), std::string::npos) << s.message();
}

TEST_F(EventLogTest, ForeignDirectoryIsRefused) {
  fs::create_directories(dir_);
  std::ofstream(dir_ / "notes.txt") << "hello";
  auto r = EventLog::Open(dir_.string(), Options());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("holds no Berth log"), std::string::npos);
}

TEST_F(EventLogTest, ForeignRocksDbIsRefused) {
  {
    rocksdb::Options ro;
    ro.create_if_missing = true;
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(ro, dir_.string(), &db).ok());
    delete db;
  }
  auto r = EventLog::Open(dir_.string(), Options());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kCorruption);
  EXPECT_NE(r.status().message().find("not a Berth log"), std::string::npos);
}

TEST_F(EventLogTest, NewerFormatIsUnsupported) {
  { auto log = OpenLog(); }
  WithRawDb([](rocksdb::DB* db, std::vector<rocksdb::ColumnFamilyHandle*>& cf) {
    ASSERT_TRUE(db->Put({}, cf[kCfMeta], "format", "berth-eventlog 99").ok());
  });
  auto r = EventLog::Open(dir_.string(), Options());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnsupported);
}

TEST_F(EventLogTest, MalformedDraftIsRejectedAndNothingIsWritten) {
  auto log = OpenLog();
  EXPECT_EQ(log->Append(One("", 1, "X")).code(), Code::kInvalidArgument);
  // A NUL would make index keys ambiguous.
  EXPECT_EQ(log->Append(One(std::string("a\0b", 3), 1, "X")).code(), Code::kInvalidArgument);
  EXPECT_EQ(log->Append(One("a", 1, "X", {std::string("c\0d", 3)})).code(), Code::kInvalidArgument);
  EXPECT_EQ(log->LastSeq(), 0u);
}

}  // namespace
}  // namespace berth::eventlog
