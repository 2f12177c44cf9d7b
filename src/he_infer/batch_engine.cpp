// Batch (SIMD across images) encrypted inference (see batch_engine.h).
#include "heal/he_infer/batch_engine.h"

#include <algorithm>
#include <chrono>
#include <map>

#include "heal/ckks/encryptor.h"
#include "heal/ckks/evaluator.h"
#include "heal/core/check.h"
#include "kernels.h"

namespace heal::he_infer {

namespace {
double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Blocks of about `rows` of L_1's inputs (L_0's outputs) for a streamed stage, in the order of
// their readers. Inputs read by the same L_1 rows (for a conv: every channel at one position) stay
// in one block, so each L_1 row is accumulated into by few blocks, each with long rows, and rows
// are completed early; only a group larger than `rows` (a dense L_1 reads every input) is cut into
// blocks of `rows`.
std::vector<std::vector<std::int32_t>> stream_partition(const SparseLinear& l1, std::size_t rows) {
  std::vector<std::vector<std::int32_t>> readers(static_cast<std::size_t>(l1.in_dim));
  for (int r = 0; r < l1.out_dim; ++r)
    for (auto e = l1.row_ptr[r]; e < l1.row_ptr[r + 1]; ++e) readers[static_cast<std::size_t>(l1.cols[e])].push_back(r);
  std::map<std::vector<std::int32_t>, std::vector<std::int32_t>> by_readers;
  for (int j = 0; j < l1.in_dim; ++j) by_readers[readers[static_cast<std::size_t>(j)]].push_back(j);
  std::vector<std::vector<std::int32_t>> blocks(1);
  for (const auto& [who, outs] : by_readers) {
    for (std::size_t lo = 0; lo < outs.size(); lo += rows) {
      const std::size_t len = std::min(rows, outs.size() - lo);
      if (!blocks.back().empty() && blocks.back().size() + len > rows) blocks.emplace_back();
      blocks.back().insert(blocks.back().end(), outs.begin() + static_cast<long>(lo), outs.begin() + static_cast<long>(lo + len));
    }
  }
  for (auto& b : blocks) std::sort(b.begin(), b.end());
  return blocks;
}

// finish[b] = the rows of `out_dim` whose last block (in `blocks` order) reaches them; rows no block
// reaches go to the last block.
template <typename StageOf>
std::vector<std::vector<std::int32_t>> finish_lists(std::size_t nblocks, int out_dim, StageOf stage_of) {
  std::vector<std::size_t> last(static_cast<std::size_t>(out_dim), nblocks - 1);
  for (std::size_t b = 0; b < nblocks; ++b)
    for (const auto& grp : stage_of(b).groups)
      for (const auto r : grp.rows) last[static_cast<std::size_t>(r)] = b;
  std::vector<std::vector<std::int32_t>> finish(nblocks);
  for (int r = 0; r < out_dim; ++r) finish[last[static_cast<std::size_t>(r)]].push_back(r);
  return finish;
}

// A copy holding only its current limbs (rescaling drops limbs without giving their memory back).
void compact(ckks::Ciphertext& c) {
  ckks::Ciphertext fresh(c);
  c = std::move(fresh);
}
}  // namespace

double StageTimes::total() const {
  double s = 0;
  for (double v : seconds) s += v;
  return s;
}

BatchEngine::BatchEngine(Circuit circuit, ckks::ContextPtr ctx, int threads, std::size_t stream_rows)
    : circuit_(std::move(circuit)), ctx_(std::move(ctx)), encoder_(ctx_), threads_(std::max(1, threads)) {
  const std::size_t top = ctx_->max_level();
  HEAL_REQUIRE(static_cast<std::size_t>(circuit_.depth()) + 1 <= top,
               "BatchEngine: circuit depth " << circuit_.depth() << " needs " << circuit_.depth() + 2 << " Q primes, context has " << top + 1);
  const bool streaming = stream_rows > 0 && circuit_.linears.size() >= 2;
  for (std::size_t i = 0; i < circuit_.linears.size(); ++i) {
    const std::size_t lvl = i == 0 ? top : top + 1 - 2 * i;
    level_.push_back(lvl);
    // With streaming, every stage lives in its blocks only.
    if (!streaming) mac_.push_back(detail::make_mac_stage(circuit_.linears[i], *ctx_, lvl));
  }
  // Output flood (privacy.h), added to each logit ciphertext after its relinearization and before
  // its rescale(s), where the logits have scale s^2 q_l: B covers the relinearization's key switch.
  double s = ctx_->default_scale(), s_pre = 0;
  for (std::size_t i = 0; i < level_.size(); ++i) {
    const double q = static_cast<double>(ctx_->q(level_[i]).value());
    s_pre = i == 0 ? s * q : s * s * q;
    s = i == 0 ? s_pre / q : s_pre / q / static_cast<double>(ctx_->q(level_[i] - 1).value());
  }
  flood_.noise_bound = key_switch_noise_bound(*ctx_, 1);
  flood_.sigma = flood_sigma(*ctx_, flood_.noise_bound);
  flood_.scale = s_pre;
  flood_.level = level_.back();
  HEAL_REQUIRE(flood_.slot_std(*ctx_) <= std::exp2(-kFloodPrecisionBits),
               "BatchEngine: the circuit-privacy flood would cost " << flood_.slot_std(*ctx_) << " per slot at N = " << ctx_->n()
                                                                   << " (use a larger N or scale)");
  if (!streaming) return;
  const SparseLinear &l0 = circuit_.linears[0], &l1 = circuit_.linears[1];
  for (const auto& rows : stream_partition(l1, stream_rows)) {
    const SparseLinear first = l0.select_rows(rows);  // L_1's bias is added as its rows complete
    stream_.push_back({detail::make_mac_stage(first, *ctx_, level_[0]),
                       detail::make_mac_stage(l1.select_columns(rows), *ctx_, level_[1], /*skip_empty_rows=*/true), first.bias,
                       {}});
  }
  // Each row is completed after the last block that reaches it, so that only the rows still being
  // summed hold 3 polynomials at the stage's level.
  auto fin = finish_lists(stream_.size(), l1.out_dim, [&](std::size_t b) -> const detail::MacStage& { return stream_[b].second; });
  for (std::size_t b = 0; b < stream_.size(); ++b) stream_[b].finish = std::move(fin[b]);
  column_blocks_.resize(circuit_.linears.size());
  for (std::size_t i = 2; i < circuit_.linears.size(); ++i) {
    const SparseLinear& li = circuit_.linears[i];
    auto& blocks = column_blocks_[i];
    for (auto& cols : stream_partition(li, stream_rows)) {
      blocks.push_back({detail::make_mac_stage(li.select_columns(cols), *ctx_, level_[i], /*skip_empty_rows=*/true), std::move(cols), {}});
    }
    fin = finish_lists(blocks.size(), li.out_dim, [&](std::size_t b) -> const detail::MacStage& { return blocks[b].stage; });
    for (std::size_t b = 0; b < blocks.size(); ++b) blocks[b].finish = std::move(fin[b]);
  }
}

BatchEngine::~BatchEngine() = default;

std::vector<ckks::Ciphertext> BatchEngine::encrypt(std::span<const float> images, std::size_t count, ckks::Encryptor& enc) const {
  const std::size_t dim = circuit_.input.size();
  HEAL_REQUIRE(count >= 1 && count <= capacity(), "BatchEngine::encrypt: count must be in [1, " << capacity() << "], got " << count);
  HEAL_REQUIRE(images.size() == count * dim, "BatchEngine::encrypt: expected " << count * dim << " floats, got " << images.size());
  std::vector<ckks::Ciphertext> cts(dim);
  std::vector<double> v(capacity(), 0.0);
  for (std::size_t j = 0; j < dim; ++j) {
    for (std::size_t s = 0; s < count; ++s) v[s] = images[s * dim + j];
    cts[j] = enc.encrypt(encoder_.encode(std::span<const double>(v), ctx_->default_scale(), ctx_->max_level()));
  }
  return cts;
}

std::vector<ckks::Ciphertext> BatchEngine::evaluate(std::vector<ckks::Ciphertext> x, const ckks::RelinKey& rk, const ckks::PublicKey& pk,
                                                    StageTimes* times, const Seed* flood_seed) const {
  HEAL_REQUIRE(x.size() == circuit_.input.size(), "BatchEngine::evaluate: expected " << circuit_.input.size() << " ciphertexts");
  const ckks::Evaluator ev(ctx_);
  const std::size_t last = circuit_.linears.size() - 1;
  // The flood's encryptions of zero (privacy.h), one per logit, drawn before the parallel completion.
  std::vector<ckks::Ciphertext> zeros;
  auto make_zeros = [&] {
    if (!zeros.empty()) return;
    ckks::Encryptor enc(ctx_, pk);
    std::unique_ptr<Rng> rng;  // tests only: reproducible floods (else the CSPRNG)
    if (flood_seed) {
      enc.set_rng(std::make_unique<SeededRng>(*flood_seed, 1));
      rng = std::make_unique<SeededRng>(*flood_seed, 2);
    }
    for (int c = 0; c < circuit_.num_classes; ++c)
      zeros.push_back(flooding_encryption(*ctx_, flood_, 1.0, ctx_->slots(), enc, rng.get()));
  };
  // + bias (at the products' scale) on one output of a stage running at `level`.
  auto add_bias_to = [&](ckks::Ciphertext& y, double bias, std::size_t level) {
    if (bias == 0.0) return;
    y[0].add_scalar_ntt_inplace(detail::real_to_residues(bias * y.scale(), *ctx_, level + 1), ctx_->q_basis());
  };
  auto add_bias = [&](std::vector<ckks::Ciphertext>& y, std::span<const double> bias, std::size_t level) {
    for (std::size_t r = 0; r < y.size(); ++r) add_bias_to(y[r], bias[r], level);
  };
  auto relin_rescale = [&](std::vector<ckks::Ciphertext>& y, bool twice, bool is_last) {
    if (is_last) make_zeros();
    detail::parallel_for(y.size(), threads_, [&](std::size_t b, std::size_t e) {
      for (std::size_t j = b; j < e; ++j) {
        ev.relinearize_inplace(y[j], rk);
        if (is_last) add_flood_inplace(*ctx_, flood_, y[j], zeros[j]);
        ev.rescale_inplace(y[j]);
        if (twice) ev.rescale_inplace(y[j]);
      }
    });
  };
  // Completes the rows `rows` of a streamed stage i (+ bias, relinearized, rescaled twice,
  // compacted); a row no block reached is created as zero first (`st`, `in`: the last block).
  auto finish = [&](std::vector<ckks::Ciphertext>& acc, std::span<const std::int32_t> rows, std::size_t i,
                    const detail::MacStage& st, std::span<const ckks::Ciphertext> in) {
    const std::vector<double>& bias = circuit_.linears[i].bias;
    if (acc.empty()) acc.resize(bias.size());
    for (const auto r : rows) {
      auto& a = acc[static_cast<std::size_t>(r)];
      if (a.size() == 0) a = detail::zero_accumulator(*ctx_, st, in, /*square_inputs=*/true);
      add_bias_to(a, bias[static_cast<std::size_t>(r)], level_[i]);
    }
    if (i == last) make_zeros();
    detail::parallel_for(rows.size(), threads_, [&](std::size_t b, std::size_t e) {
      for (std::size_t j = b; j < e; ++j) {
        auto& a = acc[static_cast<std::size_t>(rows[j])];
        ev.relinearize_inplace(a, rk);
        if (i == last) add_flood_inplace(*ctx_, flood_, a, zeros[static_cast<std::size_t>(rows[j])]);
        ev.rescale_inplace(a);
        ev.rescale_inplace(a);
        compact(a);
      }
    });
  };
  if (stream_.empty()) {
    for (std::size_t i = 0; i < circuit_.linears.size(); ++i) {
      const SparseLinear& lin = circuit_.linears[i];
      double t0 = now_s();
      HEAL_REQUIRE(x[0].level() == level_[i], "BatchEngine: stage " << i << " expected level " << level_[i] << ", got " << x[0].level());
      // Stages after the first read the squares of the previous outputs (lazy: no relinearization,
      // no rescale); the kernel squares each packed input tile on the fly instead of materialising them.
      std::vector<ckks::Ciphertext> y = detail::sparse_mac(*ctx_, mac_[i], x, threads_, /*square_inputs=*/i > 0);
      x.clear();
      x.shrink_to_fit();
      add_bias(y, lin.bias, level_[i]);
      const double t_mac = now_s() - t0;
      t0 = now_s();
      relin_rescale(y, i > 0, i == last);
      if (times) {
        times->add("linear " + std::to_string(i) + (i > 0 ? " square+mac" : " mac"), t_mac);
        times->add("linear " + std::to_string(i) + (i > 0 ? " relin+rescale" : " rescale"), now_s() - t0);
      }
      x = std::move(y);
    }
    return x;
  }
  // Fused L_0 -> L_1: per block, its L_0 outputs (+ bias, rescaled), then their squares accumulated
  // into L_1's outputs in place; the L_1 rows no later block reaches are completed at once.
  double t_first = 0, t_second = 0, t_finish = 0;
  std::vector<ckks::Ciphertext> acc;  // L_1's outputs, each created (zero) by the first block reaching it
  for (const auto& blk : stream_) {
    double t0 = now_s();
    std::vector<ckks::Ciphertext> y = detail::sparse_mac(*ctx_, blk.first, x, threads_);
    add_bias(y, blk.bias, level_[0]);
    relin_rescale(y, false, false);
    t_first += now_s() - t0;
    t0 = now_s();
    detail::sparse_mac_accumulate(*ctx_, blk.second, y, acc, threads_, /*square_inputs=*/true);
    t_second += now_s() - t0;
    t0 = now_s();
    finish(acc, blk.finish, 1, blk.second, y);
    t_finish += now_s() - t0;
  }
  x = std::move(acc);
  if (times) {
    times->add("linear 0 mac+rescale (streamed, " + std::to_string(stream_.size()) + " blocks)", t_first);
    times->add("linear 1 square+mac (streamed)", t_second);
    times->add("linear 1 relin+rescale (streamed)", t_finish);
  }
  // Later stages by blocks of their inputs: each block's inputs are squared into the stage's
  // outputs, then freed; rows complete after the last block reaching them.
  for (std::size_t i = 2; i < circuit_.linears.size(); ++i) {
    HEAL_REQUIRE(x[0].level() == level_[i], "BatchEngine: stage " << i << " expected level " << level_[i] << ", got " << x[0].level());
    double t_mac = 0, t_fin = 0;
    std::vector<ckks::Ciphertext> out;
    for (const auto& blk : column_blocks_[i]) {
      double t0 = now_s();
      std::vector<ckks::Ciphertext> in;
      in.reserve(blk.cols.size());
      for (const auto c : blk.cols) in.push_back(std::move(x[static_cast<std::size_t>(c)]));
      detail::sparse_mac_accumulate(*ctx_, blk.stage, in, out, threads_, /*square_inputs=*/true);
      t_mac += now_s() - t0;
      t0 = now_s();
      finish(out, blk.finish, i, blk.stage, in);
      t_fin += now_s() - t0;
    }
    x = std::move(out);
    if (times) {
      times->add("linear " + std::to_string(i) + " square+mac (" + std::to_string(column_blocks_[i].size()) + " blocks)", t_mac);
      times->add("linear " + std::to_string(i) + " relin+rescale", t_fin);
    }
  }
  return x;
}

std::vector<double> BatchEngine::decrypt(const std::vector<ckks::Ciphertext>& logits, std::size_t count, const ckks::Decryptor& dec) const {
  const int k = circuit_.num_classes;
  HEAL_REQUIRE(static_cast<int>(logits.size()) == k, "BatchEngine::decrypt: expected " << k << " ciphertexts");
  HEAL_REQUIRE(count <= capacity(), "BatchEngine::decrypt: count above capacity");
  std::vector<double> out(count * k);
  for (int c = 0; c < k; ++c) {
    const auto v = encoder_.decode_real(dec.decrypt(logits[c]));
    for (std::size_t s = 0; s < count; ++s) out[s * k + c] = v[s];
  }
  return out;
}

}  // namespace heal::he_infer
