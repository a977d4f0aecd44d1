// EngineClient: images (commit, inspect, list, tag, remove).
#include "adapters/docker/engine_client.h"
#include "adapters/docker/image_json.h"

namespace berth::docker {

Result<std::string> EngineClient::Commit(const CommitSpec& spec) {
  std::string target = "/commit?container=" + UrlEncode(spec.container) +
                       "&repo=" + UrlEncode(spec.repo) + "&tag=" + UrlEncode(spec.tag) +
                       "&pause=" + (spec.pause ? "1" : "0");
  if (!spec.comment.empty()) target += "&comment=" + UrlEncode(spec.comment);
  for (const std::string& change : spec.changes) target += "&changes=" + UrlEncode(change);
  // The engine merges this config over the container's, so labels only add.
  json body = json::object();
  if (!spec.labels.empty()) body["Labels"] = spec.labels;
  HttpRequest r = Request("POST", target, body.dump());
  Result<json> j = CallJson(std::move(r));
  if (!j.ok()) return j.status().WithContext("committing " + spec.container);
  std::string id = StringField(*j, "Id");
  if (id.empty()) return Failed("POST /commit: no Id in the answer");
  return id;
}

Result<ImageInfo> EngineClient::InspectImage(const std::string& ref) {
  Result<json> j = CallJson(Request("GET", "/images/" + ref + "/json"));
  if (!j.ok()) return j.status();
  return ImageFromInspect(*j);
}

Result<std::vector<ImageInfo>> EngineClient::ListImages(const ImageFilter& filter) {
  std::string target = "/images/json";
  std::string filters = ImageListFilters(filter);
  if (!filters.empty()) target += "?filters=" + UrlEncode(filters);
  Result<json> j = CallJson(Request("GET", target));
  if (!j.ok()) return j.status();
  std::vector<ImageInfo> out;
  if (j->is_array()) {
    for (const json& i : *j) out.push_back(ImageFromList(i));
  }
  return out;
}

Status EngineClient::TagImage(const std::string& ref, const std::string& repo,
                              const std::string& tag) {
  return Call(Request("POST",
                      "/images/" + ref + "/tag?repo=" + UrlEncode(repo) + "&tag=" + UrlEncode(tag)))
      .status();
}

Result<std::string> EngineClient::SaveImage(const std::string& ref) {
  HttpRequest r = Request("GET", "/images/" + UrlEncode(ref) + "/get");
  r.timeout_ms = std::max<int64_t>(r.timeout_ms, 120'000);
  auto out = Call(std::move(r));
  if (!out.ok()) return out.status().WithContext("saving image " + ref);
  return std::move(out->body);
}

Status EngineClient::LoadImage(const std::string& tar) {
  HttpRequest r = Request("POST", "/images/load?quiet=1");
  r.body = tar;
  r.content_type = "application/x-tar";
  r.timeout_ms = std::max<int64_t>(r.timeout_ms, 120'000);
  return Call(std::move(r)).status().WithContext("loading an image");
}

Status EngineClient::RemoveImage(const std::string& ref, bool force) {
  return Call(Request("DELETE", "/images/" + ref + (force ? "?force=1" : ""))).status();
}

}  // namespace berth::docker
