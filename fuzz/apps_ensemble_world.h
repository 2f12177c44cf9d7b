// The HE-mode secure ensemble diagnosis of fuzz_apps_ensemble and its seeds (apps/ensemble_diagnosis.h):
// two synthetic HE-friendly members (8x8 images, 3 classes), the querier's keys at the test-only
// N = 2^11 parameters (allow_insecure), one real query of 2 images, member 1's weighted logits and the
// aggregator's sum. Everything comes from fixed seeds.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

#include "heal/apps/ensemble_diagnosis.h"
#include "heal/he_infer/synthetic.h"

namespace heal::fuzz::apps_ensemble {

namespace ae = heal::apps::ensemble;

inline void require(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "apps_ensemble_world: %s\n", what);
    std::abort();
  }
}

struct World {
  static constexpr std::size_t kCount = 2;
  std::vector<nn::ModelIr> models;
  std::unique_ptr<ae::HeQuerier> querier;
  std::unique_ptr<ae::HeMember> member;  // keys loaded
  Bytes bundle, query, output, sum;

  World() {
    models.push_back(he_infer::synthetic_cnn({.side = 8, .channels = 2, .hidden = 6, .classes = 3, .seed = 11}));
    models.push_back(he_infer::synthetic_cnn({.side = 8, .channels = 3, .hidden = 8, .classes = 3, .seed = 12}));
    he_infer::PlanOptions plan{.min_scale_bits = 25, .max_scale_bits = 30, .log_n = 11, .allow_insecure = true};
    querier = std::make_unique<ae::HeQuerier>(
        std::vector<ae::HeMemberInfo>{ae::he_member_info(models[0]), ae::he_member_info(models[1])},
        ae::HeQuerierOptions{.plan = plan}, std::make_unique<SeededRng>(seed_from_u64(21)));
    bundle = querier->key_bundle();
    member = std::make_unique<ae::HeMember>(models[0], 0.6);
    require(member->load_keys(bundle, true).ok(), "member loads the bundle");
    query = querier->encrypt_query(he_infer::random_images(kCount, models[0].input.size(), 8), kCount);
    auto out = member->evaluate(query);
    require(out.ok(), "member evaluates the query");
    output = *out;
    ae::HeAggregator agg;
    require(agg.load_keys(bundle, true).ok(), "aggregator loads the bundle");
    require(agg.add(output).ok(), "aggregator adds the output");
    auto s = agg.result();
    require(s.ok(), "aggregator result");
    sum = *s;
    require(querier->decrypt_result(sum, kCount).ok(), "querier decrypts the sum");
  }
};

}  // namespace heal::fuzz::apps_ensemble
