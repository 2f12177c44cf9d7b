// heal node: a federation party in its own process (docs/deployment.md, "Running the nodes").
//   heal node init --id N --out DIR   the node's TLS key (0600) and a CSR for `party-N`, for the
//                                     consortium CA to sign (net::init_node_identity).
//   heal node run --config node.json  a hospital or the coordinator of a federation of libtorch
//                                     trainers (node::run_fl_node; the config's "training" section
//                                     names the dataset, partition and model).
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>

#include "commands.h"
#include "heal/fl/model.h"
#ifdef HEAL_HAVE_GRPC
#include "heal/net/node_identity.h"
#include "heal/node/config.h"
#endif
#if defined(HEAL_HAVE_TORCH) && defined(HEAL_HAVE_GRPC)
#include "heal/node/fl_run.h"
#endif

namespace heal::cli {
namespace {

struct NodeInitArgs {
  std::string id, out, organisation;
};

// "coordinator", a hospital's decimal id or a site's (1000 (k + 1) + s, heal/node/config.h).
fl::PartyId parse_party(const std::string& s) {
  if (s == "coordinator") return fl::kCoordinatorId;
  if (s.empty() || s.size() > 9 || s.find_first_not_of("0123456789") != std::string::npos ||
      (s.size() > 1 && s[0] == '0')) {
    throw StatusError(
        Status::invalid_argument("--id: \"coordinator\" or a hospital's or site's decimal id, not \"" + s + "\""));
  }
  const auto id = static_cast<fl::PartyId>(std::stoul(s));
  if (id >= fl::kCoordinatorId) {
    throw StatusError(Status::invalid_argument("--id: hospital and site ids are below 100000"));
  }
  return id;
}

void run_node_init(const NodeInitArgs& a) {
  const fl::PartyId id = parse_party(a.id);
#ifdef HEAL_HAVE_GRPC
  std::error_code ec;
  if (!std::filesystem::exists(a.out, ec)) {
    std::filesystem::create_directories(a.out, ec);
    if (!ec) std::filesystem::permissions(a.out, std::filesystem::perms::owner_all, ec);  // 0700
    if (ec) throw StatusError(Status::io_error("--out " + a.out + ": " + ec.message()));
  }
  auto files = value_or_throw(net::init_node_identity(id, a.out, a.organisation));
  std::cout << "node identity of party-" << id << (id == fl::kCoordinatorId ? " (the coordinator)" : "") << "\n"
            << "  private key: " << files.key_path << " (mode 0600; never leaves this node)\n"
            << "  CSR:         " << files.csr_path << " (send it to the consortium CA; install the signed\n"
            << "               certificate next to the key and name both in the node's configuration)\n";
#else
  (void)id;
  throw StatusError(Status::unsupported("heal node init needs a build with -DHEAL_WITH_GRPC=ON"));
#endif
}

struct NodeRunArgs {
  std::string config, out = "heal-node-out";
  bool json = false, quiet = false;
};

void run_node_run(const NodeRunArgs& a) {
#if defined(HEAL_HAVE_TORCH) && defined(HEAL_HAVE_GRPC)
  node::NodeConfig config = value_or_throw(node::load_node_config(a.config));
  const std::string who =
      config.role == node::NodeRole::kCoordinator ? std::string("coordinator")
      : config.role == node::NodeRole::kSite
          ? "site " + std::to_string(config.party_id) + " of institution " + std::to_string(config.institution)
          : "hospital " + std::to_string(config.party_id);
  const bool config_is_site = config.role == node::NodeRole::kSite;
  node::FlNodeRunOptions o;
  o.out = a.out;
  if (!a.quiet) {
    o.on_text = [](const std::string& s) {
      std::cout << s;
      std::cout.flush();
    };
  }
  node::FlNodeRunResult r = value_or_throw(node::run_fl_node(std::move(config), o));
  if (!r.coordinator) {
    if (!a.quiet) {
      std::cout << who << (config_is_site ? ": its institution" : ": the coordinator") << " ended the federation\n";
    }
    return;
  }
  if (a.json) {
    std::cout << r.report_json << "\n";
    return;
  }
  std::cout << "\n"
            << r.round_table << "\n"
            << r.summary << "report: " << r.report_path << ", plot: " << r.plot_path << "\n";
  if (!r.ledger_verified) throw StatusError(Status::corruption("the ledger does not verify"));
#else
  (void)a;
  throw StatusError(Status::unsupported(
      "heal node run needs a build with libtorch and gRPC (-DHEAL_WITH_TORCH=ON -DHEAL_WITH_GRPC=ON)"));
#endif
}

}  // namespace

void add_node_commands(CLI::App& app) {
  auto* node = app.add_subcommand("node", "A federation party in its own process (gRPC with mutual TLS)");
  node->require_subcommand(1);
  auto args = std::make_shared<NodeInitArgs>();
  auto* init = node->add_subcommand("init", "Create this node's TLS key (0600) and a CSR for party-<id>");
  init->add_option("--id", args->id,
                   "Party id: a hospital's number (0, 1, ...), a site's (site s of institution k: 1000 (k + 1) + s) "
                   "or \"coordinator\"")
      ->required();
  init->add_option("--out", args->out, "Directory for <party>.key and <party>.csr (created if missing)")->required();
  init->add_option("--org", args->organisation, "Organisation name (O=) in the CSR");
  init->callback([args] { run_node_init(*args); });

  auto rargs = std::make_shared<NodeRunArgs>();
  auto* run = node->add_subcommand(
      "run", "Run this node (hospital or coordinator) as its configuration says, until the federation ends");
  run->add_option("--config", rargs->config, "Node configuration (JSON; docs/deployment.md section 11)")
      ->required()
      ->check(CLI::ExistingFile);
  run->add_option("--out", rargs->out, "Coordinator: directory for report.json and accuracy.png")
      ->capture_default_str();
  run->add_flag("--json", rargs->json, "Coordinator: print the JSON report instead of the tables");
  run->add_flag("--quiet", rargs->quiet, "Print only the final table (coordinator) or nothing (hospital)");
  run->callback([rargs] { run_node_run(*rargs); });
}

}  // namespace heal::cli
