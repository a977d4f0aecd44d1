#include "eventlog/rocks_errors.h"

#include <unistd.h>

#include <cstdio>

namespace berth::eventlog {

Status FromRocks(const rocksdb::Status& s, const std::string& where) {
  if (s.ok()) return Status::Ok();
  if (s.IsNoSpace() || s.subcode() == rocksdb::Status::kNoSpace)
    return Status(Code::kNoSpace, where + ": disk full (" + s.ToString() + "); free space and retry");
  if (s.IsCorruption()) return Corruption(where + ": " + s.ToString());
  std::string m = s.ToString();
  if (s.IsIOError()) {
    if (m.find("Read-only file system") != std::string::npos)
      return Status(Code::kPermission,
                    where + ": " + m + "; berth writes to its data directory even to read it: "
                                       "remount the file system read-write, or copy the data "
                                       "directory to a writable place and point --data-dir there");
    if (m.find("Permission denied") != std::string::npos ||
        m.find("Operation not permitted") != std::string::npos)
      return Status(Code::kPermission,
                    where + ": " + m + "; berth runs as uid " + std::to_string(::geteuid()) +
                        ": run it as the owner of the data directory, or point --data-dir at "
                        "a directory this user owns");
  }
  return IOError(where + ": " + m);
}

void RocksLogger::Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) {
  if (level < rocksdb::InfoLogLevel::WARN_LEVEL) return;
  char buf[1024];
  std::vsnprintf(buf, sizeof buf, format, ap);
  // db_impl_open.cc's LogReporter: "[file:line] <wal>: dropping <n> bytes; <status>".
  std::string line(buf);
  size_t drop = line.find(": dropping ");
  size_t semi = line.find(" bytes; ", drop == std::string::npos ? 0 : drop);
  if (drop == std::string::npos || semi == std::string::npos) return;
  size_t start = line.rfind("] ", drop);
  start = start == std::string::npos ? 0 : start + 2;
  std::lock_guard<std::mutex> l(mu_);
  if (!first_.file.empty()) return;
  first_.file = line.substr(start, drop - start);
  first_.bytes = line.substr(drop + 11, semi - drop - 11);
  first_.reason = line.substr(semi + 8);
}

WalDamage RocksLogger::FirstWalDamage() const {
  std::lock_guard<std::mutex> l(mu_);
  return first_;
}

void RocksLogger::Clear() {
  std::lock_guard<std::mutex> l(mu_);
  first_ = WalDamage{};
}

}  // namespace berth::eventlog
