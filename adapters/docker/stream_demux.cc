#include "adapters/docker/stream_demux.h"

#include <algorithm>

namespace berth::docker {

namespace {
constexpr size_t kHeaderBytes = 8;
}

void StreamDemux::Append(std::string* to, std::string_view bytes) {
  int64_t room = bytes_max_ - static_cast<int64_t>(to->size());
  if (room < static_cast<int64_t>(bytes.size())) {
    truncated_ = true;
    bytes = bytes.substr(0, static_cast<size_t>(std::max<int64_t>(room, 0)));
  }
  to->append(bytes);
}

Status StreamDemux::Feed(std::string_view chunk) {
  if (!error_.ok()) return error_;
  while (!chunk.empty()) {
    if (payload_left_ > 0) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(payload_left_, chunk.size()));
      // stdin frames (0) never come from the engine; stdout (1) and stderr (2) only.
      Append(stream_ == 2 ? &err_ : &out_, chunk.substr(0, n));
      payload_left_ -= n;
      chunk.remove_prefix(n);
      continue;
    }
    size_t need = kHeaderBytes - header_.size();
    size_t n = std::min(need, chunk.size());
    header_.append(chunk.substr(0, n));
    chunk.remove_prefix(n);
    if (header_.size() < kHeaderBytes) break;
    auto byte = [&](size_t i) { return static_cast<uint8_t>(header_[i]); };
    stream_ = byte(0);
    if (stream_ > 2 || byte(1) != 0 || byte(2) != 0 || byte(3) != 0) {
      error_ = Failed("docker stream: bad frame header (stream byte " + std::to_string(stream_) +
                      "); was the container started with a TTY?");
      return error_;
    }
    payload_left_ = (uint64_t{byte(4)} << 24) | (uint64_t{byte(5)} << 16) |
                    (uint64_t{byte(6)} << 8) | uint64_t{byte(7)};
    header_.clear();
  }
  return Status::Ok();
}

Status StreamDemux::Finish() const {
  if (!error_.ok()) return error_;
  if (payload_left_ > 0 || !header_.empty()) {
    return Failed("docker stream: response ended inside a frame");
  }
  return Status::Ok();
}

}  // namespace berth::docker
