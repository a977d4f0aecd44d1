#include "eventlog/event_log.h"

#include <gtest/gtest.h>
#include <rocksdb/table_properties.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/file_system.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <thread>

#include "eventlog/data_dir.h"
#include "eventlog/event_codec.h"
#include "eventlog/rocks_errors.h"
#include "tests/scratch_dir.h"

namespace berth::eventlog {
namespace {

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

// Two histories under one workflow id would share one by_workflow index (issue 7, race 1).
TEST_F(EventLogTest, ASecondStartOfAWorkflowIdIsRefusedAndNothingIsWritten) {
  auto log = OpenLog();
  ASSERT_TRUE(log->Append(One("wf", 1, "Started")).ok());
  ASSERT_TRUE(log->Append(One("wf", 2, "Step")).ok());
  Status again = log->Append(One("wf", 1, "Started"));
  EXPECT_EQ(again.code(), Code::kConflict) << again.ToString();
  EXPECT_NE(again.message().find("event seq 1"), std::string::npos) << again.message();
  AppendRequest twice = One("other", 1, "Started");
  twice.events.push_back(twice.events[0]);
  EXPECT_EQ(log->Append(std::move(twice)).code(), Code::kConflict);
  EXPECT_EQ(log->LastSeq(), 2u);
  log.reset();
  log = OpenLog();  // the refusal comes from the index on disk, not from memory
  EXPECT_EQ(log->Append(One("wf", 1, "Started")).code(), Code::kConflict);
  EXPECT_TRUE(log->Append(One("other", 1, "Started")).ok());
  EXPECT_TRUE(log->VerifyIndexes().ok());
}

// Starts racing from many threads: the one sealed first wins, even before it is durable.
TEST_F(EventLogTest, ConcurrentStartsOfOneIdLetExactlyOneThrough) {
  auto log = OpenLog();
  for (int round = 0; round < 50; ++round) {
    std::atomic<int> ok{0}, conflict{0};
    std::vector<std::thread> ts;
    for (int t = 0; t < 4; ++t)
      ts.emplace_back([&] {
        Status s = log->Append(One("race-" + std::to_string(round), 1, "Started"));
        (s.ok() ? ok : conflict)++;
        EXPECT_TRUE(s.ok() || s.code() == Code::kConflict) << s.ToString();
      });
    for (auto& t : ts) t.join();
    EXPECT_EQ(ok.load(), 1) << "round " << round;
    EXPECT_EQ(conflict.load(), 3) << "round " << round;
  }
  EXPECT_EQ(log->LastSeq(), 50u);
  EXPECT_TRUE(log->VerifyIndexes().ok());
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

// Every finished workflow erases its "open" row: with plain Deletes, 50,000 finished
// workflows left 50,000 tombstones that each resume's scan of the open rows walked past.
// Put-once rows live in their own keyspace, erased with SingleDelete: nothing is left once
// closed, whether the put and its erase were in one memtable or not.
uint64_t Deletions(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, uint64_t* entries) {
  rocksdb::TablePropertiesCollection tables;
  EXPECT_TRUE(db->GetPropertiesOfAllTables(cf, &tables).ok());
  uint64_t deletions = 0;
  *entries = 0;
  for (const auto& [file, props] : tables) {
    deletions += props->num_deletions;
    *entries += props->num_entries;
  }
  return deletions;
}

TEST_F(EventLogTest, ARowPutOnceAndErasedOnceLeavesNoTombstoneAfterAFlush) {
  {
    auto log = OpenLog();
    for (int i = 1; i <= 300; ++i) {
      std::string wf = "wf-" + std::to_string(i);
      auto open = One(wf, 1, "Started");
      open.projections.push_back({"open/" + wf, "", false, /*put_once=*/true});
      ASSERT_TRUE(log->Append(std::move(open)).ok());
      auto done = One(wf, 2, "Done");
      done.projections.push_back({"open/" + wf, "", true, /*put_once=*/true});
      if (i % 3 == 0) done.projections.push_back({"plain/" + wf, "", true});  // a plain erase
      ASSERT_TRUE(log->Append(std::move(done)).ok());
    }
    int open_rows = 0;
    ASSERT_TRUE(log->ScanOnce("open/", [&](const std::string&, const std::string&) {
      ++open_rows;
      return true;
    }).ok());
    EXPECT_EQ(open_rows, 0);
  }  // closed with a flush
  WithRawDb([&](rocksdb::DB* db, std::vector<rocksdb::ColumnFamilyHandle*>& cf) {
    uint64_t entries = 0;
    EXPECT_EQ(Deletions(db, cf[kCfProjections], &entries), 100u) << "only the plain erases leave tombstones";
    EXPECT_EQ(entries, 100u);
    EXPECT_EQ(Deletions(db, cf[kCfOnce], &entries), 0u);
    EXPECT_EQ(entries, 0u);
  });
}

// The bench's case: rows put by one session and erased by the next (resumed workflows)
// left their SingleDeletes in newer files than their puts: 24,000 walked per resume.
TEST_F(EventLogTest, RowsPutOnceInOneSessionAndErasedInTheNextLeaveNothingAfterTheClose) {
  {
    auto log = OpenLog();
    for (int i = 1; i <= 200; ++i) {
      auto open = One("wf-" + std::to_string(i), 1, "Started");
      open.projections.push_back({"open/wf-" + std::to_string(i), "", false, /*put_once=*/true});
      ASSERT_TRUE(log->Append(std::move(open)).ok());
    }
  }
  {
    auto log = OpenLog();
    for (int i = 1; i <= 150; ++i) {
      auto done = One("wf-" + std::to_string(i), 2, "Done");
      done.projections.push_back({"open/wf-" + std::to_string(i), "", true, /*put_once=*/true});
      ASSERT_TRUE(log->Append(std::move(done)).ok());
    }
  }
  WithRawDb([&](rocksdb::DB* db, std::vector<rocksdb::ColumnFamilyHandle*>& cf) {
    uint64_t entries = 0;
    EXPECT_EQ(Deletions(db, cf[kCfOnce], &entries), 0u);
    EXPECT_EQ(entries, 50u) << "the 50 rows still open, nothing else";
  });
  auto log = OpenLog();
  int open_rows = 0;
  ASSERT_TRUE(log->ScanOnce("open/", [&](const std::string& k, const std::string&) {
    EXPECT_GE(k, "open/wf-151");
    ++open_rows;
    return true;
  }).ok());
  EXPECT_EQ(open_rows, 50);
}

// A format 1 log kept the open rows among the projections: opening it moves them.
TEST_F(EventLogTest, AFormat1LogIsUpgradedWithItsOpenRowsMoved) {
  {
    auto log = OpenLog();
    auto a = One("wf-1", 1, "Started");
    a.projections.push_back({"wf/wf-1", "summary"});
    ASSERT_TRUE(log->Append(std::move(a)).ok());
  }
  WithRawDb([&](rocksdb::DB* db, std::vector<rocksdb::ColumnFamilyHandle*>& cf) {  // as format 1 left it
    ASSERT_TRUE(db->Put({}, cf[kCfProjections], "open/wf-1", "").ok());
    ASSERT_TRUE(db->Put({}, cf[kCfMeta], "format", "berth-eventlog 1").ok());
    ASSERT_TRUE(db->DropColumnFamily(cf[kCfOnce]).ok());
  });
  auto log = OpenLog();
  std::string v;
  EXPECT_TRUE(log->GetOnce("open/wf-1", &v).ok());
  EXPECT_EQ(log->GetProjection("open/wf-1", &v).code(), Code::kNotFound);
  ASSERT_TRUE(log->GetProjection("wf/wf-1", &v).ok());
  EXPECT_EQ(v, "summary");
  uint64_t n = 0;
  EXPECT_TRUE(log->VerifyChain(&n).ok());
  EXPECT_EQ(n, 1u);
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
  ASSERT_TRUE(log->ScanWorkflowFrom("a", 2, [&](const Event& e) {
    seqs.push_back(e.seq);
    return true;
  }).ok());
  EXPECT_EQ(seqs, (std::vector<uint64_t>{3}));
  seqs.clear();
  ASSERT_TRUE(log->ScanWorkflowFrom("a", 3, [&](const Event& e) {
    seqs.push_back(e.seq);
    return true;
  }).ok());
  EXPECT_TRUE(seqs.empty());
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

// Each open starts a WAL; 15 read-only opens used to leave 15 empty WAL files behind, each
// listed and replayed by every later open (a year of `berth ps` would be a year of files).
TEST_F(EventLogTest, OpensThatAppendNothingDoNotPileUpWalFiles) {
  {
    auto log = OpenLog();
    ASSERT_TRUE(log->Append(One("a", 1, "X")).ok());
  }
  for (int i = 0; i < 15; ++i) {
    auto log = OpenLog();
    ASSERT_TRUE(log);
  }
  int wals = 0;
  for (const auto& e : fs::directory_iterator(dir_)) wals += e.path().extension() == ".log";
  EXPECT_LE(wals, 2);
  auto log = OpenLog();
  EXPECT_EQ(log->LastSeq(), 1u);
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


// --- Issue 7, fix 1: busy is decided by our own lock, not by "lock" in RocksDB's text. ---

TEST_F(EventLogTest, CorruptSstFileIsCorruptionNotBusy) {
  AppendMany(300);
  WithRawDb([](rocksdb::DB* db, std::vector<rocksdb::ColumnFamilyHandle*>& cf) {
    for (auto* h : cf) ASSERT_TRUE(db->Flush(rocksdb::FlushOptions(), h).ok());
  });
  fs::path sst = Largest(".sst");
  ASSERT_FALSE(sst.empty());
  // Garbage over the index and meta blocks (the last 60 bytes, the footer, stay): RocksDB
  // says "block checksum mismatch", which contains "lock".
  size_t size = fs::file_size(sst);
  Overwrite(sst, size / 2, std::string(size - 60 - size / 2, 'X'));
  auto r = EventLog::Open(dir_.string(), Options());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kCorruption) << r.status().ToString();
  EXPECT_NE(r.status().message().find(sst.filename().string()), std::string::npos)
      << r.status().message();
}

TEST_F(EventLogTest, SecondOpenInOneProcessIsBusyByTheDirectoryLock) {
  auto log = OpenLog();
  auto second = EventLog::Open(dir_.string(), Options());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), Code::kBusy);
  EXPECT_NE(second.status().message().find("already open in this process"), std::string::npos)
      << second.status().message();
}

TEST_F(EventLogTest, LockFileHeldElsewhereIsBusyNamingTheHolder) {
  { auto log = OpenLog(); }
  // Another process's open file description: flock conflicts across them.
  int fd = ::open((dir_ / kLockFileName).c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);
  ASSERT_EQ(::ftruncate(fd, 0), 0);
  ASSERT_EQ(::pwrite(fd, "4242\n", 5, 0), 5);
  auto r = EventLog::Open(dir_.string(), Options());
  ::close(fd);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kBusy);
  EXPECT_NE(r.status().message().find("in use by another berth process (pid 4242)"),
            std::string::npos)
      << r.status().message();
  EXPECT_TRUE(EventLog::Open(dir_.string(), Options()).ok()) << "released with the descriptor";
}

// --- Fix 2: the OS refusing access is kPermission, never kBusy. ---

TEST_F(EventLogTest, ReadOnlyAndDeniedErrorsArePermissionNotBusy) {
  EXPECT_EQ(ErrnoStatus(EROFS, "opening", "/x/berth.lock").code(), Code::kPermission);
  EXPECT_EQ(ErrnoStatus(EACCES, "opening", "/x/berth.lock").code(), Code::kPermission);
  EXPECT_EQ(ErrnoStatus(EPERM, "opening", "/x/berth.lock").code(), Code::kPermission);
  // RocksDB's own words for a LOCK file it may not open: "lock" is in them.
  Status s = FromRocks(
      rocksdb::Status::IOError("while open a file for lock: /x/LOCK", "Permission denied"), "opening");
  EXPECT_EQ(s.code(), Code::kPermission) << s.ToString();
  s = FromRocks(rocksdb::Status::IOError("While open a file for appending: /x/000009.log",
                                         "Read-only file system"),
                "opening");
  EXPECT_EQ(s.code(), Code::kPermission) << s.ToString();
  EXPECT_NE(s.message().find("read-write"), std::string::npos) << s.message();
}

TEST_F(EventLogTest, LogDirectoryThatIsAFileIsAnErrorNotBusy) {
  fs::create_directories(dir_.parent_path());
  std::ofstream(dir_.string()) << "x";
  auto r = EventLog::Open((dir_ / "log").string(), Options());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().code(), Code::kBusy) << r.status().ToString();
  fs::remove(dir_);
}

// --- Fix 3: the log is private to its user. ---

mode_t ModeOf(const fs::path& p) {
  struct stat st;
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return st.st_mode & 07777;
}

TEST_F(EventLogTest, NewLogDirectoryAndItsParentsArePrivate) {
  fs::path nested = dir_ / "data" / "log";
  auto r = EventLog::Open(nested.string(), Options());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(ModeOf(dir_ / "data"), 0700u);
  EXPECT_EQ(ModeOf(nested), 0700u);
  EXPECT_EQ(ModeOf(nested / kLockFileName), 0600u);
  EXPECT_EQ(ModeOf(nested / "berth.mark"), 0600u);
}

TEST_F(EventLogTest, ExistingLogDirectoryAndFilesAreMadePrivate) {
  AppendMany(3);  // as an older Berth under umask 022 left it
  fs::permissions(dir_, fs::perms(0755));
  for (const auto& e : fs::directory_iterator(dir_)) fs::permissions(e.path(), fs::perms(0644));
  auto log = OpenLog();
  EXPECT_EQ(ModeOf(dir_), 0700u);
  // Including what RocksDB's recovery rewrote (CURRENT). Files it makes later are
  // 0644 & ~umask: the berth tool runs with umask 077.
  for (const auto& e : fs::directory_iterator(dir_)) {
    EXPECT_EQ(ModeOf(e.path()) & 077, 0u) << e.path();
  }
}

// --- Fix 4: damage in the WAL is refused; a log shorter than its high-water mark is reported. ---

TEST_F(EventLogTest, FlippedByteInTheWalIsCorruptionNamingTheLogFile) {
  AppendMany(2000);  // closed without a flush: all of it is only in the WAL
  fs::path wal = Largest(".log");
  ASSERT_FALSE(wal.empty());
  ASSERT_GT(fs::file_size(wal), 200000u) << "the events should be in the WAL";
  std::string bytes = ReadAll(wal);
  size_t mid = bytes.size() / 2;
  Overwrite(wal, mid, std::string(1, char(bytes[mid] ^ 1)));
  auto r = EventLog::Open(dir_.string(), Options());
  ASSERT_FALSE(r.ok()) << "a point-in-time recovery would open with ~1000 events";
  EXPECT_EQ(r.status().code(), Code::kCorruption) << r.status().ToString();
  EXPECT_NE(r.status().message().find(wal.string()), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("do not delete"), std::string::npos);
  bytes[mid] ^= 1;
  EXPECT_EQ(ReadAll(wal).size(), bytes.size()) << "the refused open left the WAL as it was";
}

TEST_F(EventLogTest, TornWalTailLosesOnlyTheTornRecord) {
  AppendMany(50);
  // The last append is not acknowledged as durable (sync=false: the mark is not advanced),
  // as a crash in the middle of its write would leave it; then its record is torn.
  Options nosync = InWal();
  nosync.sync = false;
  AppendMany(1, nosync);
  fs::path wal = Largest(".log");
  ASSERT_FALSE(wal.empty());
  fs::resize_file(wal, fs::file_size(wal) - 5);
  auto log = OpenLog();
  ASSERT_TRUE(log);
  EXPECT_EQ(log->LastSeq(), 50u);
  uint64_t checked = 0;
  EXPECT_TRUE(log->VerifyChain(&checked).ok());
  EXPECT_EQ(checked, 50u);
  AppendResult r;
  ASSERT_TRUE(log->Append(One("a", 51, "X"), &r).ok());
  EXPECT_EQ(r.first_seq, 51u);
}

TEST_F(EventLogTest, WalTruncatedBelowTheHighWaterMarkIsReportedAsMissingEvents) {
  AppendMany(2000);
  fs::path wal = Largest(".log");
  ASSERT_FALSE(wal.empty());
  fs::resize_file(wal, fs::file_size(wal) / 2);  // RocksDB alone takes this for a torn tail
  auto r = EventLog::Open(dir_.string(), Options());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kCorruption);
  EXPECT_NE(r.status().message().find("..2000 are missing: the log was truncated"),
            std::string::npos)
      << r.status().message();
}

TEST_F(EventLogTest, DeletedLastEventsBelowTheHighWaterMarkAreReportedAsMissing) {
  AppendMany(10);
  WithRawDb([](rocksdb::DB* db, std::vector<rocksdb::ColumnFamilyHandle*>& cf) {
    for (uint64_t seq = 8; seq <= 10; ++seq)
      ASSERT_TRUE(db->Delete(rocksdb::WriteOptions(), cf[kCfEvents], SeqKey(seq)).ok());
  });
  auto r = EventLog::Open(dir_.string(), Options());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kCorruption);
  EXPECT_NE(r.status().message().find("events 8..10 are missing"), std::string::npos)
      << r.status().message();
}

// --- Fix 5: bounded pending queue and a bounded write retry. ---

// A file system whose WAL appends fail with ENOSPC while `full` is set; everything else
// (MANIFEST, SST) works, so the log's reopen succeeds and only its writes keep failing.
class WalFaultFs final : public rocksdb::FileSystemWrapper {
 public:
  WalFaultFs() : FileSystemWrapper(rocksdb::FileSystem::Default()) {}
  const char* Name() const override { return "WalFaultFs"; }
  rocksdb::IOStatus NewWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                    std::unique_ptr<rocksdb::FSWritableFile>* r,
                                    rocksdb::IODebugContext* dbg) override {
    auto s = target()->NewWritableFile(f, o, r, dbg);
    if (s.ok() && f.size() > 4 && f.compare(f.size() - 4, 4, ".log") == 0)
      *r = std::make_unique<File>(std::move(*r), &full);
    return s;
  }
  std::atomic<bool> full{false};

 private:
  class File final : public rocksdb::FSWritableFileOwnerWrapper {
   public:
    File(std::unique_ptr<rocksdb::FSWritableFile>&& f, std::atomic<bool>* full)
        : FSWritableFileOwnerWrapper(std::move(f)), full_(full) {}
    rocksdb::IOStatus Append(const rocksdb::Slice& d, const rocksdb::IOOptions& o,
                             rocksdb::IODebugContext* dbg) override {
      if (*full_) return rocksdb::IOStatus::NoSpace("injected: disk full");
      return target()->Append(d, o, dbg);
    }
    rocksdb::IOStatus Append(const rocksdb::Slice& d, const rocksdb::IOOptions& o,
                             const rocksdb::DataVerificationInfo& v,
                             rocksdb::IODebugContext* dbg) override {
      if (*full_) return rocksdb::IOStatus::NoSpace("injected: disk full");
      return target()->Append(d, o, v, dbg);
    }

   private:
    std::atomic<bool>* full_;
  };
};

class FaultyLogTest : public EventLogTest {
 protected:
  Options FaultyOptions() {
    Options o;
    o.env = env_.get();
    return o;
  }
  // Waits (no deadline: ctest's timeout is the guard) until `cond` holds.
  static void WaitFor(const std::function<bool()>& cond) {
    while (!cond()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  std::shared_ptr<WalFaultFs> fs_ = std::make_shared<WalFaultFs>();
  std::unique_ptr<rocksdb::Env> env_ = rocksdb::NewCompositeEnv(fs_);
};

TEST_F(FaultyLogTest, FullPendingQueueMakesAppendsWaitAndAsyncAppendsGiveUp) {
  Options o = FaultyOptions();
  o.pending_events_max = 4;
  o.append_wait_ms_max = 1;
  auto log = OpenLog(o);
  ASSERT_TRUE(log);
  fs_->full = true;
  std::vector<std::thread> producers;
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i)
    producers.emplace_back([&, i] {
      if (log->Append(One("p" + std::to_string(i), 1, "X")).ok()) ++ok;
    });
  WaitFor([&] { return log->Stats().pending_events == 4; });  // the rest wait for room
  Status async_status;
  bool called = false;
  log->AppendAsync(One("async", 1, "X"), [&](const Status& s, AppendResult) {
    async_status = s;
    called = true;
  });
  ASSERT_TRUE(called) << "a refused AppendAsync calls back on the calling thread";
  EXPECT_EQ(async_status.code(), Code::kUnavailable) << async_status.ToString();
  EXPECT_NE(async_status.message().find("queue is full"), std::string::npos);
  EXPECT_EQ(log->Stats().events, 0u);
  fs_->full = false;  // space returns: everything drains
  for (auto& t : producers) t.join();
  EXPECT_EQ(ok.load(), 8);
  EXPECT_LE(log->Stats().pending_events_peak, 4u);
  uint64_t checked = 0;
  EXPECT_TRUE(log->VerifyChain(&checked).ok());
  EXPECT_EQ(checked, 8u);
}

TEST_F(FaultyLogTest, WriteRetryLimitFailsTheAppendThenEveryLaterOne) {
  Options o = FaultyOptions();
  o.write_retry_ms_max = 100;
  std::atomic<int> retries{0};
  o.on_write_error = [&](const Status&) { ++retries; };
  {
    auto log = OpenLog(o);
    ASSERT_TRUE(log);
    ASSERT_TRUE(log->Append(One("a", 1, "X")).ok());
    fs_->full = true;
    Status s = log->Append(One("a", 2, "X"));
    EXPECT_EQ(s.code(), Code::kNoSpace) << s.ToString();
    EXPECT_NE(s.message().find("kept failing"), std::string::npos) << s.message();
    EXPECT_GE(retries.load(), 1);
    fs_->full = false;  // even with space back, this log stays failed
    Status later = log->Append(One("a", 2, "X"));
    EXPECT_EQ(later.code(), Code::kFailed) << later.ToString();
    EXPECT_NE(later.message().find("stopped taking appends"), std::string::npos);
  }
  auto log = OpenLog(o);  // a new open starts again from what is on disk
  ASSERT_TRUE(log);
  EXPECT_EQ(log->LastSeq(), 1u);
  AppendResult r;
  ASSERT_TRUE(log->Append(One("a", 2, "X"), &r).ok());
  EXPECT_EQ(r.first_seq, 2u);
  EXPECT_TRUE(log->VerifyChain(nullptr).ok());
}

// --- Fix 6: verification reads one snapshot, so it passes while appends run. ---

TEST_F(EventLogTest, VerifyWhileAppendingPassesEveryTime) {
  // sync=false: with an fsync per batch, new events become visible only once per fsync and a
  // short check would usually fit between two; here they become visible all the time.
  Options o;
  o.sync = false;
  auto log = OpenLog(o);
  constexpr int kRounds = 25;
  std::atomic<int> rounds{0};
  std::vector<std::thread> appenders;
  for (int p = 0; p < 4; ++p)
    appenders.emplace_back([&, p] {
      for (uint64_t i = 1; rounds < kRounds && i <= 2500; ++i)
        ASSERT_TRUE(log->Append(One("w" + std::to_string(p), i, "X", {"s:1", "s:2"})).ok());
    });
  while (log->LastSeq() < 100) std::this_thread::yield();
  for (int round = 0; round < kRounds; ++round, ++rounds) {
    Status v = log->VerifyIndexes();
    EXPECT_TRUE(v.ok()) << "round " << round << ": " << v.ToString();
    Status c = log->VerifyChain(nullptr);
    EXPECT_TRUE(c.ok()) << "round " << round << ": " << c.ToString();
  }
  for (auto& t : appenders) t.join();
}

}  // namespace
}  // namespace berth::eventlog

namespace berth::eventlog {
namespace {

// A snapshot sees the log as it was when taken, events and projections alike, while
// appends go on; it refuses appends of its own.
TEST_F(EventLogTest, ASnapshotKeepsSeeingTheLogAsItWas) {
  auto log = OpenLog();
  AppendRequest first = One("a", 1, "X", {"s:1"});
  first.projections.push_back({"wf/a", "one"});
  ASSERT_TRUE(log->Append(std::move(first)).ok());
  auto snap = log->Snapshot();
  ASSERT_TRUE(snap.ok()) << snap.status().ToString();
  AppendRequest second = One("a", 2, "Y", {"s:1"});
  second.projections.push_back({"wf/a", "two"});
  second.projections.push_back({"open/a", "", false, /*put_once=*/true});
  ASSERT_TRUE(log->Append(std::move(second)).ok());
  const EventLog& view = **snap;
  EXPECT_EQ(view.LastSeq(), 1u);
  std::string v;
  ASSERT_TRUE(view.GetProjection("wf/a", &v).ok());
  EXPECT_EQ(v, "one");
  EXPECT_EQ(view.GetOnce("open/a", &v).code(), Code::kNotFound);
  int n = 0;
  ASSERT_TRUE(view.ScanWorkflow("a", [&](const Event&) { return ++n, true; }).ok());
  EXPECT_EQ(n, 1);
  uint64_t checked = 0;
  ASSERT_TRUE(view.VerifyAll(&checked, [](const Event&) { return true; }).ok());
  EXPECT_EQ(checked, 1u);
  EXPECT_EQ((*snap)->Append(One("a", 3, "Z")).code(), Code::kUnsupported);
  ASSERT_TRUE(log->GetProjection("wf/a", &v).ok());
  EXPECT_EQ(v, "two") << "the log itself moved on";
  snap->reset();
  ASSERT_TRUE(log->VerifyAll(&checked, [](const Event&) { return true; }).ok());
  EXPECT_EQ(checked, 2u);
}

}  // namespace
}  // namespace berth::eventlog
