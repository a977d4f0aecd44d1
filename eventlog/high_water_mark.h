// HighWaterMark: the highest sequence number known durable, kept outside RocksDB in
// `<dir>/berth.mark`, so that a log which lost acknowledged events at its end is reported
// instead of silently shorter. RocksDB's WAL recovery cannot tell a torn last record (a
// crash mid-write: never acknowledged, rightly dropped) from a WAL cut short by damage or by
// a careless copy; the mark can: the log must reach it.
//
// Why a stale mark can only be lower than the truth, never higher: the committer writes M
// only after the WriteBatch ending at seq M returned from a sync=true write, i.e. after the
// WAL holding events 1..M is on stable storage. Whatever the file holds after a crash is one
// of the values written earlier (each slot is written whole or not at all, see below) or
// zero, and durable events never go away, so it is <= the durable seq unless the log lost
// acknowledged events, which is what it is there to detect. A mark that lags (not yet
// fsynced, or never written because the process died) only narrows the check to older
// events; it never raises a false alarm.
//
// File: two 16-byte slots at offsets 0 and 4096 (different pages and sectors, so a torn
// write damages at most the one being written), each `u64 seq, u64 ~seq` little-endian; an
// all-zero slot means 0. Writes alternate slots, so the previous value survives a tear. The
// value is the larger of the valid slots; two damaged slots are kCorruption.
//
// Not thread-safe: the committer thread is its only writer once the log is open.
#pragma once

#include <cstdint>
#include <string>

#include "eventlog/status.h"

namespace berth::eventlog {

inline constexpr const char* kMarkFileName = "berth.mark";

class HighWaterMark {
 public:
  // Opens (creating, mode 0600) the mark file at `path` and reads its value.
  static Result<HighWaterMark> Open(const std::string& path);

  HighWaterMark(HighWaterMark&& o) noexcept;
  HighWaterMark& operator=(HighWaterMark&& o) noexcept;
  HighWaterMark(const HighWaterMark&) = delete;
  HighWaterMark& operator=(const HighWaterMark&) = delete;
  ~HighWaterMark();

  // The value read at Open, then the last value passed to Advance.
  uint64_t value() const { return value_; }
  const std::string& path() const { return path_; }

  // Records `seq` (> value()) with one pwrite into the other slot, without an fsync: the
  // page cache carries it to disk; Sync() forces it. An error leaves the mark lower, which
  // is safe (see above), so callers may ignore it.
  Status Advance(uint64_t seq);
  // fdatasync if anything was advanced since the last Sync.
  Status Sync();
  bool dirty() const { return dirty_; }

 private:
  HighWaterMark(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_ = -1;
  std::string path_;
  uint64_t value_ = 0;
  int slot_ = 0;  // the slot holding value_; Advance writes the other one
  bool dirty_ = false;
};

}  // namespace berth::eventlog
