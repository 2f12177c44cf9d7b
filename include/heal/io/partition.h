// Splitting one dataset split among K simulated hospitals: IID, Dirichlet label skew, quantity skew.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "heal/core/rng.h"
#include "heal/core/status.h"

namespace heal::io {

enum class PartitionScheme { kIid, kDirichlet, kQuantity };

/// How to partition. alpha is the Dirichlet concentration (smaller = more skewed).
struct PartitionSpec {
  PartitionScheme scheme = PartitionScheme::kIid;
  double alpha = 0.5;
  int hospitals = 3;
  std::uint64_t seed = 0;
  /// Every hospital receives at least this many samples (see partition() for how).
  std::size_t min_per_hospital = 10;
};

/// Parses "iid", "dirichlet:ALPHA" or "quantity:ALPHA" (ALPHA > 0) into spec->scheme/alpha.
Status parse_partition_scheme(const std::string& text, PartitionSpec* spec);
/// "iid", "dirichlet:0.5", ...
std::string partition_scheme_name(const PartitionSpec& spec);

/// Per-hospital sample indices (each sorted ascending); disjoint, and their union is 0..N-1.
struct Partition {
  std::vector<std::vector<std::size_t>> hospitals;
};

/// Partitions labels[0..N) among spec.hospitals, deterministically for spec.seed.
///  - IID: a seeded shuffle cut into near-equal parts (sizes differ by at most one).
///  - Dirichlet label skew (Hsu, Qi, Brown, arXiv:1909.06335; NIID-Bench, arXiv:2102.02079): for each
///    class, proportions p ~ Dir(alpha,...,alpha) over hospitals; the shuffled class indices are cut
///    by p (largest-remainder rounding).
///  - Quantity skew: hospital sizes q ~ Dir(alpha); after giving each hospital min_per_hospital
///    samples the rest are shared by q, on a seeded shuffle of all indices (labels stay IID).
/// Minimum guarantee: for the label-skew scheme, any hospital below min_per_hospital takes
/// samples, one at a time, from the currently largest hospital (a seeded random one of its
/// samples) until it reaches the minimum. InvalidArgument if N < hospitals * min_per_hospital,
/// hospitals < 1, a label is outside [0, num_classes), or alpha <= 0.
Result<Partition> partition(const std::vector<int>& labels, int num_classes, const PartitionSpec& spec);

/// Class counts per hospital: counts[h][c].
std::vector<std::vector<std::size_t>> partition_class_counts(const Partition& p, const std::vector<int>& labels,
                                                             int num_classes);

/// A text table: one row per hospital with per-class counts, total and share, plus a total row.
std::string format_partition_table(const std::vector<std::vector<std::size_t>>& counts,
                                   const std::vector<std::string>& class_names = {});
/// The same as a JSON object: {"hospitals":[{"id":0,"total":n,"class_counts":[...]},...],"total":[...]}.
std::string format_partition_json(const std::vector<std::vector<std::size_t>>& counts);

/// Gamma(shape, 1) variate by Marsaglia and Tsang, "A simple method for generating gamma
/// variables", ACM TOMS 26(3), 2000; shape < 1 uses Gamma(shape + 1) * U^(1/shape). shape > 0.
double sample_gamma(Rng& rng, double shape);
/// Dirichlet(alpha, ..., alpha) of dimension k from normalised Gamma(alpha) variates.
std::vector<double> sample_dirichlet(Rng& rng, double alpha, int k);

/// Stratified K-fold cross-validation folds over `labels` (num_classes classes).
///  - Without groups, or when every group holds one image: each class's images are dealt
///    round-robin to the folds in an order shuffled by `rng`, and each fold keeps that dealt order
///    (callers shuffle inner splits in it, so `heal train --cv` reproduces its folds and inner
///    splits from before groups existed).
///  - With `groups` (one per label, e.g. patients): every group lies in one fold only, so no
///    patient straddles the training and the scored part. The groups of each class (a group's
///    class is its most frequent label, ties to the smaller) are taken in an order shuffled by
///    `rng`, each to the fold holding the fewest images of that class so far (ties to the lower
///    fold). Each fold is sorted.
/// @throws std::invalid_argument on k < 2, a label outside [0, num_classes) or a groups vector of
/// another length.
std::vector<std::vector<std::size_t>> cv_folds(const std::vector<int>& labels, const std::vector<std::string>& groups,
                                               int num_classes, std::size_t k, Rng& rng);

/// A stratified hold-out split of `from` (indices into labels): per class, in an order shuffled by
/// `rng`, round(fraction x that class's images) go to the second part (without groups), or whole
/// groups until that many images are reached (with groups). Both parts sorted. fraction in [0, 1).
std::pair<std::vector<std::size_t>, std::vector<std::size_t>> holdout_split(const std::vector<int>& labels,
                                                                            const std::vector<std::string>& groups,
                                                                            std::span<const std::size_t> from,
                                                                            int num_classes, double fraction, Rng& rng);

/// Distinct groups (0 for none); fewer than groups.size() means grouping changes the folds.
std::size_t count_groups(const std::vector<std::string>& groups);

}  // namespace heal::io
