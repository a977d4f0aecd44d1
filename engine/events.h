// The engine's event types and their payloads (cereal binary). Each payload struct is the
// schema of one event type; a change to a struct bumps its kSchema and keeps a decoder for
// the old one. docs/event-format.md lists them.
#pragma once

#include <cereal/archives/binary.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>
#include <sstream>
#include <streambuf>
#include <string>

#include "eventlog/status.h"

namespace berth::engine {

namespace ev {
inline constexpr const char* kWorkflowStarted = "WorkflowStarted";
inline constexpr const char* kActivityStarted = "ActivityStarted";
inline constexpr const char* kActivityCompleted = "ActivityCompleted";
inline constexpr const char* kActivityFailed = "ActivityFailed";
inline constexpr const char* kTimerStarted = "TimerStarted";
inline constexpr const char* kTimerFired = "TimerFired";
inline constexpr const char* kChildStarted = "ChildStarted";
inline constexpr const char* kChildEnded = "ChildEnded";
inline constexpr const char* kSignalReceived = "SignalReceived";
inline constexpr const char* kCancelRequested = "CancelRequested";
// An operator's pause: no new step, timer or child starts until WorkflowUnpaused; what runs
// finishes. Payload NameP (who/why).
inline constexpr const char* kPaused = "WorkflowPaused";
inline constexpr const char* kUnpaused = "WorkflowUnpaused";
// An operator's retry of a failed workflow (RetriedP): it runs again, its history up to the
// step it names kept and that step and every step and timer started after it forgotten.
inline constexpr const char* kRetried = "WorkflowRetried";
inline constexpr const char* kWorkflowCompleted = "WorkflowCompleted";
inline constexpr const char* kWorkflowFailed = "WorkflowFailed";
inline constexpr const char* kWorkflowCancelled = "WorkflowCancelled";
inline constexpr const char* kExclusiveWait = "ExclusiveWait";
}  // namespace ev

struct WorkflowStartedP {
  std::string type, input, parent;  // parent: id of the parent workflow, "" for top level
  template <class A> void serialize(A& a) { a(type, input, parent); }
};
struct ActivityStartedP {
  std::string step, activity, input;
  uint32_t attempt = 1;
  template <class A> void serialize(A& a) { a(step, activity, input, attempt); }
};
struct ActivityCompletedP {
  std::string step, result;
  uint32_t attempt = 1;
  bool adopted = false;  // true: found by reconcile, the side effect was not run again
  template <class A> void serialize(A& a) { a(step, result, attempt, adopted); }
};
struct ActivityFailedP {
  std::string step, error;
  uint32_t attempt = 1;
  int32_t code = 0;          // berth::Code
  bool final = false;        // no more attempts
  int64_t retry_at_us = 0;   // when the next attempt starts (decided once, with jitter)
  template <class A> void serialize(A& a) { a(step, error, attempt, code, final, retry_at_us); }
};
struct TimerStartedP {
  std::string name;
  int64_t fire_at_us = 0;
  template <class A> void serialize(A& a) { a(name, fire_at_us); }
};
struct NameP {  // TimerFired, CancelRequested (name = reason)
  std::string name;
  template <class A> void serialize(A& a) { a(name); }
};
struct ChildStartedP {
  std::string child_id, type, input;
  template <class A> void serialize(A& a) { a(child_id, type, input); }
};
struct ChildEndedP {
  std::string child_id, result;
  std::string status;  // completed | failed | cancelled
  template <class A> void serialize(A& a) { a(child_id, result, status); }
};
struct SignalP {
  std::string name, payload;
  template <class A> void serialize(A& a) { a(name, payload); }
};
struct ExclusiveWaitP {  // waits for `holder` to end before it runs (Workflow::ExclusiveKey)
  std::string key, holder;
  template <class A> void serialize(A& a) { a(key, holder); }
};
struct RetriedP {
  std::string from;                  // the step it is retried from
  std::vector<std::string> steps;    // forgotten: `from` and the steps started after it
  std::vector<std::string> timers;   // forgotten: the timers started after it
  std::string error;                 // the failure it is retried after
  template <class A> void serialize(A& a) { a(from, steps, timers, error); }
};
struct EndedP {  // WorkflowCompleted (result), WorkflowFailed (error), WorkflowCancelled
  std::string text;
  template <class A> void serialize(A& a) { a(text); }
};

// Payload streams are reused per thread: constructing a std::ostream/istream (locale,
// ios_base init) per event cost more than the cereal encoding itself. The buffers do no
// buffering of their own, so a nested call only has to save and restore the target.
class StringSinkBuf : public std::streambuf {
 public:
  std::string* out = nullptr;

 protected:
  std::streamsize xsputn(const char* p, std::streamsize n) override {
    out->append(p, size_t(n));
    return n;
  }
  int_type overflow(int_type c) override {
    if (!traits_type::eq_int_type(c, traits_type::eof())) out->push_back(char(c));
    return traits_type::not_eof(c);
  }
};

// Reads a payload in place (no copy of the bytes).
class PayloadBuf : public std::streambuf {
 public:
  explicit PayloadBuf(const std::string& s) {
    char* p = const_cast<char*>(s.data());
    setg(p, p, p + s.size());
  }
};

template <class T>
std::string EncodePayload(const T& v) {
  thread_local StringSinkBuf buf;
  thread_local std::ostream os(&buf);
  std::string out;
  std::string* saved = buf.out;
  buf.out = &out;
  os.clear();
  {
    cereal::BinaryOutputArchive ar(os);
    ar(v);
  }
  buf.out = saved;
  return out;
}

template <class T>
Status DecodePayload(const std::string& bytes, T* out) {
  thread_local std::istream is(nullptr);
  PayloadBuf buf(bytes);
  std::streambuf* saved = is.rdbuf(&buf);  // also clears the stream state
  Status st;
  try {
    cereal::BinaryInputArchive ar(is);
    ar(*out);
  } catch (const std::exception& e) {
    st = Corruption(std::string("undecodable payload: ") + e.what());
  }
  is.rdbuf(saved);
  return st;
}

}  // namespace berth::engine
