// Status and Result<T>: errors as values at every module boundary.
//
// A Status is either ok or carries a Code and a message meant for a person: what went wrong,
// where (file:line, sequence number, host) and, where the caller cannot know, what to do.
// Codes exist only where a caller acts differently on them (LevelDB's Status, FoundationDB's
// commit_unknown_result): kUnknownOutcome means "a request was sent and timed out; the effect
// may or may not have happened" and is the signal to reconcile.
//
// Header-only; lives in eventlog/ because eventlog is the bottom of the dependency graph and
// every module may include it.
#pragma once

#include <string>
#include <utility>
#include <variant>

#include "eventlog/check.h"

namespace berth {

enum class Code {
  kOk = 0,
  kNotFound,         // the thing asked for does not exist
  kInvalidArgument,  // the caller's input is malformed; retrying will not help
  kCorruption,       // stored data fails a check (checksum, hash chain, decode)
  kIOError,          // the file system failed
  kNoSpace,          // the disk is full; retry once space returns
  kBusy,             // a resource is held by another process (e.g. the data directory lock)
  kUnavailable,      // a remote service cannot be reached now; retryable
  kConflict,         // the thing already exists or is in a conflicting state
  kUnknownOutcome,   // sent, then timed out: reconcile before redoing
  kCancelled,        // cancelled on request
  kTimeout,          // an attempt ran out of time (before anything was sent, or locally)
  kFailed,           // a step failed for a reason of its own (non-retryable by default)
  kUnsupported,      // a newer format or an unsupported feature
  kPermission,       // the OS refused access (permissions, a read-only file system)
};

const char* CodeName(Code c);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // "<code>: <message>", or "ok".
  std::string ToString() const;

  // Prefixes the message with context ("opening /x: ..."); keeps the code.
  Status WithContext(const std::string& context) const {
    if (ok()) return *this;
    return Status(code_, context + ": " + message_);
  }

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

inline Status NotFound(std::string m) { return Status(Code::kNotFound, std::move(m)); }
inline Status InvalidArgument(std::string m) {
  return Status(Code::kInvalidArgument, std::move(m));
}
inline Status Corruption(std::string m) { return Status(Code::kCorruption, std::move(m)); }
inline Status IOError(std::string m) { return Status(Code::kIOError, std::move(m)); }
inline Status Failed(std::string m) { return Status(Code::kFailed, std::move(m)); }

// A value or the Status saying why there is none.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) { BERTH_CHECK(!std::get<Status>(v_).ok()); }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &std::get<T>(v_); }
  T& operator*() { return std::get<T>(v_); }

 private:
  std::variant<T, Status> v_;
};

inline const char* CodeName(Code c) {
  switch (c) {
    case Code::kOk: return "ok";
    case Code::kNotFound: return "not found";
    case Code::kInvalidArgument: return "invalid argument";
    case Code::kCorruption: return "corruption";
    case Code::kIOError: return "I/O error";
    case Code::kNoSpace: return "no space";
    case Code::kBusy: return "busy";
    case Code::kUnavailable: return "unavailable";
    case Code::kConflict: return "conflict";
    case Code::kUnknownOutcome: return "unknown outcome";
    case Code::kCancelled: return "cancelled";
    case Code::kTimeout: return "timeout";
    case Code::kFailed: return "failed";
    case Code::kUnsupported: return "unsupported";
    case Code::kPermission: return "permission denied";
  }
  return "unknown";
}

inline std::string Status::ToString() const {
  if (ok()) return "ok";
  return std::string(CodeName(code_)) + ": " + message_;
}

}  // namespace berth
