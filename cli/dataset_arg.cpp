// The dataset argument shared by the commands that run a model on a dataset (train, eval, merge,
// calibrate, features): resolved like `heal data`, loaded with the global DICOM / slice options.
#include "commands.h"
#include "heal/core/status.h"

namespace heal::cli {

std::string require_data_arg(const std::string& given) {
  std::string d = given.empty() ? data_location() : given;
  if (d.empty()) throw StatusError(Status::invalid_argument("no dataset: pass --data PATH or set HEAL_DATA"));
  return d;
}

io::Dataset load_dataset_arg(const std::string& arg, int size, bool skip_test) {
  auto path = io::resolve_dataset_path(arg, data_location());
  if (!path.ok()) throw StatusError(path.status());
  auto kind = io::detect_dataset_kind(*path);
  if (!kind.ok()) throw StatusError(kind.status());
  io::LoadOptions opts;
  opts.resize_to = size;
  opts.dicom = dicom_options();
  opts.slices = slice_selection();
  opts.skip_test = skip_test;
  if (*kind != io::DatasetKind::kNpz && opts.resize_to == 0) opts.resize_to = 64;
  auto ds = io::load_dataset(*path, opts);
  if (!ds.ok()) throw StatusError(ds.status());
  return std::move(ds).value();
}

}  // namespace heal::cli
