// berth: submit workflows, look back at what happened, resume after a crash.
#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>

#include "tools/berth/apps.h"
#include "tools/berth/commands.h"
#include "tools/berth/hosts_cmd.h"

using namespace berth::tool;

namespace {
std::string DefaultDataDir() {
  const char* home = std::getenv("BERTH_HOME");
  return home && *home ? home : "./.berth";
}
// The file and the options that decide how it loads, as `up` and `config` take them.
void AddBlueprintOptions(CLI::App* cmd, BlueprintArgs& a) {
  cmd->add_option("file", a.file, "Compose file (with optional x-berth extensions)")->required();
  cmd->add_option("-p,--project-name", a.project, "app name (default: the file's `name:`, else its directory's name)");
  cmd->add_option("--env-file", a.env_files, "variables for interpolation (repeatable; default: the .env beside the file)");
  cmd->add_option("--profile", a.profiles, "enable services of this profile (repeatable; '*' all; default $COMPOSE_PROFILES)");
}

}  // namespace

int main(int argc, char** argv) {
  MakeNewFilesPrivate();  // umask 077: the data directory holds every deploy's secrets
  CLI::App app{"berth: a Docker cloud maker whose control plane never loses its place.\n"
               "Every step is a durable workflow in an embedded RocksDB log."};
  app.require_subcommand(1);
  app.fallthrough();  // global options (-o, --data-dir) may also follow the subcommand
  Globals g;
  g.data_dir = DefaultDataDir();
  std::string output = "table";
  app.add_option("--data-dir", g.data_dir, "data directory (default: $BERTH_HOME, else ./.berth)");
  app.add_option("-o,--output", output, "output format (yaml: berth config only)")->check(CLI::IsMember({"table", "json", "yaml"}));
  int rc = 0;
  auto fin = [&] { g.output = output == "json" ? Output::kJson : Output::kTable; };

  SubmitArgs sa;
  auto* submit = app.add_subcommand("submit", "start a workflow of a registered type and (unless --detach) run it to its end");
  submit->add_option("type", sa.type, "workflow type (e.g. synthetic)")->required();
  submit->add_option("--input", sa.input, "input as JSON, or @FILE (default {})");
  submit->add_option("--id", sa.id, "workflow id (default: <type>-<random hex>)");
  submit->add_flag("--detach", sa.detach, "record the start durably, print the id, exit; it runs at the next `berth resume`");
  submit->callback([&] { fin(); rc = Submit(g, sa); });

  std::string status, type;
  auto* wfs = app.add_subcommand("workflows", "list workflows");
  wfs->add_option("--status", status, "only this status")->check(CLI::IsMember({"running", "completed", "failed", "cancelled"}));
  wfs->add_option("--type", type, "only this type");
  uint64_t wf_limit = 1000;
  std::string wf_after;
  wfs->add_option("--limit", wf_limit, "at most this many (default 1000; 0: all)");
  wfs->add_option("--after", wf_after, "start after this workflow id (ids are listed in order)");
  wfs->callback([&] { fin(); rc = Workflows(g, status, type, wf_limit, wf_after); });

  std::string wf;
  auto* hist = app.add_subcommand("history", "show a workflow's events in order");
  hist->add_option("workflow", wf, "workflow id")->required();
  hist->callback([&] { fin(); rc = History(g, wf); });

  bool verify = false;
  auto* rep = app.add_subcommand("replay", "re-fold histories; with --verify check checksums, hash chain, determinism and projections");
  rep->add_option("workflow", wf, "only this workflow (default: the whole log)");
  rep->add_flag("--verify", verify, "exit 1 unless everything verifies");
  rep->callback([&] { fin(); rc = Replay(g, wf, verify); });

  bool detach = false;
  auto* res = app.add_subcommand("resume", "resume every unfinished workflow and wait for them");
  res->add_flag("--detach", detach, "resume in a background process and exit at once");
  res->callback([&] { fin(); rc = Resume(g, detach); });

  auto* can = app.add_subcommand("cancel", "cancel a running workflow");
  can->add_option("workflow", wf, "workflow id")->required();
  can->callback([&] { fin(); rc = Cancel(g, wf); });

  UpArgs ua;
  std::string pause_wf;
  auto* pause = app.add_subcommand("pause", "pause a running workflow: no new step starts, running ones finish (a server keeps it paused; in-process it stays parked in the log)");
  pause->add_option("workflow", pause_wf, "workflow id")->required();
  pause->callback([&] { fin(); rc = Pause(g, pause_wf, true); });
  auto* unpause = app.add_subcommand("unpause", "let a paused workflow go on (in-process: runs it to its end)");
  unpause->add_option("workflow", pause_wf, "workflow id")->required();
  unpause->callback([&] { fin(); rc = Pause(g, pause_wf, false); });

  std::string retry_wf, retry_from;
  auto* retry = app.add_subcommand("retry", "re-run a failed workflow from one of its steps (that step and every step after it run again; the rest of its history stays), on record, and wait for its new end");
  retry->add_option("workflow", retry_wf, "workflow id")->required();
  retry->add_option("--from", retry_from, "the step to run again from, as `berth history` names it (e.g. create/web/1)")->required();
  retry->callback([&] { fin(); rc = Retry(g, retry_wf, retry_from); });

  auto* serve = app.add_subcommand("serve", "hold the data directory and serve the HTTP API (docs/api.md) on <data-dir>/berth.sock (mode 0600) until SIGTERM or Ctrl-C; submit, workflows, history, audit, cancel, pause, unpause, retry, replay, images, up and down then go through it; --listen adds TCP with a bearer token");
  ServeArgs serve_args;
  serve->add_option("--listen", serve_args.listen, "also serve TCP on ADDRESS:PORT (e.g. 127.0.0.1:7070; port 0: any free one, printed), every request with 'Authorization: Bearer <token>'; an address other than loopback needs --tls-cert and --tls-key");
  serve->add_option("--token-file", serve_args.token_file, "the bearer token for TCP (default <data-dir>/serve.token, generated at first start, mode 0600)");
  serve->add_option("--tls-cert", serve_args.tls_cert, "serve TCP over TLS with this PEM certificate (chain)");
  serve->add_option("--tls-key", serve_args.tls_key, "the PEM private key of --tls-cert");
  serve->add_option("--headroom", serve_args.headroom, "keep room for N more containers: provision `local` hosts (pool-1, pool-2, ...) before a deploy needs them, and give back empty ones Berth made (docs/hosts.md, \"Headroom\"); 0: off")->check(CLI::Range(0, 100000));
  serve->add_option("--max-per-host", serve_args.max_per_host, "what the headroom policy counts one host can take, in containers (default 4)")->check(CLI::Range(1, 10000));
  serve->add_option("--min-hosts", serve_args.min_hosts, "hosts the headroom policy keeps even when empty (default 0)")->check(CLI::Range(0, 1000));
  serve->add_option("--max-hosts", serve_args.max_hosts, "hosts the headroom policy never goes above (default 10)")->check(CLI::Range(1, 1000));
  serve->add_option("--pool-label", serve_args.pool_labels, "KEY=VALUE on the hosts the headroom policy provisions (repeatable)");
  serve->add_option("--idle", serve_args.idle_s, "seconds an empty host Berth provisioned stays before the headroom policy removes it (default 60)")->check(CLI::Range(0.0, 1e6));
  serve->add_option("--policy-interval", serve_args.policy_interval_s, "seconds between the headroom policy's rounds (default 2)")->check(CLI::Range(0.01, 3600.0));
  serve->callback([&] { fin(); rc = Serve(g, serve_args); });

  auto* up = app.add_subcommand("up", "deploy (or update) a Compose app on the Docker engine and wait until it is healthy");
  AddBlueprintOptions(up, ua);
  up->add_flag("--detach", ua.detach, "record the deploy durably, print its id, exit; it runs at the next `berth resume`");
  up->add_flag("--no-cache", ua.no_cache, "run x-berth.install in every new container instead of using the image cache");
  up->callback([&] { fin(); rc = Up(g, ua); });

  ConfigArgs ca;
  auto* config = app.add_subcommand("config", "check a Compose file without an engine and print the blueprint a deploy would record (-o json, else YAML); exit 2 with every problem (file:line:col)");
  AddBlueprintOptions(config, ca);
  config->add_flag("-q,--quiet", ca.quiet, "only check: print nothing when the file is valid");
  config->callback([&] { fin(); rc = Config(g, ca); });

  std::string app_name;
  auto* down = app.add_subcommand("down", "stop and remove an app's containers (reverse depends_on order) and networks; images stay");
  down->add_option("app", app_name, "app name (see `berth ps`)")->required();
  down->add_flag("--detach", detach, "record the undeploy durably, print its id, exit");
  down->callback([&] { fin(); rc = Down(g, app_name, detach); });

  auto* ps = app.add_subcommand("ps", "list the containers Berth made (the engine's own listing, by label)");
  ps->add_option("app", app_name, "only this app");
  ps->callback([&] { fin(); rc = Ps(g, app_name); });

  auto* images = app.add_subcommand("images", "list the install cache (berth-cache/...) and built images, with the containers made from each");
  images->callback([&] { fin(); rc = Images(g); });

  AuditArgs aa;
  auto* audit = app.add_subcommand("audit", "every recorded change to containers: when, which workflow, by whom, what");
  audit->add_option("--app", aa.app, "only this app");
  audit->add_option("--service", aa.service, "only this service (with --app)");
  audit->add_option("--container", aa.container, "only this container");
  audit->add_option("--host", aa.host, "what concerns this host: its adds, cordons, removal, and the containers placed on it");
  audit->callback([&] { fin(); rc = Audit(g, aa); });

  HostAddArgs ha;
  bool host_force = false;
  std::string host_name;
  auto* host = app.add_subcommand("host", "the cloud's Docker hosts: add, remove, cordon, uncordon (each a durable workflow; `berth audit --host NAME` shows them)");
  host->require_subcommand(1);
  auto* hadd = host->add_subcommand("add", "add a host: one that exists (--endpoint), whose engine must answer, or one Berth provisions (--driver local); its CPUs and memory are read from its engine");
  hadd->add_option("name", ha.name, "host name (lowercase letters, digits, '-', '.')")->required();
  hadd->add_option("--endpoint", ha.endpoint, "static: where its engine listens, unix:///PATH or tcp://HOST:PORT");
  hadd->add_option("--driver", ha.driver, "static (default): a host that exists; local: Berth makes one on this machine (a network namespace with its own dockerd on TLS)")
      ->check(CLI::IsMember({"static", "local"}));
  hadd->add_option("--tls-ca", ha.tls_ca, "CA that signed the engine's certificate (tcp; with --tls-cert and --tls-key)");
  hadd->add_option("--tls-cert", ha.tls_cert, "client certificate shown to the engine");
  hadd->add_option("--tls-key", ha.tls_key, "its key");
  hadd->add_option("--registry", ha.registry, "HOST:PORT of a registry the engine pushes to and pulls from (it must trust it); hosts naming one registry share the images Berth makes (a local host gets the cloud's own)");
  hadd->add_option("--label", ha.labels, "KEY=VALUE, for placement (repeatable)");
  hadd->add_option("--cpus", ha.cpus, "CPUs placement assumes (default: what the engine reports)");
  hadd->add_option("--memory", ha.memory, "memory placement assumes, e.g. 8g (default: what the engine reports)");
  hadd->add_flag("--detach", ha.detach, "record the change durably, print its id, exit");
  hadd->callback([&] { fin(); rc = HostAdd(g, ha); });
  for (const char* op : {"remove", "cordon", "uncordon"}) {
    const std::string what = std::string(op) == "remove" ? "remove a host from the cloud (refused while it holds containers of Berth's, with their count)"
                             : std::string(op) == "cordon" ? "place no new container on a host (those there stay)"
                                                           : "let placement use a cordoned host again";
    auto* c = host->add_subcommand(op, what);
    c->add_option("name", host_name, "host name (see `berth hosts`)")->required();
    if (std::string(op) == "remove")
      c->add_flag("--force", host_force, "skip the count of its containers: for a host whose engine is gone for good");
    c->callback([&, op = std::string(op)] { fin(); rc = HostChange(g, op, host_name, host_force, false); });
  }
  auto* hosts = app.add_subcommand("hosts", "list the cloud's hosts: endpoint, driver, labels, state, containers, capacity and reserved");
  hosts->callback([&] { fin(); rc = Hosts(g); });
  std::string explain_container;
  auto* explain = app.add_subcommand("explain", "why a container is on its host: the placement decision on record (chain, chosen host, score, every rejected host and why)");
  explain->add_option("container", explain_container, "container name (see `berth ps`)")->required();
  explain->callback([&] { fin(); rc = Explain(g, explain_container); });

  auto* bench = app.add_subcommand("bench", "benchmarks, each against a baseline measured in the same run");
  bench->require_subcommand(1);
  uint64_t events = 200000, workflows = 10000, steps = 10, children = 0, history = 0;
  unsigned producers = 256;
  auto* blog = bench->add_subcommand("log", "durable events/s through the log vs raw RocksDB WriteBatch+sync");
  blog->add_option("--events", events, "events to append")->check(CLI::Range(1000ull, 100000000ull));
  blog->add_option("--producers", producers, "concurrent producer threads")->check(CLI::Range(1u, 4096u));
  blog->callback([&] { fin(); rc = BenchLog(g, events, producers); });
  auto* beng = bench->add_subcommand("engine", "steps/s, replay events/s, resume time for N concurrent workflows");
  beng->add_option("--workflows", workflows, "concurrent workflows")->check(CLI::Range(1ull, 1000000ull));
  beng->add_option("--steps", steps, "no-op steps per workflow")->check(CLI::Range(1ull, 10000ull));
  beng->add_option("--children", children, "instead: one parent of N children (vs N independent workflows)")
      ->check(CLI::Range(1ull, 1000000ull));
  beng->add_option("--history", history, "instead: resume of 100 open workflows over M finished events (vs none)")
      ->check(CLI::Range(1ull, 100000000ull));
  beng->callback([&] { fin(); rc = BenchEngine(g, workflows, steps, children, history); });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  return rc;
}
