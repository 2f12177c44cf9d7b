// One registration function per subcommand family; each lives in its own cmd_*.cpp.
#pragma once

#include <CLI/CLI.hpp>
#include <cstddef>
#include <cstdint>
#include <string>

#include "heal/core/status.h"
#include "heal/io/dataset.h"
#include "heal/io/image.h"
#include "heal/io/volume.h"

namespace heal::cli {

/// Options shared by every subcommand.
struct GlobalOptions {
  std::string data;        // --data or $HEAL_DATA: a dataset file or the directory holding datasets
  bool quiet = false;      // no progress bars
  std::string log_level = "info";
  std::string window = "file";  // --window: DICOM VOI window (preset, file, minmax or C,W)
  double spacing_mm = 0.0;      // --spacing: resample DICOM images to this pixel spacing (mm)
  int frame = 0;                // --frame: frame of multi-frame DICOM images (0-based)
  std::string slices = "auto";  // --slices: which slices of volumes become images (heal::io::SliceSelection)
};

GlobalOptions& globals();

/// The value of a Result, or its Status thrown as StatusError (main prints it and exits non-zero).
template <typename T>
T value_or_throw(Result<T> r) {
  if (!r.ok()) throw StatusError(r.status());
  return std::move(r).value();
}

/// `heal train --task segment` (cmd_segment.cpp; Unsupported without libtorch).
struct SegTrainCli {
  std::string data, model = "segcaps", out, save, normalize = "zscore", loss = "bce-dice";
  int epochs = 60, size = 128, batch = 4, width = 16, threads = 2, patience = 0, holdout = 0, overlays = 12;
  int cv = 0;  ///< > 1: K-fold cross-validation on the training split instead of a test run
  std::uint64_t seed = 1;
  double lr = 1e-3, weight_decay = 1e-5, recon_weight = 0.1;
  bool augment = true, flip = true, multiclass = false, json = false;
  /// Self-training (tb::SegSelfTraining): a dataset whose train and val images are pseudo-labelled.
  std::string unlabeled;
  int unlabeled_max = 0, student_epochs = 0, finetune_epochs = 0;
  double pseudo_min_lesion = 0;
  bool student_from_teacher = false;
  bool tta_flip = false;  ///< flip test-time augmentation, stored in the model (SegModelSpec::tta_flip)
};
void run_train_segment(const SegTrainCli& a);
/// `heal eval` of a segmentation model file (.healseg): true if `model` is one (and it was run).
bool run_eval_segment_if_seg_model(const std::string& model, const std::string& data, const std::string& split,
                                   bool json, bool tta_flip = false);

/// Peak resident set size of this process so far (getrusage ru_maxrss), in bytes.
std::size_t peak_rss_bytes();

/// Resolves the data location: --data, else $HEAL_DATA, else "" (callers explain what to do).
std::string data_location();

/// The DICOM options of --window / --spacing / --frame (InvalidArgument thrown for a bad window).
io::DicomOptions dicom_options();
/// The --slices selection (validated when the command line is parsed), for io::LoadOptions::slices.
io::SliceSelection slice_selection();

/// The dataset argument of a command, else the global --data / $HEAL_DATA; InvalidArgument (thrown)
/// saying what to do if neither is given.
std::string require_data_arg(const std::string& given);
/// Loads a dataset named on the command line (a file, a folder, a name under the data location, a
/// PACS URL) as train / eval / features do: folder datasets resized to `size` (0: 64), MedMNIST
/// `.npz` files to `size` if non-zero; the global DICOM and slice options apply; `skip_test`: the test
/// split is not read (io::LoadOptions::skip_test). Throws StatusError.
io::Dataset load_dataset_arg(const std::string& arg, int size, bool skip_test = false);

void add_data_commands(CLI::App& app);    // heal data info|partition|fetch
void add_ckks_commands(CLI::App& app);    // heal ckks params|...
void add_train_commands(CLI::App& app);   // heal train, heal eval
void add_infer_commands(CLI::App& app);   // heal infer ...
void add_fl_commands(CLI::App& app);      // heal fl simulate
void add_ledger_commands(CLI::App& app);  // heal ledger verify|log
void add_node_commands(CLI::App& app);    // heal node init
void add_demo_command(CLI::App& app);     // heal demo
void add_features_command(CLI::App& app);  // heal features
void add_train_encrypted_commands(CLI::App& app);
void add_segment_command(CLI::App& app);  // heal segment  // heal train-encrypted client-encrypt|server-train|client-decrypt

}  // namespace heal::cli
