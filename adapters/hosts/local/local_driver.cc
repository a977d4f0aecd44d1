#include "adapters/hosts/local/local_driver.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "adapters/docker/build_context.h"
#include "adapters/hosts/local/command.h"
#include "adapters/hosts/local/registry.h"
#include "adapters/hosts/static/static_driver.h"

namespace berth::hosts {
namespace {

namespace fs = std::filesystem;
using local::LivePid;
using local::ReadFile;
using local::Run;
using local::RunOk;
using local::WriteFile;

uint32_t Fnv32(const std::string& s) {
  uint32_t h = 2166136261u;
  for (unsigned char c : s) h = (h ^ c) * 16777619u;
  return h;
}
std::string Hex8(uint32_t v) {
  char b[9];
  std::snprintf(b, sizeof b, "%08x", v);
  return b;
}

bool LinkExists(const std::string& name, const std::string& netns = "") {
  std::vector<std::string> argv = {"ip"};
  if (!netns.empty()) argv.insert(argv.end(), {"-n", netns});
  argv.insert(argv.end(), {"link", "show", name});
  auto r = Run(argv, 10'000);
  return r.ok() && r->exit_code == 0;
}

struct Paths {
  std::string dir, data, exec, pidfile, log, ca_dir, ca, ca_key, client, client_key, server, server_key, netns, veth_host, veth_ns;
};

Paths PathsOf(const LocalOptions& o, const std::string& name) {
  Paths p;
  p.dir = o.root + "/" + name;
  p.data = p.dir + "/data";
  uint32_t h = Fnv32(o.root + "/" + name);
  p.exec = "/run/berth-" + Hex8(h);
  p.pidfile = p.dir + "/docker.pid";
  p.log = p.dir + "/dockerd.log";
  p.ca_dir = o.root + "/ca";
  p.ca = p.ca_dir + "/ca.pem";
  p.ca_key = p.ca_dir + "/ca-key.pem";
  p.client = p.ca_dir + "/client.pem";
  p.client_key = p.ca_dir + "/client-key.pem";
  p.server = p.dir + "/server.pem";
  p.server_key = p.dir + "/server-key.pem";
  p.netns = NetnsName(o, name);
  p.veth_host = "bv" + Hex8(h);
  p.veth_ns = "bp" + Hex8(h);
  return p;
}

// An EC P-256 key and a certificate signed by the CA (or self-signed when `ca` is empty),
// written atomically enough: the certificate is written last and its presence means done.
Status MakeCert(const std::string& key, const std::string& cert, const std::string& cn, const std::string& ext,
                const std::string& ca, const std::string& ca_key) {
  if (fs::exists(cert) && fs::exists(key)) return Status::Ok();
  std::string tmp = cert + ".tmp", csr = cert + ".csr", extfile = cert + ".ext";
  if (Status s = RunOk({"openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key}); !s.ok()) return s;
  if (Status s = WriteFile(extfile, ext); !s.ok()) return s;
  if (ca.empty()) {
    if (Status s = RunOk({"openssl", "req", "-x509", "-new", "-key", key, "-subj", "/CN=" + cn, "-days", "3650",
                          "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                          "-out", tmp});
        !s.ok())
      return s;
  } else {
    if (Status s = RunOk({"openssl", "req", "-new", "-key", key, "-subj", "/CN=" + cn, "-out", csr}); !s.ok()) return s;
    if (Status s = RunOk({"openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
                          "-days", "825", "-extfile", extfile, "-out", tmp});
        !s.ok())
      return s;
  }
  std::error_code ec;
  fs::remove(csr, ec);
  fs::remove(extfile, ec);
  fs::rename(tmp, cert, ec);
  if (ec) return Status(Code::kFailed, "cannot write " + cert + ": " + ec.message());
  return Status::Ok();
}

Result<std::string> AddressOf(const HostSpec& spec) {
  auto ep = docker::ParseDockerHost(spec.endpoint, true, "");
  if (!ep.ok() || ep->kind != docker::Endpoint::Kind::kTcp)
    return InvalidArgument("local host " + spec.name + ": endpoint must be tcp://ADDR:2376, not '" + spec.endpoint + "'");
  return ep->host;
}

class LocalDriver final : public HostDriver {
 public:
  explicit LocalDriver(LocalOptions o) : o_(std::move(o)) {}
  std::string name() const override { return "local"; }

  Result<HostSpec> Provision(const HostSpec& given) override {
    if (given.slot < 10 || given.slot > 250)
      return InvalidArgument("local host " + given.name + ": slot " + std::to_string(given.slot) + " is not in 10..250");
    HostSpec in = given;
    in.endpoint = "tcp://" + LocalAddress(o_, in.slot) + ":2376";
    auto addr = AddressOf(in);
    if (!addr.ok()) return addr.status();
    const Paths p = PathsOf(o_, in.name);
    std::error_code ec;
    for (const auto& d : {p.dir, p.data, p.ca_dir, p.exec}) fs::create_directories(d, ec);
    if (ec) return Status(Code::kFailed, "cannot make the host's directories under " + o_.root + ": " + ec.message());
    // Certificates: the cloud's CA, its one client certificate, this host's server one.
    if (Status s = MakeCert(p.ca_key, p.ca, "berth cloud CA", "", "", ""); !s.ok()) return s.WithContext("the cloud's CA");
    if (Status s = MakeCert(p.client_key, p.client, "berth", "extendedKeyUsage=clientAuth\n", p.ca, p.ca_key); !s.ok())
      return s.WithContext("the client certificate");
    if (Status s = MakeCert(p.server_key, p.server, in.name,
                            "subjectAltName=IP:" + *addr + "\nextendedKeyUsage=serverAuth\n", p.ca, p.ca_key);
        !s.ok())
      return s.WithContext("host " + in.name + "'s certificate");
    if (Status s = Network(p, *addr); !s.ok()) return s.WithContext("host " + in.name + "'s network");
    if (!o_.registry.empty())
      if (Status s = EnsureRegistry(RegistryOptionsOf(o_)); !s.ok()) return s;
    HostSpec out = in;
    out.registry = o_.registry;
    out.netns = p.netns;
    out.tls_ca = p.ca;
    out.tls_cert = p.client;
    out.tls_key = p.client_key;
    if (!LivePid(p.pidfile, "--pidfile=" + p.pidfile)) {
      auto pid = local::Spawn({"nsenter", "--net=/var/run/netns/" + p.netns, "dockerd", "--host=tcp://" + *addr + ":2376",
                               "--tlsverify", "--tlscacert=" + p.ca, "--tlscert=" + p.server, "--tlskey=" + p.server_key,
                               "--data-root=" + p.data, "--exec-root=" + p.exec, "--pidfile=" + p.pidfile,
                               // Plain HTTP to the cloud's registry, on the cloud's own bridge.
                               o_.registry.empty() ? "--insecure-registry=127.0.0.0/8" : "--insecure-registry=" + o_.registry},
                              p.log);
      if (!pid.ok()) return pid.status().WithContext("starting host " + in.name + "'s dockerd");
    }
    // An address a removed host had may still sit in this machine's neighbour table with
    // that host's MAC: connections would go nowhere until it ages out (about 40 s here).
    (void)Run({"ip", "neigh", "flush", "to", *addr, "dev", o_.bridge}, 10'000);
    // Until it answers over TLS (a second here), at most 60 s.
    docker::EngineClientOptions co;
    co.call_timeout_ms = 5000;
    auto client = ClientFor(out, co);
    if (!client.ok()) return client.status();
    Status last;
    for (int i = 0; i < 600; ++i) {
      auto v = (*client)->Version();
      if (v.ok()) {
        last = Status::Ok();
        break;
      }
      last = v.status();
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (!last.ok()) {
      std::string log = ReadFile(p.log);
      if (log.size() > 600) log = "..." + log.substr(log.size() - 600);
      return Status(Code::kUnavailable, "host " + in.name + "'s dockerd does not answer at " + out.endpoint + ": " +
                                            last.message() + "; its log ends: " + log);
    }
    if (Status s = SeedImage(**client); !s.ok()) return s.WithContext("host " + in.name);
    return out;
  }

  Status Deprovision(const HostSpec& spec) override {
    const Paths p = PathsOf(o_, spec.name);
    local::StopPid(p.pidfile, "--pidfile=" + p.pidfile, 20'000);
    if (fs::exists("/var/run/netns/" + p.netns)) {
      if (auto pids = Run({"ip", "netns", "pids", p.netns}, 10'000); pids.ok()) {
        std::istringstream in(pids->output);
        for (int pid; in >> pid;) ::kill(pid, SIGKILL);
      }
      if (Status s = RunOk({"ip", "netns", "del", p.netns}); !s.ok()) return s;
    }
    if (LinkExists(p.veth_host)) (void)RunOk({"ip", "link", "del", p.veth_host});
    if (spec.slot) (void)Run({"ip", "neigh", "flush", "to", LocalAddress(o_, spec.slot), "dev", o_.bridge}, 10'000);
    // Mounts the daemon left (container roots, netns files), deepest first.
    std::vector<std::string> mounts;
    std::istringstream m(ReadFile("/proc/mounts"));
    for (std::string line; std::getline(m, line);) {
      std::istringstream f(line);
      std::string dev, at;
      f >> dev >> at;
      if (at.rfind(p.dir + "/", 0) == 0 || at.rfind(p.exec + "/", 0) == 0 || at == p.exec) mounts.push_back(at);
    }
    std::sort(mounts.rbegin(), mounts.rend());
    for (const auto& at : mounts) (void)RunOk({"umount", "-l", at});
    std::error_code ec;
    fs::remove_all(p.dir, ec);
    fs::remove_all(p.exec, ec);
    if (ec) return Status(Code::kFailed, "cannot remove " + p.dir + ": " + ec.message());
    return Status::Ok();
  }

  Result<HostFacts> Describe(const HostSpec& spec) override { return MakeStaticDriver()->Describe(spec); }
  Status Teardown() override { return RemoveBridge(o_); }

 private:
  Status Network(const Paths& p, const std::string& addr) {
    const std::string gw = o_.subnet + ".1";
    if (!LinkExists(o_.bridge)) {
      // A subnet some other interface has is refused, never shared.
      auto used = Run({"ip", "-o", "-4", "addr", "show", "to", o_.subnet + ".0/24"}, 10'000);
      if (used.ok() && !used->output.empty())
        return Status(Code::kConflict, "subnet " + o_.subnet + ".0/24 is in use on this machine: " + used->output);
      if (Status s = RunOk({"ip", "link", "add", o_.bridge, "type", "bridge"}); !s.ok()) return s;
    }
    auto has = Run({"ip", "-o", "-4", "addr", "show", "dev", o_.bridge}, 10'000);
    if (!has.ok() || has->output.find(gw + "/") == std::string::npos)
      if (Status s = RunOk({"ip", "addr", "add", gw + "/24", "dev", o_.bridge}); !s.ok()) return s;
    if (Status s = RunOk({"ip", "link", "set", o_.bridge, "up"}); !s.ok()) return s;
    // Bridged traffic passes the machine's FORWARD chain, whose policy is DROP once any
    // dockerd runs: let the cloud's hosts reach each other.
    auto rule = Run({"iptables", "-C", "FORWARD", "-i", o_.bridge, "-o", o_.bridge, "-j", "ACCEPT"}, 10'000);
    if (!rule.ok() || rule->exit_code != 0)
      if (Status s = RunOk({"iptables", "-I", "FORWARD", "-i", o_.bridge, "-o", o_.bridge, "-j", "ACCEPT"}); !s.ok()) return s;
    if (!fs::exists("/var/run/netns/" + p.netns))
      if (Status s = RunOk({"ip", "netns", "add", p.netns}); !s.ok()) return s;
    if (!LinkExists(p.veth_host)) {
      // A half-made pair (killed between the two commands) is made again from scratch.
      if (LinkExists(p.veth_ns, p.netns)) (void)RunOk({"ip", "-n", p.netns, "link", "del", p.veth_ns});
      if (Status s = RunOk({"ip", "link", "add", p.veth_host, "type", "veth", "peer", "name", p.veth_ns}); !s.ok()) return s;
    }
    if (LinkExists(p.veth_ns))
      if (Status s = RunOk({"ip", "link", "set", p.veth_ns, "netns", p.netns}); !s.ok()) return s;
    if (Status s = RunOk({"ip", "link", "set", p.veth_host, "master", o_.bridge}); !s.ok()) return s;
    if (Status s = RunOk({"ip", "link", "set", p.veth_host, "up"}); !s.ok()) return s;
    auto inside = Run({"ip", "-n", p.netns, "-o", "-4", "addr", "show", "dev", p.veth_ns}, 10'000);
    if (!inside.ok() || inside->output.find(addr + "/") == std::string::npos)
      if (Status s = RunOk({"ip", "-n", p.netns, "addr", "add", addr + "/24", "dev", p.veth_ns}); !s.ok()) return s;
    for (const auto& l : {std::string("lo"), p.veth_ns})
      if (Status s = RunOk({"ip", "-n", p.netns, "link", "set", l, "up"}); !s.ok()) return s;
    auto route = Run({"ip", "-n", p.netns, "route", "show", "default"}, 10'000);
    if (!route.ok() || route->output.find(gw) == std::string::npos)
      if (Status s = RunOk({"ip", "-n", p.netns, "route", "replace", "default", "via", gw}); !s.ok()) return s;
    return Status::Ok();
  }

  // The base image: copied from the seed engine when it has it (one image id across the
  // cloud), else imported from Debian's busybox-static as scripts/testenv/busybox-image.sh
  // does, so a cloud of local hosts needs no engine beside them.
  Status SeedImage(docker::DockerClient& host) {
    if (o_.base_image.empty()) return Status::Ok();
    if (host.InspectImage(o_.base_image).ok()) return Status::Ok();
    if (o_.seed) {
      auto seed = o_.seed();
      if (seed.ok() && (*seed)->InspectImage(o_.base_image).ok()) {
        auto tar = (*seed)->SaveImage(o_.base_image);
        if (!tar.ok()) return tar.status().WithContext("copying the base image " + o_.base_image);
        return host.LoadImage(*tar);
      }
    }
    // Imported once per cloud and saved: an import gets a new id each time (its creation
    // time), and images made from the base must have one id on every host for the cloud's
    // image cache (an install key names its base's id).
    const std::string saved = o_.root + "/base-image.tar";
    if (fs::exists(saved)) return host.LoadImage(ReadFile(saved));
    auto tar = BusyboxRootfs();
    if (!tar.ok()) return tar.status().WithContext("making the base image " + o_.base_image);
    size_t colon = o_.base_image.rfind(':');
    std::string repo = colon == std::string::npos ? o_.base_image : o_.base_image.substr(0, colon);
    std::string tag = colon == std::string::npos ? "latest" : o_.base_image.substr(colon + 1);
    if (Status s = host.ImportImage(*tar, repo, tag,
                                    {"ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "CMD [\"/bin/sh\"]"});
        !s.ok())
      return s;
    auto image = host.SaveImage(o_.base_image);
    if (!image.ok()) return image.status().WithContext("saving the base image for the cloud's other hosts");
    if (Status s = WriteFile(saved + ".tmp", *image); !s.ok()) return s;
    std::error_code ec;
    fs::rename(saved + ".tmp", saved, ec);
    if (ec) return Status(Code::kFailed, "cannot save the base image as " + saved + ": " + ec.message());
    return Status::Ok();
  }

  // A root filesystem of busybox-static with its applets linked, as a tar.
  Result<std::string> BusyboxRootfs() {
    const std::string busybox = "/bin/busybox";
    auto list = Run({busybox, "--list"}, 10'000);
    if (!list.ok() || list->exit_code != 0)
      return Status(Code::kNotFound, busybox + " is not busybox-static (install it: scripts/setup.sh)");
    std::error_code ec;
    fs::path root = fs::temp_directory_path() / ("berth-rootfs-" + Hex8(Fnv32(o_.root)) + "-" + std::to_string(::getpid()));
    fs::remove_all(root, ec);
    for (const char* d : {"bin", "sbin", "usr/bin", "usr/sbin", "tmp", "etc", "var/www", "root", "home", "proc", "sys", "dev", "srv"})
      fs::create_directories(root / d, ec);
    fs::permissions(root / "tmp", fs::perms::all | fs::perms::sticky_bit, ec);
    fs::copy_file(busybox, root / "bin/busybox", ec);
    if (ec) return Status(Code::kFailed, "cannot copy " + busybox + ": " + ec.message());
    std::istringstream applets(list->output);
    for (std::string a; applets >> a;)
      if (a != "busybox") fs::create_symlink("busybox", root / "bin" / a, ec);
    (void)WriteFile((root / "etc/passwd").string(), "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n");
    (void)WriteFile((root / "etc/group").string(), "root:x:0:\nnogroup:x:65534:\n");
    docker::BuildContext tar;
    Status s = tar.AddDirectory(root.string());
    auto bytes = s.ok() ? tar.Finish() : Result<std::string>(s);
    fs::remove_all(root, ec);
    return bytes;
  }

  LocalOptions o_;
};

}  // namespace

std::string NetnsName(const LocalOptions& o, const std::string& host) {
  return "berth-" + o.bridge.substr(2) + "-" + host;  // one cloud's hosts never meet another's
}

std::string LocalAddress(const LocalOptions& o, int slot) { return o.subnet + "." + std::to_string(slot); }

LocalOptions LocalOptionsFor(const std::string& data_dir) {
  LocalOptions o;
  std::error_code ec;
  fs::path abs = fs::absolute(data_dir, ec);
  o.root = (ec ? fs::path(data_dir) : abs.lexically_normal()).string() + "/hosts";
  uint32_t h = Fnv32(o.root);
  o.bridge = "bb" + Hex8(h).substr(0, 6);
  o.subnet = "10.213." + std::to_string(h % 250 + 1);
  o.registry = o.subnet + ".1:5213";
  return o;
}

std::unique_ptr<HostDriver> MakeLocalDriver(LocalOptions options) {
  return std::make_unique<LocalDriver>(std::move(options));
}

RegistryOptions RegistryOptionsOf(const LocalOptions& o) { return {o.root + "/registry", o.registry}; }

Status RemoveBridge(const LocalOptions& o) {
  if (Status s = RemoveRegistry(RegistryOptionsOf(o)); !s.ok()) return s;
  auto rule = Run({"iptables", "-C", "FORWARD", "-i", o.bridge, "-o", o.bridge, "-j", "ACCEPT"}, 10'000);
  if (rule.ok() && rule->exit_code == 0)
    if (Status s = RunOk({"iptables", "-D", "FORWARD", "-i", o.bridge, "-o", o.bridge, "-j", "ACCEPT"}); !s.ok()) return s;
  if (LinkExists(o.bridge))
    if (Status s = RunOk({"ip", "link", "del", o.bridge}); !s.ok()) return s;
  std::error_code ec;
  fs::remove_all(o.root + "/ca", ec);
  fs::remove(o.root + "/base-image.tar", ec);
  return Status::Ok();
}

}  // namespace berth::hosts
