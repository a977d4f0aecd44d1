// EngineClient against a real dockerd: the private one ctest's fixture starts
// (scripts/testenv/docker-fixture.sh), named by DOCKER_HOST.
//
// No DOCKER_HOST means a failure, not a skip, so a broken environment cannot pass as green;
// BERTH_SKIP_DOCKER=1 skips on purpose. Every test names what it makes with its own prefix
// and label so tests may run in parallel on one daemon; TearDown removes what is left.
#include "adapters/docker/engine_client.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <thread>

#include "adapters/docker/build_context.h"

namespace berth::docker {
namespace {

constexpr const char* kBaseImage = "berth/busybox:test";

class EngineClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const char* skip = std::getenv("BERTH_SKIP_DOCKER"); skip && std::string(skip) == "1") {
      GTEST_SKIP() << "BERTH_SKIP_DOCKER=1";
    }
    const char* host = std::getenv("DOCKER_HOST");
    ASSERT_TRUE(host != nullptr && *host != '\0')
        << "DOCKER_HOST is unset: run through ctest (its fixture starts a private dockerd), "
           "or eval \"$(scripts/testenv/dockerd-start.sh DIR)\"; BERTH_SKIP_DOCKER=1 skips";
    auto client = EngineClient::FromEnvironment();
    ASSERT_TRUE(client.ok()) << client.status().ToString();
    docker_ = std::move(client.value());
    Result<EngineVersion> v = docker_->Version();
    ASSERT_TRUE(v.ok()) << v.status().ToString();
    ASSERT_TRUE(docker_->InspectImage(kBaseImage).ok())
        << kBaseImage << " is missing: run scripts/testenv/busybox-image.sh";
    std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    tag_ = "t" + std::to_string(getpid()) + "-" + test;
    for (char& c : tag_) c = static_cast<char>(std::tolower(c));
  }

  void TearDown() override {
    if (!docker_) return;
    auto left = docker_->ListContainers({{"berth.test", tag_}});
    if (left.ok()) {
      for (const ContainerInfo& c : *left) (void)docker_->RemoveContainer(c.id, true);
    }
    for (const std::string& n : networks_) (void)docker_->RemoveNetwork(n);
    for (const std::string& i : images_) (void)docker_->RemoveImage(i, true);
  }

  // A spec for a busybox container that sleeps, labelled for cleanup.
  ContainerSpec Sleeper(const std::string& suffix) {
    ContainerSpec s;
    s.name = tag_ + "-" + suffix;
    s.image = kBaseImage;
    s.cmd = std::vector<std::string>{"sleep", "300"};
    s.init = true;  // busybox as PID 1 ignores SIGTERM
    s.labels = {{"berth.test", tag_}};
    return s;
  }

  // Creates and starts; fails the test on error.
  std::string Run(const ContainerSpec& spec) {
    Result<std::string> id = docker_->CreateContainer(spec);
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    if (!id.ok()) return "";
    Status s = docker_->StartContainer(*id);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return *id;
  }

  std::unique_ptr<EngineClient> docker_;
  std::string tag_;
  std::vector<std::string> networks_;
  std::vector<std::string> images_;
};

TEST_F(EngineClientTest, VersionIsNegotiatedToAtMost143) {
  EngineVersion v = docker_->Version().value();
  EXPECT_FALSE(v.version.empty());
  EXPECT_FALSE(v.api_version.empty());
  if (v.api_version == "1.41" || v.api_version == "1.42" || v.api_version == "1.43") {
    EXPECT_EQ(v.negotiated_api, v.api_version);
  } else {
    EXPECT_EQ(v.negotiated_api, "1.43");
  }
}

TEST_F(EngineClientTest, CreateStartExecStopRemove) {
  std::string id = Run(Sleeper("life"));
  ASSERT_FALSE(id.empty());
  ContainerInfo info = docker_->InspectContainer(id).value();
  EXPECT_TRUE(info.state.running);
  EXPECT_EQ(info.state.status, "running");
  EXPECT_EQ(info.name, tag_ + "-life");
  EXPECT_EQ(info.labels["berth.test"], tag_);
  EXPECT_TRUE(info.image_id.starts_with("sha256:"));
  EXPECT_FALSE(info.ip_address.empty());

  ExecSpec e;
  e.cmd = {"sh", "-c", "echo out; echo err >&2; echo more; exit 3"};
  Result<ExecResult> r = docker_->Exec(id, e);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_EQ(r->stdout_text, "out\nmore\n");
  EXPECT_EQ(r->stderr_text, "err\n");

  ASSERT_TRUE(docker_->StopContainer(id, 2).ok());
  ASSERT_TRUE(docker_->StopContainer(id, 2).ok()) << "stopping twice is not an error";
  info = docker_->InspectContainer(id).value();
  EXPECT_FALSE(info.state.running);
  EXPECT_EQ(info.state.status, "exited");
  ASSERT_TRUE(docker_->RemoveContainer(id, false).ok());
  EXPECT_EQ(docker_->InspectContainer(id).status().code(), Code::kNotFound);
}

TEST_F(EngineClientTest, StartingARunningContainerIsOk) {
  std::string id = Run(Sleeper("twice"));
  EXPECT_TRUE(docker_->StartContainer(id).ok());
}

TEST_F(EngineClientTest, ListFindsContainersByLabel) {
  ContainerSpec a = Sleeper("a"), b = Sleeper("b"), other = Sleeper("other");
  a.labels["berth.app"] = tag_;
  b.labels["berth.app"] = tag_;
  other.labels["berth.app"] = tag_ + "-other";
  ASSERT_TRUE(docker_->CreateContainer(a).ok());
  Run(b);
  ASSERT_TRUE(docker_->CreateContainer(other).ok());
  auto found = docker_->ListContainers({{"berth.app", tag_}});
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  ASSERT_EQ(found->size(), 2u);
  for (const ContainerInfo& c : *found) {
    EXPECT_TRUE(c.name == a.name || c.name == b.name) << c.name;
    EXPECT_EQ(c.state.running, c.name == b.name);
  }
  EXPECT_EQ(docker_->ListContainers({{"berth.test", tag_}})->size(), 3u);
}

// dockerd lists a container before its create ends and answers 404 for it until then (the
// CI failure of 2026-12-01: a crashed deploy's create was still in the daemon when the
// resumed deploy found it by label, adopted it, and its start answered "No such
// container"). Anonymous volumes over the image's directories make each create slow enough
// to be listed mid-way. A listing must never hand out a container that the engine then
// does not know: it is either confirmed or the listing says "ask again" (kUnavailable).
TEST_F(EngineClientTest, ListNeverGivesAContainerWhoseCreateIsStillRunning) {
  auto lister = EngineClient::FromEnvironment();
  ASSERT_TRUE(lister.ok()) << lister.status().ToString();
  int listed = 0, unavailable = 0;
  for (int i = 0; i < 10; ++i) {
    ContainerSpec s = Sleeper("slow");
    s.labels["berth.round"] = std::to_string(i);
    s.extra_config["Volumes"] = R"({"/bin": {}, "/lib": {}, "/usr": {}, "/etc": {}})";
    std::thread create([&] { (void)docker_->CreateContainer(s); });
    bool seen = false;
    for (int poll = 0; poll < 2000 && !seen; ++poll) {
      auto found = (*lister)->ListContainers({{"berth.test", tag_}, {"berth.round", std::to_string(i)}});
      if (!found.ok()) {
        ASSERT_EQ(found.status().code(), Code::kUnavailable) << found.status().ToString();
        unavailable++;
        continue;
      }
      if (found->empty()) continue;
      seen = true;
      listed++;
      Status st = (*lister)->StartContainer(found->front().id);
      EXPECT_TRUE(st.ok()) << "round " << i << ": listed, then: " << st.ToString();
    }
    create.join();
    EXPECT_TRUE(seen) << "round " << i << ": the container was never listed";
    ASSERT_TRUE(docker_->RemoveContainer(s.name, true).ok());
  }
  std::cout << "listings during a create that said 'ask again': " << unavailable
            << "; containers listed then started: " << listed << "\n";
}

TEST_F(EngineClientTest, CommittedImageRunsWithInstalledFiles) {
  std::string id = Run(Sleeper("install"));
  ExecSpec install;
  install.cmd = {"sh", "-c", "echo installed > /srv/done"};
  ASSERT_EQ(docker_->Exec(id, install).value().exit_code, 0);
  CommitSpec c;
  c.container = id;
  c.repo = "berth-test/" + tag_;
  c.tag = "v1";
  c.labels = {{"berth.image-key", "k1"}};
  Result<std::string> image = docker_->Commit(c);
  ASSERT_TRUE(image.ok()) << image.status().ToString();
  images_.push_back(c.repo + ":v1");
  ImageInfo info = docker_->InspectImage(c.repo + ":v1").value();
  EXPECT_EQ(info.id, *image);
  EXPECT_EQ(info.labels["berth.image-key"], "k1");

  ContainerSpec from = Sleeper("from-commit");
  from.image = c.repo + ":v1";
  from.cmd = std::vector<std::string>{"cat", "/srv/done"};
  std::string second = Run(from);
  Result<int> exit_code = docker_->WaitContainer(second, 10'000);
  ASSERT_TRUE(exit_code.ok()) << exit_code.status().ToString();
  EXPECT_EQ(*exit_code, 0);
  EXPECT_EQ(docker_->Logs(second).value().stdout_text, "installed\n");
}

TEST_F(EngineClientTest, ImagesCanBeTaggedListedAndRemoved) {
  std::string repo = "berth-test/" + tag_;
  ASSERT_TRUE(docker_->TagImage(kBaseImage, repo, "x").ok());
  images_.push_back(repo + ":x");
  auto listed = docker_->ListImages({.labels = {}, .reference = repo + ":x"});
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(listed->front().id, docker_->InspectImage(kBaseImage)->id);
  ASSERT_TRUE(docker_->RemoveImage(repo + ":x", false).ok());
  EXPECT_EQ(docker_->InspectImage(repo + ":x").status().code(), Code::kNotFound);
  EXPECT_TRUE(docker_->InspectImage(kBaseImage).ok()) << "untagging keeps the image";
}

TEST_F(EngineClientTest, BuildFromTarContextRunsDockerfile) {
  BuildContext ctx;
  ASSERT_TRUE(ctx.AddFile("Dockerfile", std::string("FROM ") + kBaseImage +
                                            "\nARG WORD\nCOPY greeting /greeting\n"
                                            "RUN echo built-$WORD > /built\n")
                  .ok());
  ASSERT_TRUE(ctx.AddFile("greeting", "hello\n").ok());
  BuildSpec b;
  b.context_tar = ctx.Finish().value();
  b.tags = {"berth-test/" + tag_ + ":built"};
  b.build_args = {{"WORD", "ok"}};
  b.labels = {{"berth.test", tag_}};
  Result<BuildResult> built = docker_->BuildImage(b);
  ASSERT_TRUE(built.ok()) << built.status().ToString();
  images_.push_back(b.tags[0]);
  EXPECT_TRUE(built->image_id.starts_with("sha256:"));
  EXPECT_NE(built->log.find("RUN echo"), std::string::npos) << built->log;
  auto by_label = docker_->ListImages({.labels = {{"berth.test", tag_}}, .reference = ""});
  ASSERT_EQ(by_label.value().size(), 1u);
  EXPECT_EQ(by_label->front().id, built->image_id);

  ContainerSpec run = Sleeper("built");
  run.image = b.tags[0];
  run.cmd = std::vector<std::string>{"cat", "/built", "/greeting"};
  std::string id = Run(run);
  ASSERT_EQ(docker_->WaitContainer(id, 10'000).value(), 0);
  EXPECT_EQ(docker_->Logs(id).value().stdout_text, "built-ok\nhello\n");
}

TEST_F(EngineClientTest, BuildErrorIsReportedAsFailed) {
  BuildContext ctx;
  ASSERT_TRUE(ctx.AddFile("Dockerfile",
                          std::string("FROM ") + kBaseImage + "\nRUN echo about to fail; exit 7\n")
                  .ok());
  BuildSpec b;
  b.context_tar = ctx.Finish().value();
  b.tags = {"berth-test/" + tag_ + ":broken"};
  Result<BuildResult> built = docker_->BuildImage(b);
  ASSERT_FALSE(built.ok());
  EXPECT_EQ(built.status().code(), Code::kFailed);
  EXPECT_NE(built.status().message().find("returned a non-zero code: 7"), std::string::npos)
      << built.status().ToString();
}

TEST_F(EngineClientTest, NetworkWithSubnetGivesContainersFixedAddresses) {
  int octet = 100 + getpid() % 100;  // parallel runs must not overlap subnets
  std::string prefix = "10.231." + std::to_string(octet) + ".";
  NetworkSpec n;
  n.name = tag_ + "-net";
  n.subnet = prefix + "0/24";
  n.options = {{"com.docker.network.bridge.name", "br-bt" + std::to_string(getpid() % 100000)}};
  n.labels = {{"berth.test", tag_}};
  Result<std::string> net = docker_->CreateNetwork(n);
  ASSERT_TRUE(net.ok()) << net.status().ToString();
  networks_.push_back(n.name);
  NetworkInfo ni = docker_->InspectNetwork(n.name).value();
  EXPECT_EQ(ni.id, *net);
  EXPECT_EQ(ni.subnet, n.subnet);
  EXPECT_EQ(ni.options["com.docker.network.bridge.name"], n.options.begin()->second);

  ContainerSpec web = Sleeper("web");
  web.cmd = std::vector<std::string>{"sh", "-c",
                                     "echo from-web > /var/www/index.html && "
                                     "exec httpd -f -p 80 -h /var/www"};
  web.network = n.name;
  web.ipv4_address = prefix + "10";
  web.aliases = {"web"};
  std::string web_id = Run(web);
  ContainerInfo wi = docker_->InspectContainer(web_id).value();
  EXPECT_EQ(wi.ip_address, prefix + "10");
  EXPECT_EQ(wi.networks[n.name].ip_address, prefix + "10");

  ContainerSpec client = Sleeper("client");
  client.network = n.name;
  client.ipv4_address = prefix + "11";
  std::string client_id = Run(client);
  ExecSpec get;
  // Busybox 1.35's `wget -T` segfaults (Debian's static build): bound it with `timeout`.
  get.cmd = {"sh", "-c",
             "for i in 1 2 3 4 5 6 7 8 9 10; do timeout 2 wget -q -O- http://web/ && exit 0; "
             "sleep 0.2; done; exit 1"};
  get.timeout_ms = 30'000;
  ExecResult r = docker_->Exec(client_id, get).value();
  EXPECT_EQ(r.exit_code, 0) << r.stderr_text;
  EXPECT_EQ(r.stdout_text, "from-web\n");

  EXPECT_EQ(docker_->InspectNetwork(n.name)->containers.size(), 2u);
  EXPECT_TRUE(docker_->DisconnectNetwork(n.name, client_id, false).ok());
  EXPECT_TRUE(docker_->ConnectNetwork(n.name, client_id, {prefix + "12", {"again"}}).ok());
  EXPECT_EQ(docker_->InspectContainer(client_id)->networks[n.name].ip_address, prefix + "12");
}

TEST_F(EngineClientTest, PublishedPortAnswersOnLoopback) {
  ContainerSpec web = Sleeper("port");
  web.cmd = std::vector<std::string>{"sh", "-c",
                                     "echo via-port > /var/www/index.html && "
                                     "exec httpd -f -p 80 -h /var/www"};
  web.ports = {{80, "tcp", true, "127.0.0.1", 0}};
  std::string id = Run(web);
  ContainerInfo info = docker_->InspectContainer(id).value();
  ASSERT_EQ(info.ports.size(), 1u);
  EXPECT_EQ(info.ports[0].host_ip, "127.0.0.1");
  ASSERT_GT(info.ports[0].host_port, 0);
  Endpoint ep;
  ep.kind = Endpoint::Kind::kTcp;
  ep.host = "127.0.0.1";
  ep.port = info.ports[0].host_port;
  HttpTransport http(ep, 1000);
  HttpRequest get;
  get.target = "/";
  get.timeout_ms = 2000;
  Result<HttpResponse> resp = Status(Code::kUnavailable, "not tried");
  for (int attempt = 0; attempt < 20; ++attempt) {  // httpd may still be starting
    resp = http.Send(get);
    if (resp.ok() && resp->status == 200) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(resp.ok()) << resp.status().ToString();
  EXPECT_EQ(resp->body, "via-port\n");
}

TEST_F(EngineClientTest, HealthcheckReportsHealthy) {
  ContainerSpec s = Sleeper("health");
  s.healthcheck = Healthcheck{{"CMD-SHELL", "test -e /bin/sh"}, 200, 1000, 0, 3};
  std::string id = Run(s);
  std::string health;
  for (int i = 0; i < 50 && health != "healthy"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    health = docker_->InspectContainer(id)->state.health;
  }
  EXPECT_EQ(health, "healthy");
}

TEST_F(EngineClientTest, ErrorsAreValuesNotFoundAndConflict) {
  EXPECT_EQ(docker_->InspectContainer(tag_ + "-missing").status().code(), Code::kNotFound);
  EXPECT_EQ(docker_->StartContainer(tag_ + "-missing").code(), Code::kNotFound);
  EXPECT_EQ(docker_->InspectImage("berth-test/missing:none").status().code(), Code::kNotFound);
  EXPECT_EQ(docker_->InspectNetwork(tag_ + "-missing").status().code(), Code::kNotFound);
  ContainerSpec no_image = Sleeper("no-image");
  no_image.image = "berth-test/missing:none";
  EXPECT_EQ(docker_->CreateContainer(no_image).status().code(), Code::kNotFound);

  std::string id = Run(Sleeper("dup"));
  Result<std::string> dup = docker_->CreateContainer(Sleeper("dup"));
  EXPECT_EQ(dup.status().code(), Code::kConflict) << dup.status().ToString();
  EXPECT_NE(dup.status().message().find("already in use"), std::string::npos);
  EXPECT_EQ(docker_->RemoveContainer(id, false).code(), Code::kConflict);
  EXPECT_TRUE(docker_->RemoveContainer(id, true).ok());

  NetworkSpec n;
  n.name = tag_ + "-dupnet";
  ASSERT_TRUE(docker_->CreateNetwork(n).ok());
  networks_.push_back(n.name);
  EXPECT_EQ(docker_->CreateNetwork(n).status().code(), Code::kConflict);
}

TEST_F(EngineClientTest, ExecOnStoppedContainerIsConflict) {
  Result<std::string> id = docker_->CreateContainer(Sleeper("stopped"));
  ASSERT_TRUE(id.ok());
  ExecSpec e;
  e.cmd = {"true"};
  EXPECT_EQ(docker_->Exec(*id, e).status().code(), Code::kConflict);
}

TEST_F(EngineClientTest, ExecPastItsTimeoutIsUnknownOutcome) {
  std::string id = Run(Sleeper("slow"));
  ExecSpec e;
  e.cmd = {"sleep", "5"};
  e.timeout_ms = 500;
  auto started = std::chrono::steady_clock::now();
  Result<ExecResult> r = docker_->Exec(id, e);
  EXPECT_EQ(r.status().code(), Code::kUnknownOutcome) << r.status().ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(3));
}

TEST_F(EngineClientTest, EventStreamDeliversContainerStart) {
  EventFilter f;
  f.filters = {{"type", {"container"}}, {"label", {"berth.test=" + tag_}}};
  std::vector<Event> seen;
  Status stream_status;
  std::thread reader([&] {
    stream_status = docker_->StreamEvents(f,
                                          [&](const Event& e) {
                                            seen.push_back(e);
                                            return e.action != "start";
                                          },
                                          {});
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // let the stream open
  std::string id = Run(Sleeper("evt"));
  reader.join();
  EXPECT_TRUE(stream_status.ok()) << stream_status.ToString();
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.back().action, "start");
  EXPECT_EQ(seen.back().actor_id, id);
  EXPECT_EQ(seen.back().attributes["berth.test"], tag_);
}

TEST_F(EngineClientTest, EventStreamStopsWhenCancelled) {
  std::stop_source stop;
  EventFilter f;
  f.filters = {{"label", {"berth.test=" + tag_ + "-never"}}};
  Status s;
  std::thread reader([&] {
    s = docker_->StreamEvents(
        f, [](const Event&) { return true; }, stop.get_token());
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto asked = std::chrono::steady_clock::now();
  stop.request_stop();
  reader.join();
  EXPECT_EQ(s.code(), Code::kCancelled) << s.ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - asked, std::chrono::seconds(3));
}

TEST_F(EngineClientTest, PullFromUnreachableRegistryFails) {
  // 127.0.0.1:9 (discard) has no registry: the engine's refusal must come back as an error.
  Status s = docker_->PullImage("127.0.0.1:9/berth/none", "latest", 30'000);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Code::kFailed) << s.ToString();
}

TEST_F(EngineClientTest, OneClientServesManyThreads) {
  std::string id = Run(Sleeper("shared"));
  constexpr int kThreads = 8, kCallsPerThread = 5;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kCallsPerThread; ++i) {
        ExecSpec e;
        e.cmd = {"echo", std::to_string(t * 100 + i)};
        Result<ExecResult> r = docker_->Exec(id, e);
        if (r.ok() && r->stdout_text == std::to_string(t * 100 + i) + "\n") ++ok;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(ok.load(), kThreads * kCallsPerThread);
}

// Needs no daemon, but lives here because it is about talking to one.
TEST(EngineClientUnreachableTest, MissingSocketIsUnavailable) {
  EngineClient c(ParseDockerHost("unix:///tmp/berth-no-such-dir/docker.sock", false, "").value());
  EXPECT_EQ(c.Version().status().code(), Code::kUnavailable);
  EXPECT_EQ(c.InspectContainer("x").status().code(), Code::kUnavailable);
}

TEST(EngineClientUnreachableTest, ClosedTcpPortIsUnavailable) {
  EngineClient c(ParseDockerHost("tcp://127.0.0.1:1", false, "").value());
  Status s = c.Version().status();
  EXPECT_EQ(s.code(), Code::kUnavailable) << s.ToString();
}

}  // namespace
}  // namespace berth::docker
