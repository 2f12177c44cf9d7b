// Single-image encrypted inference: weights, client packing and the server evaluation.
#include <chrono>

#include "heal/ckks/encryptor.h"
#include "heal/ckks/evaluator.h"
#include "heal/core/check.h"
#include "heal/he_infer/single_engine.h"
#include "kernels.h"

namespace heal::he_infer {

namespace {
double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

WeightSet SingleEngine::plain_weights() const {
  WeightSet w;
  for (std::size_t i = 0; i < plan_.size(); ++i) {
    const StagePlan& p = plan_[i];
    const double q = weight_scale(i);
    std::vector<Operand> ops;
    for (const auto& v : weight_vectors(i)) ops.push_back({false, encoder_.encode(std::span<const double>(v), q, p.level), {}});
    w.weights.push_back(std::move(ops));
    const auto b = bias_vector(i);
    w.bias.push_back({false, encoder_.encode(std::span<const double>(b), bias_scale(i), bias_level(i)), {}});
  }
  return w;
}

WeightSet SingleEngine::encrypt_weights(ckks::Encryptor& enc) const {
  WeightSet w;
  w.encrypted = true;
  for (std::size_t i = 0; i < plan_.size(); ++i) {
    const StagePlan& p = plan_[i];
    const double q = weight_scale(i);
    std::vector<Operand> ops;
    for (const auto& v : weight_vectors(i))
      ops.push_back({true, {}, enc.encrypt(encoder_.encode(std::span<const double>(v), q, p.level))});
    w.weights.push_back(std::move(ops));
    const auto b = bias_vector(i);
    w.bias.push_back({true, {}, enc.encrypt(encoder_.encode(std::span<const double>(b), bias_scale(i), bias_level(i)))});
  }
  return w;
}

std::vector<ckks::Ciphertext> SingleEngine::encrypt(std::span<const float> image, ckks::Encryptor& enc) const {
  HEAL_REQUIRE(image.size() == circuit_.input.size(), "SingleEngine::encrypt: expected " << circuit_.input.size() << " values");
  const StagePlan& p = plan_[0];
  const std::size_t S = ctx_->slots();
  std::vector<ckks::Ciphertext> cts;
  if (p.kind == StageKind::kGather) {
    const SparseLinear& l = circuit_.linears[0];  // only the sparsity pattern (row_ptr, cols) is read
    for (int t = 0; t < p.t_cts; ++t) {
      std::vector<double> v(S, 0.0);
      for (int b = 0; b < p.g; ++b) {
        const int k = t * p.g + b;
        for (int r = 0; r < l.out_dim; ++r)
          if (k < l.row_ptr[r + 1] - l.row_ptr[r]) v[static_cast<std::size_t>(b * l.out_dim + r)] = image[l.cols[l.row_ptr[r] + k]];
      }
      cts.push_back(enc.encrypt(encoder_.encode(std::span<const double>(v), ctx_->default_scale(), ctx_->max_level())));
    }
  } else {
    std::vector<double> v(S, 0.0);
    std::copy(image.begin(), image.end(), v.begin());
    cts.push_back(enc.encrypt(encoder_.encode(std::span<const double>(v), ctx_->default_scale(), ctx_->max_level())));
  }
  return cts;
}

ckks::Ciphertext SingleEngine::evaluate(std::vector<ckks::Ciphertext> in, const WeightSet& w, const ckks::RelinKey& rk,
                                        const ckks::GaloisKeys& gk, const ckks::PublicKey& pk, StageTimes* times) const {
  HEAL_REQUIRE(in.size() == input_ciphertexts(), "SingleEngine::evaluate: expected " << input_ciphertexts() << " input ciphertexts");
  HEAL_REQUIRE(w.weights.size() == plan_.size() && w.bias.size() == plan_.size(), "SingleEngine::evaluate: weight set does not match the plan");
  const ckks::Evaluator ev(ctx_);
  auto mul_w = [&](const ckks::Ciphertext& x, const Operand& o) {
    return o.encrypted ? ev.mul(x, o.ct) : ev.mul_plain(x, o.pt);
  };
  auto add_b = [&](ckks::Ciphertext& y, const Operand& o) {
    if (o.encrypted)
      ev.add_inplace(y, o.ct);
    else
      ev.add_plain_inplace(y, o.pt);
  };
  // Sums fn(k) for k in [0, n) over threads (each term a ciphertext at a common level/scale).
  auto reduce = [&](std::size_t n, const std::function<ckks::Ciphertext(std::size_t)>& fn) {
    const std::size_t t = std::min<std::size_t>(static_cast<std::size_t>(threads_), n);
    std::vector<ckks::Ciphertext> part(t);
    std::vector<char> has(t, 0);
    detail::parallel_for(n, static_cast<int>(t), [&](std::size_t b, std::size_t e) {
      // parallel_for hands thread k the range starting at k*n/t: recover k from b.
      std::size_t slot = 0;
      while (slot + 1 < t && (slot + 1) * n / t <= b) ++slot;
      for (std::size_t k = b; k < e; ++k) {
        ckks::Ciphertext c = fn(k);
        if (!has[slot]) {
          part[slot] = std::move(c);
          has[slot] = 1;
        } else {
          ev.add_inplace(part[slot], c);
        }
      }
    });
    ckks::Ciphertext acc;
    bool first = true;
    for (std::size_t k = 0; k < t; ++k) {
      if (!has[k]) continue;
      if (first) {
        acc = std::move(part[k]);
        first = false;
      } else {
        ev.add_inplace(acc, part[k]);
      }
    }
    return acc;
  };

  std::vector<ckks::Ciphertext> x = std::move(in);
  for (std::size_t i = 0; i < plan_.size(); ++i) {
    const StagePlan& p = plan_[i];
    const bool last = i + 1 == plan_.size();  // no rescale before the flood (privacy.h)
    const auto& ops = w.weights[i];
    HEAL_REQUIRE(ops.size() == p.num_weights(), "SingleEngine::evaluate: stage " << i << " expects " << p.num_weights() << " weights");
    double t0 = now_s();
    if (i > 0) {
      ev.square_inplace(x[0]);
      ev.relinearize_inplace(x[0], rk);
      ev.rescale_inplace(x[0]);
      if (times) times->add("square " + std::to_string(i), now_s() - t0);
      t0 = now_s();
    }
    HEAL_REQUIRE(x[0].level() == p.level, "SingleEngine: stage " << i << " expected level " << p.level << ", got " << x[0].level());
    ckks::Ciphertext y;
    if (p.kind == StageKind::kGather) {
      y = reduce(static_cast<std::size_t>(p.g), [&](std::size_t b) {
        ckks::Ciphertext z;
        for (int t = 0; t < p.t_cts; ++t) {
          ckks::Ciphertext prod = mul_w(x[t], ops[static_cast<std::size_t>(t) * p.g + b]);
          if (t == 0)
            z = std::move(prod);
          else
            ev.add_inplace(z, prod);
        }
        ev.relinearize_inplace(z, rk);
        if (!last) ev.rescale_inplace(z);
        if (b) ev.rotate_inplace(z, static_cast<long>(b) * p.out_dim, gk);
        return z;
      });
    } else {
      ckks::Ciphertext xin = std::move(x[0]);
      if (p.kind == StageKind::kHybrid) ev.add_inplace(xin, ev.rotate(xin, -static_cast<long>(p.n_pad), gk));
      std::vector<long> rs;
      for (const auto& b : p.babies)
        for (int r : b) rs.push_back(r);
      std::sort(rs.begin(), rs.end());
      rs.erase(std::unique(rs.begin(), rs.end()), rs.end());
      const std::vector<ckks::Ciphertext> rot = ev.rotate_hoisted(xin, rs, gk);
      auto rot_of = [&](int r) -> const ckks::Ciphertext& {
        return rot[static_cast<std::size_t>(std::lower_bound(rs.begin(), rs.end(), r) - rs.begin())];
      };
      std::vector<std::size_t> offset(p.giants.size() + 1, 0);
      for (std::size_t k = 0; k < p.giants.size(); ++k) offset[k + 1] = offset[k] + p.babies[k].size();
      y = reduce(p.giants.size(), [&](std::size_t k) {
        ckks::Ciphertext inner;
        for (std::size_t j = 0; j < p.babies[k].size(); ++j) {
          ckks::Ciphertext prod = mul_w(rot_of(p.babies[k][j]), ops[offset[k] + j]);
          if (j == 0)
            inner = std::move(prod);
          else
            ev.add_inplace(inner, prod);
        }
        ev.relinearize_inplace(inner, rk);
        if (!last) ev.rescale_inplace(inner);
        if (p.giants[k]) ev.rotate_inplace(inner, static_cast<long>(p.giants[k]) * p.bs, gk);
        return inner;
      });
      if (p.kind == StageKind::kHybrid)
        for (long s = p.out_dim; s < p.n_pad; s *= 2) ev.add_inplace(y, ev.rotate(y, s, gk));
    }
    add_b(y, w.bias[i]);
    if (last) {
      ckks::Encryptor enc(ctx_, pk);
      flood_inplace(*ctx_, flood_, y, enc);
      ev.rescale_inplace(y);
    }
    if (times) times->add(std::string("linear ") + std::to_string(i) + " (" + stage_kind_name(p.kind) + ")", now_s() - t0);
    x.clear();
    x.push_back(std::move(y));
  }
  return std::move(x[0]);
}

std::vector<double> SingleEngine::decrypt(const ckks::Ciphertext& logits, const ckks::Decryptor& dec) const {
  auto v = encoder_.decode_real(dec.decrypt(logits));
  v.resize(static_cast<std::size_t>(circuit_.num_classes));
  return v;
}

}  // namespace heal::he_infer
