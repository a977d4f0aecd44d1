// The production Scheduler: Boost.Asio thread pools. Lanes are strands.
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <atomic>

#include "engine/scheduler.h"

namespace berth::engine {
namespace {

namespace asio = boost::asio;
using Strand = asio::strand<asio::thread_pool::executor_type>;

class StrandLane final : public Lane {
 public:
  explicit StrandLane(Strand s) : strand(std::move(s)) {}
  Strand strand;
};

class ThreadScheduler final : public Scheduler {
 public:
  ThreadScheduler(unsigned threads, unsigned blocking, Clock* clock)
      : pool_(std::max(1u, threads)), blocking_(std::max(1u, blocking)), clock_(clock) {}
  ~ThreadScheduler() override { Stop(); }

  std::shared_ptr<Lane> NewLane() override {
    return std::make_shared<StrandLane>(asio::make_strand(pool_.get_executor()));
  }
  void Post(Lane& lane, Task task) override {
    if (stopped_) return;
    asio::post(static_cast<StrandLane&>(lane).strand, [this, task = std::move(task)] {
      if (!stopped_) task();
    });
  }
  void RunAt(Lane& lane, int64_t at_us, Task task) override {
    if (stopped_) return;
    int64_t delay_us = std::max<int64_t>(0, at_us - clock_->NowUs());
    auto timer = std::make_shared<asio::steady_timer>(static_cast<StrandLane&>(lane).strand,
                                                      std::chrono::microseconds(delay_us));
    timer->async_wait([this, timer, task = std::move(task)](const boost::system::error_code& ec) {
      if (!ec && !stopped_) task();
    });
  }
  void Blocking(Task task) override {
    if (stopped_) return;
    asio::post(blocking_, [this, task = std::move(task)] {
      if (!stopped_) task();
    });
  }
  void Stop() override {
    if (stopped_.exchange(true)) return;
    blocking_.join();  // running side effects finish; queued ones see stopped_ and return
    pool_.stop();
    pool_.join();
  }

 private:
  asio::thread_pool pool_;
  asio::thread_pool blocking_;
  Clock* clock_;
  std::atomic<bool> stopped_{false};
};

}  // namespace

std::unique_ptr<Scheduler> MakeThreadScheduler(unsigned threads, unsigned blocking_threads,
                                               Clock* clock) {
  return std::make_unique<ThreadScheduler>(threads, blocking_threads, clock);
}

}  // namespace berth::engine
