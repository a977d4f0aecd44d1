// StreamDemux: splits the engine's multiplexed stdout/stderr stream back into two.
//
// Without a TTY, exec and logs answer with frames: an 8-byte header
//   [0] stream: 0 stdin, 1 stdout, 2 stderr   [1..3] zero   [4..7] payload size, big-endian
// followed by that many payload bytes. Frames may be split anywhere across Feed calls.
// Not thread-safe: one per response.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "eventlog/status.h"

namespace berth::docker {

class StreamDemux {
 public:
  // Keeps at most bytes_max bytes per stream; the rest is counted but dropped.
  explicit StreamDemux(int64_t bytes_max = int64_t{16} << 20) : bytes_max_(bytes_max) {}

  // Consumes the next chunk. Returns an error (kFailed) on a header with an unknown stream
  // type; after that every Feed returns the same error.
  Status Feed(std::string_view chunk);
  // Call once the response ended: kFailed when it stopped inside a frame.
  Status Finish() const;

  const std::string& stdout_text() const { return out_; }
  const std::string& stderr_text() const { return err_; }
  bool truncated() const { return truncated_; }

 private:
  void Append(std::string* to, std::string_view bytes);

  int64_t bytes_max_;
  std::string header_;         // partial header, < 8 bytes
  uint8_t stream_ = 0;         // current frame's stream
  uint64_t payload_left_ = 0;  // bytes of the current frame not yet seen
  std::string out_, err_;
  bool truncated_ = false;
  Status error_;
};

}  // namespace berth::docker
