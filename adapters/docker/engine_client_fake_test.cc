// EngineClient against a canned engine on a unix socket: version negotiation above the
// local engine's API and the transport's timeout classification, with no dockerd.
//
// The fake only reads a request's first line and answers from a table; it is not an HTTP
// server (the code under test speaks HTTP through libcurl).
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <thread>

#include "adapters/docker/engine_client.h"

namespace berth::docker {
namespace {

class FakeEngine {
 public:
  // answer(request_line) returns the raw HTTP answer, or "" to stay silent.
  explicit FakeEngine(std::function<std::string(const std::string&)> answer)
      : answer_(std::move(answer)) {
    path_ = "/tmp/berth-fake-" + std::to_string(getpid()) + "-" + std::to_string(next_++);
    unlink(path_.c_str());
    fd_ = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path_.c_str());
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(listen(fd_, 8), 0);
    thread_ = std::thread([this] { Serve(); });
  }
  ~FakeEngine() {
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    thread_.join();
    for (int c : silent_) close(c);
    unlink(path_.c_str());
  }
  Endpoint endpoint() const { return ParseDockerHost("unix://" + path_, false, "").value(); }
  std::vector<std::string> requests() {
    std::lock_guard<std::mutex> l(mu_);
    return requests_;
  }

 private:
  void Serve() {
    for (;;) {
      int c = accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      char buf[4096];
      ssize_t n = read(c, buf, sizeof buf);
      std::string head(buf, n > 0 ? n : 0);
      std::string line = head.substr(0, head.find("\r\n"));
      {
        std::lock_guard<std::mutex> l(mu_);
        requests_.push_back(line);
      }
      std::string out = answer_(line);
      if (out.empty()) {
        silent_.push_back(c);  // keep the connection open, say nothing
        continue;
      }
      (void)!write(c, out.data(), out.size());
      close(c);
    }
  }

  static inline std::atomic<int> next_{0};
  std::function<std::string(const std::string&)> answer_;
  std::string path_;
  int fd_ = -1;
  std::thread thread_;
  std::mutex mu_;
  std::vector<std::string> requests_;
  std::vector<int> silent_;
};

std::string Answer(int status, const std::string& body) {
  return "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Type: application/json\r\n" +
         "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
}

TEST(EngineClientFakeTest, NewerEngineIsSpokenToAt143) {
  FakeEngine engine([](const std::string& line) {
    if (line.starts_with("GET /version ")) return Answer(200, R"({"ApiVersion":"1.45"})");
    return Answer(404, R"({"message":"No such container: x"})");
  });
  EngineClient c(engine.endpoint());
  EXPECT_EQ(c.Version().value().negotiated_api, "1.43");
  EXPECT_EQ(c.InspectContainer("x").status().code(), Code::kNotFound);
  ASSERT_EQ(engine.requests().size(), 2u);
  EXPECT_EQ(engine.requests()[1], "GET /v1.43/containers/x/json HTTP/1.1");
}

TEST(EngineClientFakeTest, OlderEngineIsSpokenToAtItsOwnVersion) {
  FakeEngine engine([](const std::string& line) {
    if (line.starts_with("GET /version ")) return Answer(200, R"({"ApiVersion":"1.40"})");
    return Answer(500, R"({"message":"boom"})");
  });
  EngineClient c(engine.endpoint());
  Status s = c.StartContainer("x");
  EXPECT_EQ(s.code(), Code::kFailed);
  EXPECT_NE(s.message().find("boom"), std::string::npos);
  EXPECT_EQ(engine.requests().back(), "POST /v1.40/containers/x/start HTTP/1.1");
}

TEST(EngineClientFakeTest, SilenceAfterSendingIsUnknownOutcome) {
  FakeEngine engine([](const std::string& line) {
    if (line.starts_with("GET /version ")) return Answer(200, R"({"ApiVersion":"1.41"})");
    return std::string();  // the request arrived; the answer never comes
  });
  EngineClientOptions o;
  o.call_timeout_ms = 300;
  EngineClient c(engine.endpoint(), o);
  ContainerSpec spec;
  spec.image = "x";
  EXPECT_EQ(c.CreateContainer(spec).status().code(), Code::kUnknownOutcome);
}

TEST(EngineClientFakeTest, FailedNegotiationIsRetriedByTheNextCall) {
  std::atomic<int> version_calls{0};
  FakeEngine engine([&](const std::string& line) {
    if (line.starts_with("GET /version ") && version_calls++ == 0) {
      return Answer(500, R"({"message":"starting"})");
    }
    if (line.starts_with("GET /version ")) return Answer(200, R"({"ApiVersion":"1.41"})");
    return Answer(200, R"({"Id":"abc"})");
  });
  EngineClient c(engine.endpoint());
  ContainerSpec spec;
  spec.image = "x";
  EXPECT_EQ(c.CreateContainer(spec).status().code(), Code::kFailed);
  EXPECT_EQ(c.CreateContainer(spec).value(), "abc");
}

}  // namespace
}  // namespace berth::docker
