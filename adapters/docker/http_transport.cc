#include "adapters/docker/http_transport.h"

#include <curl/curl.h>

#include <memory>
#include <mutex>

namespace berth::docker {
namespace {

// State shared with curl's callbacks for one exchange.
struct Exchange {
  const HttpRequest* request = nullptr;
  CURL* curl = nullptr;
  HttpResponse response;
  bool stopped_by_reader = false;  // on_data returned false
  bool too_big = false;
};

size_t OnWrite(char* data, size_t size, size_t count, void* user) {
  auto* ex = static_cast<Exchange*>(user);
  size_t n = size * count;
  long status = 0;
  curl_easy_getinfo(ex->curl, CURLINFO_RESPONSE_CODE, &status);
  bool stream = ex->request->on_data && status >= 200 && status < 300;
  if (stream) {
    if (!ex->request->on_data(std::string_view(data, n))) {
      ex->stopped_by_reader = true;
      return 0;  // ends the transfer with CURLE_WRITE_ERROR
    }
    return n;
  }
  if (ex->response.body.size() + n > static_cast<size_t>(HttpTransport::kBodyBytesMax)) {
    ex->too_big = true;
    return 0;
  }
  ex->response.body.append(data, n);
  return n;
}

int OnProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* ex = static_cast<Exchange*>(user);
  const HttpRequest& r = *ex->request;
  return r.stop.stop_requested() || (r.cancelled && r.cancelled()) ? 1 : 0;  // non-zero aborts
}

void InitCurlOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// Whether any of the request left this process: decides kTimeout vs kUnknownOutcome.
bool RequestWasSent(CURL* curl) {
  long header_bytes = 0;
  curl_easy_getinfo(curl, CURLINFO_REQUEST_SIZE, &header_bytes);
  curl_off_t body_bytes = 0;
  curl_easy_getinfo(curl, CURLINFO_SIZE_UPLOAD_T, &body_bytes);
  return header_bytes > 0 || body_bytes > 0;
}

Status Classify(CURLcode rc, const Exchange& ex, const std::string& what) {
  std::string msg = what + ": " + curl_easy_strerror(rc);
  bool sent = RequestWasSent(ex.curl);
  switch (rc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_SSL_CONNECT_ERROR:
      return Status(Code::kUnavailable, msg);
    case CURLE_OPERATION_TIMEDOUT:
      return sent ? Status(Code::kUnknownOutcome, msg + " (request was sent)")
                  : Status(Code::kTimeout, msg + " (nothing was sent)");
    case CURLE_ABORTED_BY_CALLBACK:
      return Status(Code::kCancelled, what + ": cancelled");
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
      return sent ? Status(Code::kUnknownOutcome, msg + " (request was sent)")
                  : Status(Code::kUnavailable, msg);
    default:
      return Failed(msg);
  }
}

}  // namespace

HttpTransport::HttpTransport(Endpoint endpoint, int64_t connect_timeout_ms)
    : endpoint_(std::move(endpoint)), connect_timeout_ms_(connect_timeout_ms) {
  InitCurlOnce();
}

Result<HttpResponse> HttpTransport::Send(const HttpRequest& request) const {
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> handle(curl_easy_init(), &curl_easy_cleanup);
  if (!handle) return Failed("curl_easy_init failed");
  CURL* c = handle.get();
  Exchange ex;
  ex.request = &request;
  ex.curl = c;

  std::string url = endpoint_.BaseUrl() + request.target;
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  if (endpoint_.kind == Endpoint::Kind::kUnix) {
    curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, endpoint_.socket_path.c_str());
  }
  if (endpoint_.tls) {
    curl_easy_setopt(c, CURLOPT_CAINFO, endpoint_.ca_file.c_str());
    curl_easy_setopt(c, CURLOPT_SSLCERT, endpoint_.cert_file.c_str());
    curl_easy_setopt(c, CURLOPT_SSLKEY, endpoint_.key_file.c_str());
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
  }
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);  // no SIGALRM: we run on many threads
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(connect_timeout_ms_));
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout_ms));
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  if (!request.body.empty() || request.method == "POST") {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  }
  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "Expect:");  // no 100-continue round trip
  if (!request.content_type.empty()) {
    headers = curl_slist_append(headers, ("Content-Type: " + request.content_type).c_str());
  }
  for (const auto& h : request.headers) headers = curl_slist_append(headers, h.c_str());
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> header_list(headers,
                                                                          &curl_slist_free_all);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &OnWrite);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &ex);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, &OnProgress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, &ex);

  CURLcode rc = curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &ex.response.status);
  std::string what = request.method + " " + request.target + " on " + endpoint_.ToString();
  if (rc == CURLE_WRITE_ERROR && ex.stopped_by_reader) return std::move(ex.response);
  if (ex.too_big)
    return Failed(what + ": response body over " + std::to_string(kBodyBytesMax) + " bytes");
  if (rc != CURLE_OK) return Classify(rc, ex, what);
  return std::move(ex.response);
}

}  // namespace berth::docker
