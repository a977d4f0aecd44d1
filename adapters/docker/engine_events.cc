// EngineClient: the event stream (GET /events).
#include "adapters/docker/engine_client.h"
#include "adapters/docker/json_stream.h"

namespace berth::docker {
namespace {

Event EventFromJson(const json& j) {
  Event e;
  e.type = StringField(j, "Type");
  e.action = StringField(j, "Action");
  const json& actor = Field(j, "Actor");
  e.actor_id = StringField(actor, "ID");
  e.attributes = StringMapField(actor, "Attributes");
  e.time_nano = IntField(j, "timeNano");
  return e;
}

}  // namespace

Status EngineClient::StreamEvents(const EventFilter& filter,
                                  const std::function<bool(const Event&)>& on_event,
                                  std::stop_token stop) {
  std::string target = "/events?";
  if (!filter.filters.empty()) target += "filters=" + UrlEncode(json(filter.filters).dump());
  if (!filter.since.empty()) target += "&since=" + UrlEncode(filter.since);
  if (!filter.until.empty()) target += "&until=" + UrlEncode(filter.until);
  HttpRequest r = Request("GET", target);
  r.timeout_ms = 0;  // a stream lasts as long as the caller wants it
  r.stop = stop;
  JsonStream stream([&on_event](const json& message) { return on_event(EventFromJson(message)); });
  r.on_data = [&stream](std::string_view chunk) { return stream.Feed(chunk); };
  Result<HttpResponse> resp = Call(std::move(r));
  if (!resp.ok()) return resp.status().WithContext("event stream");
  return stream.Finish().WithContext("event stream");
}

}  // namespace berth::docker
