// Metrics: what `GET /metrics` answers, in Prometheus' text format (version 0.0.4).
// Counted from the engine's durable events as the server sees them (OnEvent, on engine
// threads) and from the HTTP routes (OnRequest): since this server started, except the log
// counters, which are the log's own.
//
//   berth_workflows_started_total{type}          workflows started
//   berth_workflows_ended_total{type,status}     ended: completed, failed, cancelled
//   berth_workflows_running                      running in this server now
//   berth_step_seconds{activity} (histogram)     activity attempts, start to end
//   berth_step_failures_total{activity,code}     failed attempts by error code (a Docker
//                                                call's: unavailable, unknown_outcome, ...)
//   berth_restarts_total{outcome}                restart workflows: restarted, none, gave_up
//   berth_event_durable_seconds (histogram)      an event's append to the engine seeing it
//                                                durable (its timestamp is taken at append)
//   berth_log_appends_total, berth_log_events_total, berth_log_batches_total
//   berth_http_requests_total{route,code}
//
// Memory: one entry per running step and per running workflow (erased at their end) and
// one series per label value; loops at Render are over those series only.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "eventlog/event.h"
#include "eventlog/event_log.h"

namespace berth::server {

class Metrics {
 public:
  void OnEvent(const eventlog::Event& e);
  void OnRequest(const std::string& route, int status);
  std::string Render(const eventlog::LogStats& log, size_t running) const;

 private:
  struct Histogram {
    std::vector<uint64_t> buckets;  // cumulative at Render; here per bucket
    uint64_t count = 0;
    double sum = 0;
    void Observe(double seconds);
  };
  static const std::vector<double>& Bounds();

  mutable std::mutex mu_;
  std::map<std::string, std::string> type_of_;               // running workflow -> type
  std::map<std::string, std::pair<std::string, int64_t>> steps_;  // "<wf>/<step>" -> activity, start
  std::map<std::string, uint64_t> started_;                   // type
  std::map<std::pair<std::string, std::string>, uint64_t> ended_;     // type, status
  std::map<std::string, Histogram> step_seconds_;             // activity
  std::map<std::pair<std::string, std::string>, uint64_t> step_failures_;  // activity, code
  std::map<std::string, uint64_t> restarts_;                  // outcome
  Histogram durable_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;  // route, status
};

}  // namespace berth::server
