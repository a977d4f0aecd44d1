// EngineClient: construction, version negotiation and the request path every call shares.
#include "adapters/docker/engine_client.h"
#include "adapters/docker/image_json.h"

#include <curl/curl.h>

#include <cstdio>

#include "adapters/docker/api_error.h"
#include "adapters/docker/json_fields.h"

namespace berth::docker {
namespace {

// "1.41" -> {1, 41}; {0, 0} when unparsable.
std::pair<int, int> ParseApiVersion(const std::string& v) {
  int major = 0, minor = 0;
  if (std::sscanf(v.c_str(), "%d.%d", &major, &minor) != 2) return {0, 0};
  return {major, minor};
}

}  // namespace

std::string WithLabelFilter(const std::string& target, const Labels& labels) {
  if (labels.empty()) return target;
  json filters = {{"label", LabelFilters(labels)}};
  return target + (target.find('?') == std::string::npos ? "?" : "&") + "filters=" +
         UrlEncode(filters.dump());
}

std::string UrlEncode(std::string_view value) {
  // Since curl 7.82 the handle may be null.
  char* escaped = curl_easy_escape(nullptr, value.data(), static_cast<int>(value.size()));
  std::string out = escaped != nullptr ? escaped : "";
  curl_free(escaped);
  return out;
}

EngineClient::EngineClient(Endpoint endpoint, EngineClientOptions options)
    : transport_(std::move(endpoint), options.connect_timeout_ms), options_(options) {}

Result<std::unique_ptr<EngineClient>> EngineClient::FromEnvironment(EngineClientOptions options) {
  Result<Endpoint> ep = EndpointFromEnvironment();
  if (!ep.ok()) return ep.status();
  return std::make_unique<EngineClient>(std::move(ep.value()), options);
}

HttpRequest EngineClient::Request(std::string method, std::string target, std::string body) const {
  HttpRequest r;
  r.method = std::move(method);
  r.target = std::move(target);
  r.body = std::move(body);
  if (!r.body.empty()) r.content_type = "application/json";
  r.timeout_ms = options_.call_timeout_ms;
  return r;
}

Result<EngineInfo> EngineClient::Info() {
  Result<json> j = CallJson(Request("GET", "/info"));
  if (!j.ok()) return j.status().WithContext("GET /info");
  EngineInfo info;
  info.name = StringField(*j, "Name");
  info.cpus = IntField(*j, "NCPU");
  info.memory = IntField(*j, "MemTotal");
  info.containers = IntField(*j, "Containers");
  return info;
}

Result<EngineVersion> EngineClient::Version() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (version_) return *version_;
  }
  // Unversioned: every engine answers /version whatever API it speaks.
  Result<HttpResponse> r = transport_.Send(Request("GET", "/version"));
  if (!r.ok()) return r.status().WithContext("negotiating the API version");
  if (r->status >= 300) return ApiError(r->status, r->body, "GET /version");
  Result<json> j = ParseJson(r->body, "GET /version");
  if (!j.ok()) return j.status();
  EngineVersion v;
  v.version = StringField(*j, "Version");
  v.api_version = StringField(*j, "ApiVersion");
  v.os = StringField(*j, "Os");
  v.arch = StringField(*j, "Arch");
  if (ParseApiVersion(v.api_version) == std::pair{0, 0}) {
    return Failed("GET /version on " + endpoint().ToString() + ": no usable ApiVersion in " +
                  r->body.substr(0, 200));
  }
  v.negotiated_api = ParseApiVersion(v.api_version) < ParseApiVersion(options_.api_version_max)
                         ? v.api_version
                         : options_.api_version_max;
  std::lock_guard<std::mutex> lock(mu_);
  if (!version_) version_ = v;
  return *version_;
}

Result<std::string> EngineClient::ApiPrefix() {
  Result<EngineVersion> v = Version();
  if (!v.ok()) return v.status();
  return "/v" + v->negotiated_api;
}

Result<HttpResponse> EngineClient::Call(HttpRequest request) {
  Result<std::string> prefix = ApiPrefix();
  if (!prefix.ok()) return prefix.status();
  std::string what = request.method + " " + request.target;
  request.target = *prefix + request.target;
  Result<HttpResponse> r = transport_.Send(request);
  if (!r.ok()) return r;
  if (r->status >= 400) return ApiError(r->status, r->body, what);
  return r;
}

Result<json> EngineClient::CallJson(HttpRequest request) {
  std::string what = request.method + " " + request.target;
  Result<HttpResponse> r = Call(std::move(request));
  if (!r.ok()) return r.status();
  return ParseJson(r->body, what);
}

}  // namespace berth::docker
