// heal fl simulate: a whole federation in one process (driver in fl_simulation.cpp).
#include <memory>

#include "commands.h"
#include "fl_ensemble_cli.h"
#include "fl_simulation.h"

namespace heal::cli {

void add_fl_commands(CLI::App& app) {
  auto* fl = app.add_subcommand("fl", "Federated learning with threshold-CKKS aggregation and a ledger");
  fl->require_subcommand(1);
  auto a = std::make_shared<SimArgs>();
  auto* sim = fl->add_subcommand("simulate", "Run K hospitals in one process on a real dataset (libtorch training)");
  sim->add_option("--hospitals", a->sim.hospitals, "Number of hospitals K")->capture_default_str();
  sim->add_option("--data", a->data, "Dataset file (default: global --data / $HEAL_DATA)");
  sim->add_option("--partition", a->sim.partition, "iid | dirichlet:ALPHA | quantity:ALPHA")->capture_default_str();
  sim->add_option("--rounds", a->sim.rounds, "Federated rounds")->capture_default_str();
  sim->add_option("--secure", a->sim.secure, "Secure aggregation: he (threshold CKKS) | none")->capture_default_str();
  sim->add_option("--keygen", a->sim.keygen,
                  "HE key setup: simulated (keys from --seed by one dealer) | distributed (each hospital "
                  "draws its own secret; Shamir shares in sealed boxes over the transport)")
      ->check(CLI::IsMember({"simulated", "distributed"}))
      ->capture_default_str();
  sim->add_option("--strategy", a->sim.strategy, "fedavg | fedprox | fedadam | fedyogi")->capture_default_str();
  sim->add_option("--local-epochs", a->sim.local_epochs, "Local epochs per round")->capture_default_str();
  sim->add_option("--model", a->sim.model, "hecnn | hecnn-wide | capsnet | resnet; with --task segment: segcaps | ucaps | ucaps-ag | unet | unet-ag")
      ->capture_default_str();
  sim->add_option("--task", a->sim.task, "classify | segment (a segmentation dataset, e.g. covid_seg)")
      ->check(CLI::IsMember({"classify", "segment"}))
      ->capture_default_str();
  sim->add_option("--size", a->sim.size, "segment: network input side (multiple of 8)")->capture_default_str();
  sim->add_option("--loss", a->sim.seg_loss, "segment: bce-dice | structure (as heal train --task segment --loss)")
      ->check(CLI::IsMember({"bce-dice", "structure"}))
      ->capture_default_str();
  sim->add_flag("--multiclass", a->sim.multiclass,
                "segment: covid_seg's multi-class masks, one output per lesion class (as heal train --multiclass); "
                "the test line and report add each class's Dice");
  sim->add_option("--threshold", a->sim.threshold,
                  "Decryption threshold t: t >= 2 and t > K/2 (default K/2 + 1); HE needs K >= 3");
  sim->add_option("--drop", a->sim.drops,
                  "HOSPITAL@ROUND[:after]: offline that round (after: crashes after submitting)");
  sim->add_option("--ledger", a->sim.ledger, "Ledger file (new; default OUT/ledger.db)");
  sim->add_option("--out", a->sim.out, "Output directory (report.json, accuracy.png, ledger.db)")
      ->capture_default_str();
  sim->add_option("--seed", a->sim.seed, "Seed (partition, model init, simulated keys)")->capture_default_str();
  sim->add_flag("--json", a->json, "Print the JSON report instead of the table");
  sim->add_flag("--centralized", a->sim.centralized,
                "Also train the same model on the pooled data for rounds x local-epochs epochs");
  sim->add_option("--clip", a->sim.clip, "L2 clip norm of updates (0: none)")->capture_default_str();
  sim->add_option("--min-contributors", a->sim.min_contributors,
                  "Round quorum (0: all hospitals; with HE at least max(3, t + 1))");
  sim->add_option("--threads", a->sim.threads, "libtorch threads")->capture_default_str();
  sim->add_option("--lr", a->sim.lr, "Local learning rate (Adam)")->capture_default_str();
  sim->add_option("--lr-schedule", a->sim.lr_schedule,
                  "Local learning rate per round: constant | cosine (decays to 0 over --rounds)")
      ->check(CLI::IsMember({"constant", "cosine"}))
      ->capture_default_str();
  sim->add_option("--batch", a->sim.batch, "Local batch size")->capture_default_str();
  sim->add_option("--mu", a->sim.mu, "FedProx mu")->capture_default_str();
  sim->add_option("--server-lr", a->sim.server_lr, "Server learning rate")->capture_default_str();
  sim->add_option("--max-decryptions", a->sim.max_decryptions,
                  "HE flooding budget: flooded decryptions per key holder and key epoch (the noise grows as its "
                  "square root; the setup refuses a budget whose noise breaks the precision)")
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 40))
      ->capture_default_str();
  sim->callback([a, sim] {
    if (a->sim.task == "segment") {  // the segmentation recipe's defaults where not given
      if (sim->get_option("--model")->count() == 0) a->sim.model = "unet";
      if (sim->get_option("--lr")->count() == 0) a->sim.lr = 1e-3;
      if (sim->get_option("--batch")->count() == 0) a->sim.batch = 4;
    }
    (void)run_fl_simulation(*a);
  });
  add_fl_ensemble_commands(*fl);
}

}  // namespace heal::cli
