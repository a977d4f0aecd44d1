// The log when its disk fails: a full disk under the WAL (a bounded queue, bounded retries).
#include "eventlog/event_log_fixture.h"

#include <rocksdb/env.h>
#include <rocksdb/file_system.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace berth::eventlog {
namespace {

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

}  // namespace
}  // namespace berth::eventlog
