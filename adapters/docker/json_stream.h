// JsonStream: turns a chunked byte stream of JSON messages (events, build and pull progress)
// into one decoded message at a time.
//
// The engine writes each message with Go's json.Encoder, which ends it with "\n" (JSON text
// itself never contains a raw newline), so messages are framed by lines. Not thread-safe.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "adapters/docker/json_fields.h"

namespace berth::docker {

class JsonStream {
 public:
  static constexpr size_t kLineBytesMax = size_t{16} << 20;

  // on_message returns false to stop; Feed then returns false too and drops the rest.
  explicit JsonStream(std::function<bool(const json&)> on_message)
      : on_message_(std::move(on_message)) {}

  // Consumes a chunk. Returns false once on_message asked to stop or a message could not
  // be decoded (see status()).
  bool Feed(std::string_view chunk);
  // Decodes a last message that had no newline. Returns status().
  Status Finish();

  const Status& status() const { return status_; }

 private:
  bool Deliver(std::string_view line);

  std::function<bool(const json&)> on_message_;
  std::string pending_;
  bool stopped_ = false;
  Status status_;
};

// What a build or pull stream said: text to show, the built image id, or an error.
class ProgressLog {
 public:
  static constexpr size_t kTextBytesMax = size_t{1} << 20;  // text() stops growing here

  // Handles one message: {"stream": "..."}, {"status": "...", "progress": ...},
  // {"aux": {"ID": "sha256:..."}}, {"errorDetail": {"message": "..."}, "error": "..."}.
  void Add(const json& message);

  const std::string& text() const { return text_; }
  const std::string& image_id() const { return image_id_; }
  // "" while no error was reported.
  const std::string& error() const { return error_; }

 private:
  std::string text_;
  std::string image_id_;
  std::string error_;
};

}  // namespace berth::docker
