// Encoding of one event record (the value stored under its sequence number).
// docs/event-format.md is the specification; this is its implementation.
//
// Encoding is split in two so that the expensive part runs on the producer's thread:
//   EncodeBody()    - everything a producer knows (workflow id, type, payload, ...),
//   SealRecord()    - adds what is known only under the log's lock (seq, prev_hash), and the CRC.
// The CRC32C covers the body first, then the header fields, so the producer's partial CRC
// over the body is continued under the lock over 41 header bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string>
#include <string_view>

#include "eventlog/event.h"
#include "eventlog/status.h"

namespace berth::eventlog {

inline constexpr uint8_t kRecordFormat = 1;    // first byte of every record
inline constexpr size_t kRecordHeaderSize = 45;  // format u8, seq u64, prev_hash[32], crc u32
inline constexpr size_t kNameMax = 255;

// A body with its running CRC32C state, ready to be sealed.
struct EncodedBody {
  std::string bytes;
  uint32_t crc_state = 0;  // CRC32C register after the body bytes (not finalised)
};

// Validates the draft (non-empty ids and types within limits) and encodes its body.
Result<EncodedBody> EncodeBody(const EventDraft& draft);

// Builds the full record: header (format, seq, prev_hash, crc) followed by the body.
std::string SealRecord(const EncodedBody& body, uint64_t seq, const Digest& prev_hash);

// Decodes and checks a record read under key `seq`: format, CRC, that the stored sequence
// equals `seq`, and that the body is well formed. Every failure is kCorruption (or
// kUnsupported for a newer format) naming the sequence number.
Status DecodeRecord(uint64_t seq, std::string_view record, Event* out);

// SHA-256 of a whole record: the next event's prev_hash.
Digest HashRecord(std::string_view record);

std::string DigestHex(const Digest& d);

// Big-endian 8-byte key so RocksDB's bytewise order is numeric order.
std::string SeqKey(uint64_t seq);
uint64_t SeqFromKey(std::string_view key);

// The database's column families, in the order Open passes them to RocksDB.
// "once" (format 2) holds the put-once rows (ProjectionPut::put_once), apart from the
// projections that are rewritten all the time, so that compacting it away is cheap.
inline constexpr const char* kColumnFamilies[] = {"default",     "events", "by_workflow", "by_subject",
                                                  "projections", "meta",   "once"};
enum ColumnFamily { kCfDefault = 0, kCfEvents, kCfByWorkflow, kCfBySubject, kCfProjections, kCfMeta, kCfOnce };
inline constexpr size_t kFamilyCount = std::size(kColumnFamilies);

// Index keys: `workflow_id \0 BE64(workflow_seq)` and `subject \0 BE64(seq)`.
std::string WorkflowKey(const std::string& workflow_id, uint64_t workflow_seq);
std::string SubjectKey(const std::string& subject, uint64_t seq);
// Splits a subject index key; false if it is not of that shape.
bool ParseSubjectKey(std::string_view key, std::string* subject, uint64_t* seq);

}  // namespace berth::eventlog
