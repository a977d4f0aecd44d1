#include "eventlog/data_dir.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace berth::eventlog {
namespace {

std::string Octal(mode_t m) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%03o", unsigned(m & 07777));
  return buf;
}

// The pid the holder wrote into the lock file, or "" if it has not written one (yet).
std::string LockHolder(int fd) {
  char buf[24] = {};
  ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  std::string pid;
  for (ssize_t i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; ++i) pid += buf[i];
  return pid;
}

}  // namespace

Status ErrnoStatus(int err, const std::string& what, const std::string& path) {
  std::string head = what + " " + path + ": " + std::strerror(err);
  switch (err) {
    case EROFS:
      return Status(Code::kPermission,
                    head + "; berth writes to its data directory even to read it (its lock, "
                           "RocksDB's recovery): remount the file system read-write, or copy "
                           "the data directory to a writable place and point --data-dir there");
    case EACCES:
    case EPERM:
      return Status(Code::kPermission,
                    head + "; berth runs as uid " + std::to_string(::geteuid()) +
                        ": run it as the owner of the data directory, or point --data-dir "
                        "at a directory this user owns");
    case ENOSPC:
    case EDQUOT:
      return Status(Code::kNoSpace, head + "; free space and retry");
    default:
      return IOError(head);
  }
}

Status MakePrivateDirs(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0700) == 0) return Status::Ok();
  int err = errno;
  if (err == EEXIST) {
    struct stat st;
    if (::stat(dir.c_str(), &st) != 0) return ErrnoStatus(errno, "reading", dir);
    if (!S_ISDIR(st.st_mode)) return IOError(dir + " exists and is not a directory");
    return Status::Ok();
  }
  std::string parent = std::filesystem::path(dir).parent_path().string();
  if (err != ENOENT || parent.empty() || parent == dir)
    return ErrnoStatus(err, "creating directory", dir);
  if (Status s = MakePrivateDirs(parent); !s.ok()) return s;
  if (::mkdir(dir.c_str(), 0700) == 0 || errno == EEXIST) return Status::Ok();
  return ErrnoStatus(errno, "creating directory", dir);
}

Status MakePrivate(const std::string& dir) {
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) return ErrnoStatus(errno, "reading the mode of", dir);
  if ((st.st_mode & 077) != 0 && ::chmod(dir.c_str(), st.st_mode & 0700) != 0) {
    if (errno != EPERM) return ErrnoStatus(errno, "making private", dir);
    return Status(Code::kPermission,
                  "directory " + dir + " is open to other users (mode " + Octal(st.st_mode) +
                      ", owner uid " + std::to_string(st.st_uid) +
                      ") and this user (uid " + std::to_string(::geteuid()) +
                      ") may not make it private; it holds the event log, which every user "
                      "could read: have its owner run `chmod 700 " + dir +
                      "`, or point --data-dir at a directory this user owns");
  }
  // Files: best effort. Once the directory is 0700 no other user can reach them anyway;
  // this covers logs written by an older Berth under a loose umask.
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    struct stat fst;
    std::string p = e.path().string();
    if (::lstat(p.c_str(), &fst) == 0 && S_ISREG(fst.st_mode) && (fst.st_mode & 077) != 0)
      (void)::chmod(p.c_str(), fst.st_mode & 0700);
  }
  return Status::Ok();
}

DirLock& DirLock::operator=(DirLock&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.fd_;
    o.fd_ = -1;
  }
  return *this;
}

DirLock::~DirLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the flock
}

Result<DirLock> DirLock::Acquire(const std::string& dir) {
  std::string path = dir + "/" + kLockFileName;
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoStatus(errno, "opening the lock file", path);
  DirLock lock(fd);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    if (err != EWOULDBLOCK) return ErrnoStatus(err, "locking", path);
    std::string pid = LockHolder(fd);
    if (pid == std::to_string(::getpid()))
      return Status(Code::kBusy, "data directory " + dir +
                                     " is already open in this process; close it first");
    return Status(Code::kBusy, "data directory " + dir + " is in use by another berth process" +
                                   (pid.empty() ? "" : " (pid " + pid + ")") +
                                   "; wait for it to finish or stop it, then retry");
  }
  // Informational only (the flock is the lock), so a failure here does not matter.
  std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) == 0) (void)!::pwrite(fd, pid.data(), pid.size(), 0);
  return lock;
}

}  // namespace berth::eventlog
