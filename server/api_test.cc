#include "server/api.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "adapters/docker/http_transport.h"
#include "engine/workflow_state.h"
#include "engine/registry.h"
#include "server/http_server.h"
#include "server/metrics.h"
#include "workflows/synthetic/synthetic.h"
#include "tests/scratch_dir.h"

namespace berth::server {
namespace {

using nlohmann::json;

// A bare connection to the unix socket at `path` (a client that says nothing yet); -1 if refused.
int ConnectRaw(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path.c_str());
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) return fd;
  ::close(fd);
  return -1;
}

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto r = eventlog::EventLog::Open(dir_.path().string() + "/log", eventlog::Options());
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    log_ = std::move(r).value();
    // Three workflows, one a child with a '/' in its id.
    for (std::string id : {"a", "b", "p/kid"}) {
      eventlog::AppendRequest req;
      for (uint64_t i = 1; i <= 3; ++i) req.events.push_back({id, i, 0, eventlog::Actor::kUser, "Step", 1, "", {}});
      engine::WorkflowSummary s;
      s.id = id;
      s.type = id == "b" ? "deploy" : "synthetic";
      s.status = id == "a" ? engine::RunStatus::kCompleted : engine::RunStatus::kRunning;
      s.events = 3;
      req.projections.push_back({engine::SummaryKey(id), engine::EncodeSummary(s)});
      ASSERT_TRUE(log_->Append(std::move(req)).ok());
    }
  }
  ApiResponse Get(const std::string& target) const { return Api(log_.get(), nullptr).Handle({"GET", target, ""}); }
  static json Body(const ApiResponse& r) { return json::parse(r.body); }

  berth::testing::ScratchDir dir_{"server"};
  std::unique_ptr<eventlog::EventLog> log_;
};

TEST_F(ApiTest, ListsWorkflowsInPagesWithFilters) {
  auto all = Get("/v1/workflows");
  ASSERT_EQ(all.status, 200) << all.body;
  EXPECT_EQ(Body(all)["workflows"].size(), 3u);
  EXPECT_TRUE(Body(all)["next_after"].is_null());
  auto page = Get("/v1/workflows?limit=2");
  EXPECT_EQ(Body(page)["workflows"].size(), 2u);
  EXPECT_EQ(Body(page)["next_after"], "b");
  auto next = Get("/v1/workflows?limit=2&after=b");
  ASSERT_EQ(Body(next)["workflows"].size(), 1u);
  EXPECT_EQ(Body(next)["workflows"][0]["id"], "p/kid");
  EXPECT_EQ(Body(Get("/v1/workflows?status=running"))["workflows"].size(), 2u);
  EXPECT_EQ(Body(Get("/v1/workflows?type=deploy&status=running"))["workflows"].size(), 1u);
}

TEST_F(ApiTest, EventsOfAWorkflowWhoseIdNeedsEscaping) {
  auto r = Get("/v1/workflows/" + PercentEncode("p/kid") + "/events");
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(Body(r).size(), 3u);
  EXPECT_EQ(Body(r)[0]["workflow_seq"], 1);
  EXPECT_EQ(Body(r)[0]["actor"], "user");
  auto tail = Body(Get("/v1/workflows/p%2Fkid/events?after=" + std::to_string(Body(r)[1]["seq"].get<uint64_t>())));
  ASSERT_EQ(tail.size(), 1u);
  EXPECT_EQ(tail[0]["workflow_seq"], 3);
  EXPECT_EQ(Body(Get("/v1/workflows/a/events?limit=2")).size(), 2u);
}

TEST_F(ApiTest, AuditListsContainerChangesWithWhoStartedThem) {
  eventlog::AppendRequest req;
  req.events.push_back({"a", 4, 0, eventlog::Actor::kSystem, "Step", 1, "", {"container:web-1", "app:shop"}});
  ASSERT_TRUE(log_->Append(std::move(req)).ok());
  auto rows = Get("/v1/audit?container=web-1");
  ASSERT_EQ(rows.status, 200) << rows.body;
  ASSERT_EQ(Body(rows).size(), 1u);
  EXPECT_EQ(Body(rows)[0]["container"], "web-1");
  EXPECT_EQ(Body(rows)[0]["workflow"], "a");
  EXPECT_EQ(Body(Get("/v1/audit?app=shop")).size(), 1u);
  EXPECT_EQ(Body(Get("/v1/audit")).size(), 1u);
  EXPECT_EQ(Body(Get("/v1/audit?container=web-2")).size(), 0u);
  EXPECT_EQ(Get("/v1/audit?service=web").status, 400);
  EXPECT_EQ(Get("/v1/audit?colour=red").status, 400);
}

// A history's body is cached while its event count holds; a new event makes a new body.
TEST_F(ApiTest, AHistoryServedFromTheCacheGrowsWithItsWorkflow) {
  Api api(log_.get(), nullptr);
  auto first = api.Handle({"GET", "/v1/workflows/b/events", ""});
  ASSERT_EQ(first.status, 200);
  EXPECT_EQ(Body(first).size(), 3u);
  EXPECT_EQ(api.Handle({"GET", "/v1/workflows/b/events", ""}).body, first.body) << "the cached body";
  eventlog::AppendRequest req;
  req.events.push_back({"b", 4, 0, eventlog::Actor::kUser, "Step", 1, "", {}});
  engine::WorkflowSummary s;
  s.id = "b";
  s.type = "deploy";
  s.events = 4;
  req.projections.push_back({engine::SummaryKey("b"), engine::EncodeSummary(s)});
  ASSERT_TRUE(log_->Append(std::move(req)).ok());
  EXPECT_EQ(Body(api.Handle({"GET", "/v1/workflows/b/events", ""})).size(), 4u);
  EXPECT_EQ(Body(api.Handle({"GET", "/v1/workflows/b/events?after=6", ""})).size(), 1u) << "b: seqs 4-6, then 10";
}

TEST(EventsBodyCacheTest, KeepsAtMostItsEntriesLeastRecentlyUsedOutFirst) {
  EventsBodyCache c;
  auto body = std::make_shared<const std::string>("x");
  for (size_t i = 0; i <= EventsBodyCache::kEntries; ++i) {
    c.Put("w" + std::to_string(i), 1, body);
    if (i == 0) c.Get("w0", 1);
    if (i == 1) {
      ASSERT_TRUE(c.Get("w0", 1)) << "w0 is now the most recent";
    }
  }
  EXPECT_TRUE(c.Get("w0", 1)) << "used after w1: w1 went first";
  EXPECT_FALSE(c.Get("w1", 1));
  EXPECT_FALSE(c.Get("w2", 2)) << "another event count: not this body";
  EXPECT_TRUE(c.Get("w2", 1));
}

TEST_F(ApiTest, CountsTheEventsThatNameASubject) {
  eventlog::AppendRequest req;
  req.events.push_back({"a", 4, 0, eventlog::Actor::kSystem, "Step", 1, "", {"image:web:1"}});
  req.events.push_back({"a", 5, 0, eventlog::Actor::kSystem, "Other", 1, "", {"image:web:1"}});
  ASSERT_TRUE(log_->Append(std::move(req)).ok());
  auto all = Get("/v1/subjects/image%3Aweb%3A1");
  ASSERT_EQ(all.status, 200) << all.body;
  EXPECT_EQ(Body(all)["events"], 2);
  EXPECT_EQ(Body(Get("/v1/subjects/image%3Aweb%3A1?type=Step"))["events"], 1);
  EXPECT_EQ(Body(Get("/v1/subjects/image%3Aweb%3A2"))["events"], 0) << "a subject never named: none";
  EXPECT_EQ(Get("/v1/subjects/x?colour=red").status, 400);
}

TEST_F(ApiTest, BadRequestsNameTheProblem) {
  auto unknown = Get("/v1/nothing");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_NE(Body(unknown)["error"].get<std::string>().find("/v1/nothing"), std::string::npos);
  auto missing = Get("/v1/workflows/zz/events");
  EXPECT_EQ(missing.status, 404);
  EXPECT_NE(Body(missing)["error"].get<std::string>().find("no workflow 'zz'"), std::string::npos);
  auto limit = Get("/v1/workflows?limit=ten");
  EXPECT_EQ(limit.status, 400);
  EXPECT_NE(Body(limit)["error"].get<std::string>().find("'limit'"), std::string::npos);
  EXPECT_EQ(Get("/v1/workflows?status=sleeping").status, 400);
  EXPECT_EQ(Get("/v1/workflows?colour=red").status, 400);
  EXPECT_EQ(Get("/v1/workflows/a%zz/events").status, 400);
  EXPECT_EQ(Get("/v1/workflows?after=%4").status, 400);
  EXPECT_EQ(Api(log_.get(), nullptr).Handle({"PUT", "/v1/workflows", "{}"}).status, 405);
  EXPECT_EQ(Api(log_.get(), nullptr).Handle({"POST", "/v1/workflows", "{}"}).status, 503) << "no engine";
}

// Starting and cancelling through the API, with the real engine and the synthetic type.
class ApiEngineTest : public ApiTest {
 protected:
  void SetUp() override {
    ApiTest::SetUp();
    registry_.Add(workflows::MakeSyntheticWorkflow());
    registry_.Add(workflows::MakeSyntheticActivity(dir_.path().string()));
    engine::EngineOptions o;
    o.observer = [this](const eventlog::Event& e) { metrics_.OnEvent(e); };
    engine_ = std::make_unique<engine::Engine>(log_.get(), &registry_, o);
  }
  void TearDown() override { engine_->Shutdown(); }
  ApiResponse Post(const std::string& target, const std::string& body) {
    return Api(log_.get(), engine_.get(), &metrics_).Handle({"POST", target, body});
  }
  ApiResponse GetCounted(const std::string& target) {
    return Api(log_.get(), engine_.get(), &metrics_).Handle({"GET", target, ""});
  }
  Metrics metrics_;
  engine::Registry registry_;
  std::unique_ptr<engine::Engine> engine_;
};

TEST_F(ApiEngineTest, StartsAWorkflowAndShowsItsSummaryAndResult) {
  auto r = Post("/v1/workflows", R"({"type":"synthetic","id":"s1","input":{"steps":2,"noop":true}})");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(Body(r)["id"], "s1");
  ASSERT_TRUE(engine_->Wait("s1").ok());
  auto wf = Get("/v1/workflows/s1");
  ASSERT_EQ(wf.status, 200) << wf.body;
  EXPECT_EQ(Body(wf)["summary"]["status"], "completed");
  EXPECT_FALSE(Body(wf)["result"].is_null());
  auto events = Body(Get("/v1/workflows/s1/events"));
  bool detail = false;
  for (const auto& e : events) detail = detail || (e["type"] == "ActivityCompleted" && e["detail"]["step"].is_string());
  EXPECT_TRUE(detail) << "activity events carry their step";
  EXPECT_EQ(Post("/v1/workflows", R"({"type":"synthetic","id":"s1","input":{"steps":1,"noop":true}})").status, 409)
      << "an id in use";
  EXPECT_EQ(Post("/v1/workflows/s1/cancel", "").status, 409) << "it has ended";
  EXPECT_EQ(Post("/v1/workflows/zz/cancel", "").status, 404);
  EXPECT_EQ(Post("/v1/workflows/s1/retry", R"({"from":"step-1"})").status, 409) << "it completed";
  EXPECT_EQ(Post("/v1/workflows/zz/retry", R"({"from":"step-1"})").status, 404);
  EXPECT_EQ(Post("/v1/workflows/s1/retry", R"({"step":"step-1"})").status, 400);
  EXPECT_EQ(Post("/v1/workflows/s1/retry", "[").status, 400);
  EXPECT_EQ(Get("/v1/workflows/zz").status, 404);
}

TEST_F(ApiEngineTest, MetricsCountWorkflowsStepsAndRequests) {
  ASSERT_EQ(Post("/v1/workflows", R"({"type":"synthetic","id":"m1","input":{"steps":3,"noop":true}})").status, 201);
  ASSERT_TRUE(engine_->Wait("m1").ok());
  engine_->WaitIdle();
  EXPECT_EQ(GetCounted("/v1/workflows/m1").status, 200);
  EXPECT_EQ(GetCounted("/v1/nothing").status, 404);
  auto m = GetCounted("/metrics");
  ASSERT_EQ(m.status, 200);
  EXPECT_EQ(m.content_type.rfind("text/plain", 0), 0u);
  for (const char* want : {"berth_workflows_started_total{type=\"synthetic\"} 1",
                           "berth_workflows_ended_total{type=\"synthetic\",status=\"completed\"} 1",
                           "berth_workflows_running 0",
                           "berth_step_seconds_count{activity=\"synthetic.effect\"} 3",
                           "berth_http_requests_total{route=\"/v1/workflows\",code=\"201\"} 1",
                           "berth_http_requests_total{route=\"/v1/workflows/{id}\",code=\"200\"} 1",
                           "berth_http_requests_total{route=\"other\",code=\"404\"} 1",
                           "# TYPE berth_event_durable_seconds histogram"})
    EXPECT_NE(m.body.find(want), std::string::npos) << want << "\n" << m.body;
  EXPECT_EQ(Api(log_.get(), engine_.get()).Handle({"GET", "/metrics", ""}).status, 404) << "no metrics: no route";
}

TEST_F(ApiEngineTest, BadStartBodiesAreRefusedWithTheReason) {
  for (const char* body : {"", "[1]", "{\"type\":3}", "{\"input\":{}}", "{\"type\":\"synthetic\",\"colour\":1}",
                           "{\"type\":\"synthetic\",\"id\":7}"}) {
    auto r = Post("/v1/workflows", body);
    EXPECT_EQ(r.status, 400) << body << " -> " << r.body;
    EXPECT_FALSE(Body(r)["error"].get<std::string>().empty());
  }
  auto unknown = Post("/v1/workflows", R"({"type":"nosuch"})");
  EXPECT_EQ(unknown.status, 400) << unknown.body;
  EXPECT_NE(Body(unknown)["error"].get<std::string>().find("nosuch"), std::string::npos);
}

TEST(PercentCoding, RoundTripsAndRefusesBadEscapes) {
  std::string out;
  for (std::string s : {"", "a", "p/kid", "x y%z", "\xff\x01"}) {
    ASSERT_TRUE(PercentDecode(PercentEncode(s), &out));
    EXPECT_EQ(out, s);
  }
  EXPECT_FALSE(PercentDecode("%", &out));
  EXPECT_FALSE(PercentDecode("%4", &out));
  EXPECT_FALSE(PercentDecode("%g0", &out));
}

// The server over a real unix socket, with the client the CLI uses.
TEST_F(ApiTest, ServesOverItsSocketAndRefusesOversizedBodies) {
  std::string sock = dir_.path().string() + "/s.sock";
  Api api(log_.get(), nullptr);
  HttpServerOptions o;
  o.socket_path = sock;
  o.body_bytes_max = 1000;
  HttpServer server(o, [&](const ApiRequest& r) { return api.Handle(r); });
  ASSERT_TRUE(server.Start().ok());
  docker::Endpoint ep;
  ep.socket_path = sock;
  docker::HttpTransport client(ep, 2000);
  auto r = client.Send({"GET", "/v1/workflows?limit=1", "", "", 5000, {}, {}, {}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(json::parse(r->body)["workflows"].size(), 1u);
  auto big = client.Send({"PUT", "/v1/workflows", std::string(5000, 'x'), "application/json", 5000, {}, {}, {}});
  ASSERT_TRUE(big.ok()) << big.status().ToString();
  EXPECT_EQ(big->status, 413);
  // Idle connections hold no thread: with 1,000 open and silent, a request is still
  // answered (each costs this process two descriptors: the limit is raised to allow them).
  rlimit nofile{};
  ::getrlimit(RLIMIT_NOFILE, &nofile);
  nofile.rlim_cur = std::max<rlim_t>(nofile.rlim_cur, std::min<rlim_t>(nofile.rlim_max, 4096));
  ::setrlimit(RLIMIT_NOFILE, &nofile);
  ASSERT_GE(nofile.rlim_cur, 2100u) << "this test needs 2,100 descriptors";
  std::vector<int> idle;
  for (int i = 0; i < 1000; ++i) {
    int fd = ConnectRaw(sock);
    ASSERT_GE(fd, 0);
    idle.push_back(fd);
  }
  auto again = client.Send({"GET", "/v1/health", "", "", 5000, {}, {}, {}});
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->status, 200);
  for (int fd : idle) ::close(fd);
  server.Stop();
  EXPECT_FALSE(std::filesystem::exists(sock)) << "the socket is removed at stop";
}

// A client that stops mid-request is cut off at the read timeout, holding no thread
// meanwhile: others are answered while it dawdles.
TEST_F(ApiTest, ASlowClientIsCutOffAndHoldsNobodyUp) {
  std::string sock = dir_.path().string() + "/slow.sock";
  Api api(log_.get(), nullptr);
  HttpServerOptions o;
  o.socket_path = sock;
  o.read_timeout_ms = 300;
  o.threads = 1;
  HttpServer server(o, [&](const ApiRequest& r) { return api.Handle(r); });
  ASSERT_TRUE(server.Start().ok());
  int fd = ConnectRaw(sock);
  ASSERT_GE(fd, 0);
  const char half[] = "GET /v1/health HTTP/1.1\r\nHost: x\r\n";  // no blank line: never ends
  ASSERT_EQ(::write(fd, half, sizeof half - 1), ssize_t(sizeof half - 1));
  docker::Endpoint ep;
  ep.socket_path = sock;
  auto other = docker::HttpTransport(ep, 2000).Send({"GET", "/v1/health", "", "", 5000, {}, {}, {}});
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  EXPECT_EQ(other->status, 200) << "answered while the slow one is open, on the server's one thread";
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char buf[64];
  // 0: closed by the server without an answer (-1 after 5 s: still held open).
  EXPECT_EQ(::read(fd, buf, sizeof buf), 0) << "the slow client was not cut off";
  ::close(fd);
}

// A followed workflow streams every event once, in order, as it becomes durable, then its
// end; a follower that reconnects from a seq gets only what came after it.
TEST_F(ApiEngineTest, FollowingAWorkflowStreamsEachEventOnceThenItsEnd) {
  std::string sock = dir_.path().string() + "/f.sock";
  Api api(log_.get(), engine_.get());
  HttpServerOptions o;
  o.socket_path = sock;
  o.stream_poll_ms = 5;
  HttpServer server(o, [&](const ApiRequest& r) { return api.Handle(r); });
  ASSERT_TRUE(server.Start().ok());
  ASSERT_EQ(Post("/v1/workflows", R"({"type":"synthetic","id":"f1","input":{"steps":8,"sleep_ms":20}})").status, 201);
  docker::Endpoint ep;
  ep.socket_path = sock;
  auto follow = [&](uint64_t after, std::vector<uint64_t>* seqs, json* end) {
    std::string pending;
    docker::HttpRequest req;
    req.target = "/v1/workflows/f1/events?follow=1&after=" + std::to_string(after);
    req.timeout_ms = 20'000;
    req.on_data = [&](std::string_view d) {
      pending.append(d);
      for (size_t nl; (nl = pending.find('\n')) != std::string::npos; pending.erase(0, nl + 1)) {
        json line = json::parse(pending.substr(0, nl));
        if (line.contains("workflow")) *end = line["workflow"];
        else seqs->push_back(line["seq"].get<uint64_t>());
      }
      return true;
    };
    auto r = docker::HttpTransport(ep, 2000).Send(req);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->status, 200);
  };
  std::vector<uint64_t> seqs;
  json end;
  follow(0, &seqs, &end);  // starts while the workflow runs (8 steps of 20 ms)
  ASSERT_FALSE(end.is_null()) << "the stream ends with the workflow";
  EXPECT_EQ(end["summary"]["status"], "completed");
  auto all = Body(Get("/v1/workflows/f1/events"));
  ASSERT_EQ(seqs.size(), all.size()) << "every event once";
  for (size_t i = 0; i < seqs.size(); ++i) EXPECT_EQ(seqs[i], all[i]["seq"].get<uint64_t>());
  std::vector<uint64_t> rest;
  json end2;
  follow(seqs[4], &rest, &end2);  // a reconnect after the fifth event
  EXPECT_EQ(rest, std::vector<uint64_t>(seqs.begin() + 5, seqs.end()));
  EXPECT_FALSE(end2.is_null());
  // A stream of a workflow that is not there, or with a bad parameter, is refused at once.
  EXPECT_EQ(Get("/v1/workflows/zz/events?follow=1").status, 404);
  EXPECT_EQ(Get("/v1/workflows/f1/events?follow=yes").status, 400);
  EXPECT_EQ(Get("/v1/workflows/f1/events?follow=1&limit=3").status, 400);
}

}  // namespace
}  // namespace berth::server
