// What RocksDB's errors mean for Berth: its Status mapped to ours by what the caller does
// next, and the one fact RocksDB 7.8 writes only to its info log: which write-ahead log file
// a recovery found damaged (the Status itself says just "Corruption: checksum mismatch").
#pragma once

#include <rocksdb/env.h>
#include <rocksdb/status.h>

#include <mutex>
#include <string>

#include "eventlog/status.h"

namespace berth::eventlog {

// kNoSpace (full disk), kCorruption, kPermission (the OS refused: "Permission denied",
// "Read-only file system", "Operation not permitted" in RocksDB's IOError text, which is
// the only place RocksDB 7.8 keeps the errno), else kIOError. `where` prefixes the message.
Status FromRocks(const rocksdb::Status& s, const std::string& where);

// Where RocksDB's recovery reported a damaged WAL record.
struct WalDamage {
  std::string file;    // e.g. /x/log/000004.log
  std::string bytes;   // how many bytes it would have dropped there
  std::string reason;  // e.g. "Corruption: checksum mismatch"
};

// RocksDB's info logger for the log. RocksDB's own LOG file is of no use to Berth users,
// and on a full disk Debian's assert-enabled RocksDB aborts on its second failed write to
// it, so nothing is written anywhere; warnings are read only for the first WAL damage
// report ("<file>: dropping N bytes; <reason>"). Thread-safe.
class RocksLogger final : public rocksdb::Logger {
 public:
  RocksLogger() : rocksdb::Logger(rocksdb::InfoLogLevel::WARN_LEVEL) {}
  using rocksdb::Logger::Logv;
  void Logv(const char*, va_list) override {}
  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override;

  // The first damage reported since the last Clear(); empty `file` if none.
  WalDamage FirstWalDamage() const;
  void Clear();

 private:
  mutable std::mutex mu_;
  WalDamage first_;
};

}  // namespace berth::eventlog
