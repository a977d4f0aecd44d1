// How an Engine API error answer becomes a Status.
//
//   404       -> kNotFound   ("No such container: x")
//   409       -> kConflict   (name in use, container running, image in use, ...), except
//                kUnavailable for "... already in progress" (a removal under way: retry)
//   other 4xx and 5xx -> kFailed
// The message is the engine's own "message" text (or the raw body when it is not JSON),
// prefixed with what was asked ("POST /containers/create").
#pragma once

#include <string>
#include <string_view>

#include "eventlog/status.h"

namespace berth::docker {

// `status` is an HTTP status >= 400; `what` names the call for the message.
Status ApiError(long status, std::string_view body, std::string_view what);

// The engine's "message" from an error body; the trimmed body itself when not JSON.
std::string EngineMessage(std::string_view body);

}  // namespace berth::docker
