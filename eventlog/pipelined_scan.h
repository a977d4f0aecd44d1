// ScanPipelined: EventLog::ScanRange with the visitor on a second thread.
//
// Reading a log back is two jobs of about equal cost: RocksDB iteration plus record checks
// (this thread), and whatever the caller does with each event (fold, decide). Running them
// on two threads, events handed over in order in recycled chunks, nearly halves the time
// of recovery, `berth replay --verify` and `berth bench engine`'s replay on two cores.
// Same contract as ScanRange: in seq order, `visit` returning false stops the scan, and a
// read error names the seq. `visit` runs on one other thread, never concurrently.
#pragma once

#include <cstdint>
#include <functional>

#include "eventlog/event_log.h"

namespace berth::eventlog {

Status ScanPipelined(const EventLog& log, uint64_t from_seq, uint64_t to_seq,
                     const EventLog::Visitor& visit);

// The same for any reader: `produce` calls its visitor for each event (e.g. VerifyAll),
// `visit` sees them on the other thread.
Status RunPipelined(const std::function<Status(const EventLog::Visitor&)>& produce,
                    const EventLog::Visitor& visit);

}  // namespace berth::eventlog
