// The log under damage and hostile surroundings: flipped bytes, tampering, foreign or newer
// directories, a corrupt SST, locks, permissions, WAL damage, missing events, tampered indexes.
#include "eventlog/event_log_fixture.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "eventlog/data_dir.h"

namespace berth::eventlog {
namespace {

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

// The whole-log verification compares order-free sums of the index entries with the
// events' (on a thread beside the chain); when they differ it names the entry. Each kind of
// tampering with an index is caught, and named, by VerifyAll.
class TamperedIndexTest : public EventLogTest {
 protected:
  void SetUp() override {
    auto log = OpenLog();
    for (uint64_t i = 1; i <= 3; ++i)
      ASSERT_TRUE(log->Append(One("a", i, "X", {"s:" + std::to_string(i), "app:shop"})).ok());
    uint64_t checked = 0;
    ASSERT_TRUE(log->VerifyAll(&checked, [](const Event&) { return true; }).ok());
    EXPECT_EQ(checked, 3u);
  }
  Status VerifyAllAfter(const std::function<void(rocksdb::DB*, std::vector<rocksdb::ColumnFamilyHandle*>&)>& edit) {
    WithRawDb(edit);
    auto log = OpenLog();
    if (!log) return Status(Code::kFailed, "no log");
    uint64_t checked = 0;
    return log->VerifyAll(&checked, [](const Event&) { return true; });
  }
};

TEST_F(TamperedIndexTest, AWorkflowEntryPointingAtAnotherEventIsNamed) {
  Status s = VerifyAllAfter([](rocksdb::DB* db, std::vector<rocksdb::ColumnFamilyHandle*>& cf) {
    ASSERT_TRUE(db->Put({}, cf[kCfByWorkflow], WorkflowKey("a", 2), SeqKey(3)).ok());
  });
  EXPECT_EQ(s.code(), Code::kCorruption) << s.ToString();
  EXPECT_NE(s.message().find("workflow index entry for event seq 3 does not match"), std::string::npos) << s.message();
}

TEST_F(TamperedIndexTest, AMissingOrExtraWorkflowEntryIsCounted) {
  Status s = VerifyAllAfter([](rocksdb::DB* db, std::vector<rocksdb::ColumnFamilyHandle*>& cf) {
    ASSERT_TRUE(db->Delete({}, cf[kCfByWorkflow], WorkflowKey("a", 2)).ok());
  });
  EXPECT_EQ(s.code(), Code::kCorruption) << s.ToString();
  EXPECT_NE(s.message().find("workflow index has 2 entries for 3 events"), std::string::npos) << s.message();
}

TEST_F(TamperedIndexTest, ASubjectEntrySwappedForAnotherIsNamed) {
  Status s = VerifyAllAfter([](rocksdb::DB* db, std::vector<rocksdb::ColumnFamilyHandle*>& cf) {
    ASSERT_TRUE(db->Delete({}, cf[kCfBySubject], SubjectKey("s:2", 2)).ok());
    ASSERT_TRUE(db->Put({}, cf[kCfBySubject], SubjectKey("s:9", 2), "").ok());
  });
  EXPECT_EQ(s.code(), Code::kCorruption) << s.ToString();
  EXPECT_NE(s.message().find("subject index entries for event seq 2 are not the event's subjects"), std::string::npos)
      << s.message();
}

TEST_F(TamperedIndexTest, AMalformedSubjectKeyIsNamed) {
  Status s = VerifyAllAfter([](rocksdb::DB* db, std::vector<rocksdb::ColumnFamilyHandle*>& cf) {
    ASSERT_TRUE(db->Put({}, cf[kCfBySubject], "no-separator", "").ok());
  });
  EXPECT_EQ(s.code(), Code::kCorruption) << s.ToString();
  EXPECT_NE(s.message().find("subject index holds a malformed key"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace berth::eventlog
