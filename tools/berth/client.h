// The CLI's side of `berth serve`: finding a server on the data directory and asking it.
// A command that goes through the server prints exactly what it prints in-process (the
// views are shared: server/views.h); the server's errors come back as the same Status.
#pragma once

#include <nlohmann/json.hpp>
#include <functional>
#include <optional>
#include <string>

#include "eventlog/status.h"
#include "tools/berth/context.h"

namespace berth::tool {

std::string ServerSocketPath(const Globals& g);  // <data-dir>/berth.sock

// The server that answers on the data directory's socket, if one does (a socket left by a
// killed server answers nothing: the caller then runs in-process, where the lock decides).
class ServerClient {
 public:
  static std::optional<ServerClient> Find(const Globals& g);
  // GET `target` (path and query); the JSON body, or the server's error as a Status with
  // the code it names, or kUnavailable if the server went away mid-request.
  Result<nlohmann::json> Get(const std::string& target) const;
  Result<nlohmann::json> Post(const std::string& target, const std::string& body) const;

  // Follows workflow `id` until it ends: hands each of its events (server::EventJson) to
  // `on_event` in order, as the server streams them (GET .../events?follow=1, resumed from
  // the last seq after a dropped connection), and returns GET /v1/workflows/{id} as it was
  // when it ended. Ctrl-C detaches within a second: kCancelled, saying how to follow it
  // again (the workflow keeps running in the server).
  Result<nlohmann::json> Follow(const std::string& id,
                                const std::function<void(const nlohmann::json&)>& on_event) const;

 private:
  explicit ServerClient(std::string socket) : socket_(std::move(socket)) {}
  Result<nlohmann::json> Exchange(const std::string& method, const std::string& target, const std::string& body) const;
  std::string socket_;
};

}  // namespace berth::tool
