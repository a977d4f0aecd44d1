// `berth bench log`: durable events/s through EventLog::Append with concurrent producers,
// against its baseline measured in the same run: raw RocksDB WriteBatch + sync=true of the
// very same key/value pairs (event records and index entries) in the very same batch sizes
// the log's group commit produced.
#pragma once

#include <cstdint>
#include <string>

#include "eventlog/status.h"

namespace berth::eventlog {

struct LogBenchOptions {
  std::string dir;            // scratch directory; two databases are made below it
  uint64_t events = 200000;   // total events appended
  unsigned producers = 256;   // concurrent threads, each appending one event per call
  size_t payload_bytes = 100;
};

struct LogBenchResult {
  uint64_t events = 0;
  unsigned producers = 0;
  double events_per_s = 0;
  double baseline_events_per_s = 0;
  double ratio = 0;  // events_per_s / baseline_events_per_s
  double p50_us = 0;  // Append latency
  double p99_us = 0;
  double mean_batch = 0;  // events per WriteBatch
  uint64_t batches = 0;
};

Result<LogBenchResult> RunLogBench(const LogBenchOptions& options);

}  // namespace berth::eventlog
