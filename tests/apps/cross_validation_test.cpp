// K-fold cross-validation protocol (heal/apps/cross_validation.h): who sees which image, with a
// torch-free fold trainer that reads each image's identity from its pixels.
#include "heal/apps/cross_validation.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace heal::apps {
namespace {

constexpr int kSide = 4;

// Image i of the pool carries its index in pixel 0 ((i + 1) / 1024) and noise elsewhere; patients
// hold 1 to 4 images of one class (train and val share no patient, as in COVID-CT's split).
io::Dataset make_dataset(std::size_t n_train, std::size_t n_val, bool with_groups) {
  io::Dataset ds;
  ds.name = "synthetic";
  ds.num_classes = 2;
  std::size_t id = 0, patient = 0;
  for (io::SplitData* s : {&ds.train, &ds.val}) {
    const std::size_t n = s == &ds.train ? n_train : n_val;
    s->channels = 1;
    s->height = s->width = kSide;
    std::size_t left_in_patient = 0;
    int label = 0;
    for (std::size_t i = 0; i < n; ++i, ++id) {
      if (left_in_patient == 0) {
        ++patient;
        left_in_patient = 1 + patient % 4;
        label = static_cast<int>((patient * 7) % 5 < 2);  // about 40 % positive
      }
      --left_in_patient;
      for (int p = 0; p < kSide * kSide; ++p) {
        s->images.push_back(p == 0 ? static_cast<float>(id + 1) / 1024.0f : static_cast<float>((id * 31 + p * 17) % 97) / 97.0f);
      }
      s->labels.push_back(label);
      if (with_groups) s->groups.push_back("patient-" + std::to_string(patient));
    }
  }
  return ds;
}

std::size_t image_id(const io::SplitData& s, std::size_t i) {
  return static_cast<std::size_t>(std::lround(s.image(i)[0] * 1024.0f)) - 1;
}

// Per fold: the ids the trainer saw in training, inner validation and the held-out fold.
struct Seen {
  std::vector<std::set<std::size_t>> train, val, held;
};

// Perfect scores on the held-out fold from labels the trainer is handed only to score them: the
// point is the protocol, not learning.
CvFoldTrainer recording_trainer(Seen& seen, bool perfect) {
  return [&seen, perfect](const CvFold& fold, nlohmann::json& record) -> Result<std::vector<double>> {
    std::set<std::size_t> tr, va, he;
    for (std::size_t i = 0; i < fold.data.train.size(); ++i) tr.insert(image_id(fold.data.train, i));
    for (std::size_t i = 0; i < fold.data.val.size(); ++i) va.insert(image_id(fold.data.val, i));
    for (std::size_t i = 0; i < fold.held_out.size(); ++i) he.insert(image_id(fold.held_out, i));
    seen.train.push_back(tr);
    seen.val.push_back(va);
    seen.held.push_back(he);
    EXPECT_TRUE(fold.data.test.labels.empty());
    // The majority class of the training part, or the truth.
    const auto counts = fold.data.train.class_counts(2);
    const int majority = counts[1] > counts[0] ? 1 : 0;
    std::vector<double> logits;
    for (std::size_t i = 0; i < fold.held_out.size(); ++i) {
      const int y = perfect ? fold.held_out.labels[i] : majority;
      logits.push_back(y == 0 ? 2.0 : -2.0);
      logits.push_back(y == 1 ? 2.0 : -2.0);
    }
    record["majority"] = majority;
    return logits;
  };
}

std::map<std::size_t, std::string> patient_of(const io::Dataset& ds) {
  std::map<std::size_t, std::string> p;
  std::size_t id = 0;
  for (const io::SplitData* s : {&ds.train, &ds.val}) {
    for (std::size_t i = 0; i < s->size(); ++i, ++id) p[id] = s->groups.empty() ? "image-" + std::to_string(id) : s->groups[i];
  }
  return p;
}

TEST(CrossValidation, HeldOutFoldsPartitionThePoolAndNeverReachTraining) {
  const io::Dataset ds = make_dataset(150, 40, true);
  const auto patient = patient_of(ds);
  CvOptions o;
  o.folds = 5;
  o.inner_val = 0.125;
  Seen seen;
  std::size_t progress = 0, starts = 0, start_groups = 0;
  // on_start runs once, before the first fold, with the grouping the result then reports.
  o.on_start = [&](std::size_t pool, std::size_t groups, bool grouped) {
    EXPECT_EQ(progress, 0u);
    EXPECT_EQ(pool, 190u);
    EXPECT_TRUE(grouped);
    start_groups = groups;
    ++starts;
  };
  o.on_fold = [&](std::size_t f, const nn::ClassificationMetrics&) {
    EXPECT_EQ(starts, 1u);
    EXPECT_EQ(f, progress++);
  };
  const CvResult r = cross_validate(ds, o, recording_trainer(seen, true)).value();
  ASSERT_EQ(r.folds.size(), 5u);
  EXPECT_EQ(progress, 5u);
  EXPECT_EQ(starts, 1u);
  EXPECT_EQ(start_groups, r.groups);
  EXPECT_EQ(r.pool, 190u);
  EXPECT_TRUE(r.grouped);
  EXPECT_LT(r.groups, 190u);

  std::set<std::size_t> all_held;
  for (std::size_t f = 0; f < 5; ++f) {
    const auto &tr = seen.train[f], &va = seen.val[f], &he = seen.held[f];
    // Inner train, inner val and the scored fold partition the pool.
    EXPECT_EQ(tr.size() + va.size() + he.size(), 190u);
    std::set<std::size_t> u(tr.begin(), tr.end());
    u.insert(va.begin(), va.end());
    u.insert(he.begin(), he.end());
    EXPECT_EQ(u.size(), 190u) << "fold " << f << ": an image is in two parts";
    // The inner split is about 1/8 of the training part.
    const double frac = static_cast<double>(va.size()) / static_cast<double>(tr.size() + va.size());
    EXPECT_GT(frac, 0.08);
    EXPECT_LT(frac, 0.17);
    // No patient on both sides of the scored fold, nor of the inner split.
    std::set<std::string> p_held, p_train, p_val;
    for (auto i : he) p_held.insert(patient.at(i));
    for (auto i : tr) p_train.insert(patient.at(i));
    for (auto i : va) p_val.insert(patient.at(i));
    for (const auto& p : p_held) {
      EXPECT_FALSE(p_train.contains(p) || p_val.contains(p)) << "fold " << f << ": " << p << " is trained on and scored";
    }
    for (const auto& p : p_val) EXPECT_FALSE(p_train.contains(p)) << "fold " << f << ": " << p << " straddles the inner split";
    // What the result reports is what the trainer got.
    EXPECT_EQ(r.folds[f].train, tr.size());
    EXPECT_EQ(r.folds[f].inner_val, va.size());
    EXPECT_EQ(std::set<std::size_t>(r.folds[f].held_out.begin(), r.folds[f].held_out.end()), he);
    EXPECT_EQ(r.folds[f].metrics.n, he.size());
    EXPECT_DOUBLE_EQ(r.folds[f].metrics.accuracy, 1.0);
    for (auto i : he) EXPECT_TRUE(all_held.insert(i).second) << "image " << i << " scored twice";
  }
  EXPECT_EQ(all_held.size(), 190u);
  EXPECT_DOUBLE_EQ(r.mean_accuracy, 1.0);
  EXPECT_DOUBLE_EQ(r.sd_accuracy, 0.0);

  const nlohmann::json j = cv_result_json(r, o);
  EXPECT_EQ(j["folds"].size(), 5u);
  EXPECT_EQ(j["grouped_by_patient"], true);
  EXPECT_EQ(j["folds"][2]["held_out"]["n"], r.folds[2].held_out.size());
  EXPECT_TRUE(j["folds"][0].contains("majority"));  // the trainer's record joins its fold
}

TEST(CrossValidation, ScoresAreTheTrainersAndTheSummaryIsTheirMeanAndSd) {
  const io::Dataset ds = make_dataset(120, 30, false);
  CvOptions o;
  o.folds = 3;
  Seen seen;
  const CvResult r = cross_validate(ds, o, recording_trainer(seen, false)).value();
  EXPECT_FALSE(r.grouped);
  EXPECT_EQ(r.groups, 150u);
  std::vector<double> accs;
  for (std::size_t f = 0; f < 3; ++f) {
    // A majority-class predictor scores the majority's share of the held-out fold.
    const int majority = r.folds[f].record["majority"];
    std::size_t hits = 0;
    std::size_t k = 0;
    std::size_t id = 0;
    for (const io::SplitData* s : {&ds.train, &ds.val}) {
      for (std::size_t i = 0; i < s->size(); ++i, ++id) {
        if (k < r.folds[f].held_out.size() && r.folds[f].held_out[k] == id) {
          hits += s->labels[i] == majority;
          ++k;
        }
      }
    }
    ASSERT_EQ(k, r.folds[f].held_out.size());
    EXPECT_DOUBLE_EQ(r.folds[f].metrics.accuracy, static_cast<double>(hits) / static_cast<double>(k));
    accs.push_back(r.folds[f].metrics.accuracy);
  }
  const double m = (accs[0] + accs[1] + accs[2]) / 3;
  double q = 0;
  for (double a : accs) q += (a - m) * (a - m);
  EXPECT_NEAR(r.mean_accuracy, m, 1e-12);
  EXPECT_NEAR(r.sd_accuracy, std::sqrt(q / 2), 1e-12);
  EXPECT_LT(r.mean_accuracy, 0.9);  // not the perfect trainer's score
}

TEST(CrossValidation, FoldsAreSeededAndGroupingCanBeTurnedOff) {
  const io::Dataset ds = make_dataset(150, 40, true);
  CvOptions o;
  Seen a, b, c, d;
  (void)cross_validate(ds, o, recording_trainer(a, true)).value();
  (void)cross_validate(ds, o, recording_trainer(b, true)).value();
  EXPECT_EQ(a.held, b.held);
  EXPECT_EQ(a.val, b.val);
  o.seed = 2;
  (void)cross_validate(ds, o, recording_trainer(c, true)).value();
  EXPECT_NE(a.held, c.held);
  // Folds over images split some patients across training and scoring.
  o.seed = 1;
  o.group = false;
  const CvResult r = cross_validate(ds, o, recording_trainer(d, true)).value();
  EXPECT_FALSE(r.grouped);
  const auto patient = patient_of(ds);
  std::size_t straddling = 0;
  for (std::size_t f = 0; f < 5; ++f) {
    std::set<std::string> p_train;
    for (auto i : d.train[f]) p_train.insert(patient.at(i));
    for (auto i : d.held[f]) straddling += p_train.contains(patient.at(i));
  }
  EXPECT_GT(straddling, 10u);
}

TEST(CrossValidation, HistogramScaleIsFittedOnEachFoldsTrainingPart) {
  const io::Dataset ds = make_dataset(150, 40, true);
  CvOptions o;
  o.folds = 4;
  o.normalizer.mode = io::IntensityMode::kHistogram;
  std::vector<std::size_t> fitted;
  const CvFoldTrainer trainer = [](const CvFold& fold, nlohmann::json&) -> Result<std::vector<double>> {
    // Every split the trainer gets is normalised into [0, 1].
    for (const io::SplitData* s : {&fold.data.train, &fold.data.val, &fold.held_out}) {
      for (float v : s->images) {
        EXPECT_GE(v, 0.0f);
        EXPECT_LE(v, 1.0f);
      }
    }
    return std::vector<double>(fold.held_out.size() * 2, 0.0);
  };
  const CvResult r = cross_validate(ds, o, trainer).value();
  for (const auto& f : r.folds) {
    EXPECT_EQ(f.normalize["mode"], "histogram");
    EXPECT_EQ(f.normalize["fitted_on_images"], f.train);
    EXPECT_FALSE(f.normalize["standard_scale"].empty());
  }
  // Constant scores: AUC 0.5, whatever the fold.
  EXPECT_NEAR(r.mean_auc, 0.5, 1e-12);
}

TEST(CrossValidation, BadOptionsAndBadTrainersAreRefused) {
  const io::Dataset ds = make_dataset(40, 10, false);
  Seen seen;
  CvOptions o;
  o.folds = 1;
  EXPECT_EQ(cross_validate(ds, o, recording_trainer(seen, true)).status().code(), StatusCode::kInvalidArgument);
  o.folds = 51;
  EXPECT_EQ(cross_validate(ds, o, recording_trainer(seen, true)).status().code(), StatusCode::kInvalidArgument);
  o.folds = 3;
  o.inner_val = 0.7;
  EXPECT_EQ(cross_validate(ds, o, recording_trainer(seen, true)).status().code(), StatusCode::kInvalidArgument);
  o.inner_val = 0.125;
  EXPECT_FALSE(cross_validate(ds, o, CvFoldTrainer{}).ok());
  const CvFoldTrainer short_scores = [](const CvFold& fold, nlohmann::json&) -> Result<std::vector<double>> {
    return std::vector<double>(fold.held_out.size(), 0.0);  // one score per image, not per class
  };
  EXPECT_EQ(cross_validate(ds, o, short_scores).status().code(), StatusCode::kInvalidArgument);
  const CvFoldTrainer failing = [](const CvFold&, nlohmann::json&) -> Result<std::vector<double>> {
    return Status::unavailable("a fold worker went away");
  };
  const auto r = cross_validate(ds, o, failing);
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace heal::apps
