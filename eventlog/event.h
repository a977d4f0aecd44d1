// The event envelope: what every entry of Berth's log carries.
//
// The byte layout on disk is specified in docs/event-format.md and implemented in
// event_codec.h. Payloads are opaque here: each event type's payload is a cereal-encoded
// struct owned by the module that defines the type (engine/, workflows/).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace berth::eventlog {

// Who caused an event.
enum class Actor : uint8_t {
  kSystem = 0,  // the control plane itself (recovery, retries, timers)
  kUser = 1,    // a person through the berth tool
  kPolicy = 2,  // an automatic policy (scaling, healing)
};
const char* ActorName(Actor a);

using Digest = std::array<uint8_t, 32>;  // SHA-256

// What a producer hands to EventLog::Append. The log adds seq, crc and prev_hash.
struct EventDraft {
  std::string workflow_id;  // non-empty, at most 255 bytes
  uint64_t workflow_seq = 0;  // 1-based position within its workflow; chosen by the caller
  int64_t time_us = 0;        // wall time, microseconds since the epoch; 0: stamped by Append
  Actor actor = Actor::kSystem;
  std::string type;            // e.g. "ActivityCompleted"; non-empty, at most 255 bytes
  uint16_t schema_version = 1; // version of this type's payload schema
  std::string payload;         // opaque bytes (cereal binary)
  // Subjects this event concerns, e.g. "container:shop-web-1", "host:local". Each gets an
  // index entry so `berth audit` can list every event touching it.
  std::vector<std::string> subjects;
};

// An event as stored: the draft plus what the log assigned.
struct Event : EventDraft {
  uint64_t seq = 0;    // global sequence, 1-based, dense, strictly increasing
  uint32_t crc = 0;    // CRC32C as stored (see docs/event-format.md for what it covers)
  Digest prev_hash{};  // SHA-256 of the previous event's record; zeros for seq 1
};

// A projection row written in the same atomic batch as the events of an append.
struct ProjectionPut {
  std::string key;
  std::string value;
  bool erase = false;  // delete the row instead of writing value
  // A row of the put-once keyspace, read with GetOnce / ScanOnce (not GetProjection): each
  // key is put at most once and erased at most once (the caller's promise), like the index
  // of open workflows. Erased with RocksDB's SingleDelete, which vanishes together with its
  // put in the first flush or compaction that holds both; a plain Delete leaves a tombstone
  // that every scan of the key range walks past until a compaction reaches the last level.
  // The keyspace is small (its live rows and what was erased since the last close), and a
  // clean close that erased rows compacts it whole, so scans of it never walk history.
  bool put_once = false;
};

}  // namespace berth::eventlog
