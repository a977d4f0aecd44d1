// The log directory's own rules, beside RocksDB's files: one process at a time (DirLock on
// `<dir>/berth.lock`), private to its user (0700 directories, 0600 files), and what the OS
// refusing access means (kPermission, never kBusy).
//
// Why a lock of our own: RocksDB's LOCK file reports a held lock, a read-only file system,
// a missing permission and (through its message text) even a corrupted table alike as an
// IOError whose text may contain "lock". Berth decides "busy" from one fact only: flock()
// on berth.lock failed with EWOULDBLOCK.
#pragma once

#include <string>

#include "eventlog/status.h"

namespace berth::eventlog {

inline constexpr const char* kLockFileName = "berth.lock";

// An OS error as a Status: EACCES/EPERM/EROFS -> kPermission (saying what to do), ENOSPC
// -> kNoSpace, anything else -> kIOError. `what` is the action ("creating"), `path` the
// file or directory it was done to.
Status ErrnoStatus(int err, const std::string& what, const std::string& path);

// Creates `dir` and its missing parents with mode 0700 (private from birth, whatever the
// umask). An existing `dir` is left as it is (see MakePrivate).
Status MakePrivateDirs(const std::string& dir);

// Strips the group and other permission bits of `dir` (which must be Berth's own) and, best
// effort, of the regular files directly in it. kPermission if `dir` is open to other users
// and this user may not change that (not its owner).
Status MakePrivate(const std::string& dir);

// An exclusive flock() on `<dir>/berth.lock`, held until destroyed. The file holds the
// holder's pid (informational: shown in the kBusy message). The descriptor is O_CLOEXEC,
// so a child process (e.g. `berth resume --detach`) does not inherit the lock.
class DirLock {
 public:
  // kBusy if another open holds it (another process, or another EventLog in this one);
  // kPermission if the file cannot be opened for writing (read-only mount, not our dir).
  static Result<DirLock> Acquire(const std::string& dir);

  DirLock(DirLock&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  DirLock& operator=(DirLock&& o) noexcept;
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;
  ~DirLock();

 private:
  explicit DirLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace berth::eventlog
