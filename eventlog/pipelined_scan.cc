#include "eventlog/pipelined_scan.h"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

namespace berth::eventlog {
namespace {

// Chunks of events travel scan -> visitor through `full`, and back through `free` for reuse
// (the copies then reuse their strings' capacity). A null chunk ends the stream.
class Pipeline {
 public:
  explicit Pipeline(const EventLog::Visitor& visit) : visit_(visit) {
    for (auto& c : pool_) {
      c.events.resize(kChunk);
      free_.push_back(&c);
    }
    visitor_ = std::thread([this] { VisitLoop(); });
  }
  ~Pipeline() { Finish(); }

  // The ScanRange visitor: false once the caller's visitor asked to stop.
  bool Add(const Event& e) {
    if (!cur_) cur_ = Take(&free_);
    cur_->events[cur_->n++] = e;
    if (cur_->n == kChunk) {
      Put(&full_, cur_);
      cur_ = nullptr;
    }
    return !stopped_.load(std::memory_order_relaxed);
  }

  void Finish() {
    if (!visitor_.joinable()) return;
    if (cur_) Put(&full_, cur_);
    cur_ = nullptr;
    Put(&full_, nullptr);
    visitor_.join();
  }

 private:
  static constexpr size_t kChunk = 1024;
  struct Chunk {
    std::vector<Event> events;
    size_t n = 0;
  };

  Chunk* Take(std::deque<Chunk*>* q) {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return !q->empty(); });
    Chunk* c = q->front();
    q->pop_front();
    return c;
  }
  void Put(std::deque<Chunk*>* q, Chunk* c) {
    {
      std::lock_guard<std::mutex> l(mu_);
      q->push_back(c);
    }
    cv_.notify_all();
  }
  void VisitLoop() {
    while (Chunk* c = Take(&full_)) {
      for (size_t i = 0; i < c->n && !stopped_; ++i)
        if (!visit_(c->events[i])) stopped_ = true;
      c->n = 0;
      Put(&free_, c);
    }
  }

  const EventLog::Visitor& visit_;
  Chunk pool_[8];
  Chunk* cur_ = nullptr;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Chunk*> free_, full_;
  std::atomic<bool> stopped_{false};
  std::thread visitor_;
};

}  // namespace

Status ScanPipelined(const EventLog& log, uint64_t from_seq, uint64_t to_seq,
                     const EventLog::Visitor& visit) {
  return RunPipelined(
      [&](const EventLog::Visitor& v) { return log.ScanRange(from_seq, to_seq, v); }, visit);
}

Status RunPipelined(const std::function<Status(const EventLog::Visitor&)>& produce,
                    const EventLog::Visitor& visit) {
  Pipeline pipe(visit);
  Status s = produce([&](const Event& e) { return pipe.Add(e); });
  pipe.Finish();
  return s;
}

}  // namespace berth::eventlog
