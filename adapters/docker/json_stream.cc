#include "adapters/docker/json_stream.h"

namespace berth::docker {

bool JsonStream::Deliver(std::string_view line) {
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
  if (line.empty()) return true;
  json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    status_ = Failed("engine stream: a message is not JSON: " + std::string(line.substr(0, 200)));
    return false;
  }
  return on_message_(j);
}

bool JsonStream::Feed(std::string_view chunk) {
  if (stopped_) return false;
  while (!chunk.empty()) {
    size_t nl = chunk.find('\n');
    if (nl == std::string_view::npos) {
      pending_.append(chunk);
      if (pending_.size() > kLineBytesMax) {
        status_ =
            Failed("engine stream: a message is over " + std::to_string(kLineBytesMax) + " bytes");
        stopped_ = true;
      }
      return !stopped_;
    }
    bool more;
    if (pending_.empty()) {
      more = Deliver(chunk.substr(0, nl));
    } else {
      pending_.append(chunk.substr(0, nl));
      more = Deliver(pending_);
      pending_.clear();
    }
    chunk.remove_prefix(nl + 1);
    if (!more) {
      stopped_ = true;
      return false;
    }
  }
  return true;
}

Status JsonStream::Finish() {
  if (!stopped_ && !pending_.empty()) {
    Deliver(pending_);
    pending_.clear();
  }
  return status_;
}

void ProgressLog::Add(const json& message) {
  // Pull progress repeats a line per chunk downloaded: keep the start of a long log only.
  if (text_.size() < kTextBytesMax) {
    text_ += StringField(message, "stream");
    std::string status = StringField(message, "status");
    if (!status.empty()) {
      std::string id = StringField(message, "id");
      text_ += (id.empty() ? "" : id + ": ") + status + "\n";
    }
  }
  std::string aux_id = StringField(Field(message, "aux"), "ID");
  if (!aux_id.empty()) image_id_ = aux_id;
  std::string detail = StringField(Field(message, "errorDetail"), "message");
  if (detail.empty()) detail = StringField(message, "error");
  if (!detail.empty() && error_.empty()) error_ = detail;
}

}  // namespace berth::docker
