// EngineClient: images made from elsewhere: docker build (from a tar context) and pull.
// Both answer 200 at once and then report progress, and any error, as a JSON stream.
#include "adapters/docker/engine_client.h"
#include "adapters/docker/json_stream.h"

namespace berth::docker {

Result<BuildResult> EngineClient::BuildImage(const BuildSpec& spec) {
  std::string target = "/build?rm=1&forcerm=1&dockerfile=" + UrlEncode(spec.dockerfile);
  for (const std::string& t : spec.tags) target += "&t=" + UrlEncode(t);
  if (!spec.build_args.empty()) target += "&buildargs=" + UrlEncode(json(spec.build_args).dump());
  if (!spec.labels.empty()) target += "&labels=" + UrlEncode(json(spec.labels).dump());
  if (spec.no_cache) target += "&nocache=1";
  for (const auto& [k, v] : spec.options)
    if (!(k == "nocache" && spec.no_cache)) target += "&" + UrlEncode(k) + "=" + UrlEncode(v);
  HttpRequest r = Request("POST", target);
  r.body = spec.context_tar;
  r.content_type = "application/x-tar";
  r.timeout_ms = spec.timeout_ms;

  ProgressLog log;
  JsonStream stream([&log](const json& message) {
    log.Add(message);
    return true;
  });
  r.on_data = [&stream](std::string_view chunk) { return stream.Feed(chunk); };
  std::string what = "building " + (spec.tags.empty() ? std::string("image") : spec.tags[0]);
  Result<HttpResponse> resp = Call(std::move(r));
  if (!resp.ok()) return resp.status().WithContext(what);
  if (Status s = stream.Finish(); !s.ok()) return s.WithContext(what);
  if (!log.error().empty()) return Failed(what + ": " + log.error() + "\n" + log.text());
  if (log.image_id().empty())
    return Failed(what + ": the engine reported no image id\n" + log.text());
  return BuildResult{log.image_id(), log.text()};
}

// POST /images/create answers with a stream of progress messages; an error is one of them.
Status EngineClient::CallProgress(HttpRequest r, const std::string& what) {
  ProgressLog log;
  JsonStream stream([&log](const json& message) {
    log.Add(message);
    return true;
  });
  r.on_data = [&stream](std::string_view chunk) { return stream.Feed(chunk); };
  Result<HttpResponse> resp = Call(std::move(r));
  if (!resp.ok()) return resp.status().WithContext(what);
  if (Status s = stream.Finish(); !s.ok()) return s.WithContext(what);
  if (!log.error().empty()) return Failed(what + ": " + log.error());
  return Status::Ok();
}

Status EngineClient::ImportImage(const std::string& tar, const std::string& repo, const std::string& tag,
                                 const std::vector<std::string>& changes) {
  std::string target = "/images/create?fromSrc=-&repo=" + UrlEncode(repo) + "&tag=" + UrlEncode(tag);
  for (const auto& c : changes) target += "&changes=" + UrlEncode(c);
  HttpRequest r = Request("POST", target);
  r.body = tar;
  r.content_type = "application/x-tar";
  r.timeout_ms = std::max<int64_t>(r.timeout_ms, 120'000);
  return CallProgress(std::move(r), "importing " + repo + ":" + tag);
}

Status EngineClient::PullImage(const std::string& image, const std::string& tag,
                               int64_t timeout_ms) {
  HttpRequest r =
      Request("POST", "/images/create?fromImage=" + UrlEncode(image) + "&tag=" + UrlEncode(tag));
  r.timeout_ms = timeout_ms;
  return CallProgress(std::move(r), "pulling " + image + ":" + tag);
}

Status EngineClient::PushImage(const std::string& image, const std::string& tag,
                               int64_t timeout_ms) {
  HttpRequest r = Request("POST", "/images/" + image + "/push?tag=" + UrlEncode(tag));
  // The engine wants credentials even for a registry that asks none: an empty set ({}).
  r.headers = {"X-Registry-Auth: e30="};
  r.timeout_ms = timeout_ms;
  return CallProgress(std::move(r), "pushing " + image + ":" + tag);
}

}  // namespace berth::docker
