// CKKS bootstrapping micro-benchmark, modelled on OpenFHE's
// src/pke/examples/simple-ckks-bootstrapping.cpp (v1.5.1).
// Extended copy of ../shared/anchors/drivers/openfhe_bootstrap_anchor.cpp (HEAL comparison anchor):
// secret distribution, per-slot precision statistics, key sizes, peak RSS, machine-readable JSON line.
//
// Usage: boot_bench <logSlots> <lb0> <lb1> <128|notset> [runs=5] [levelsAfter=10] [dcrtBits=59] [firstMod=60]
//                   [--secret UNIFORM_TERNARY|SPARSE_TERNARY|SPARSE_ENCAPSULATED] [--logn 16|0]
//                   [--json FILE] [--no-keyser] [--strict-sec] [--check-only] [--seed S]
//   --logn 0        let OpenFHE choose the ring dimension (only sensible with 128)
//   --strict-sec    with 128: exit 3 instead of falling back to HEStd_NotSet when OpenFHE rejects the parameters
//   --check-only    stop after context generation (print parameters, no keys, no bootstrapping)
//   --no-keyser     skip serialising the keys through OpenFHE's Serial API (the in-memory size is still reported)
//   --json FILE     also write the JSON object to FILE (it is always printed as the last line, prefixed "JSON ")
#include "openfhe.h"
#include "cryptocontext-ser.h"
#include "key/key-ser.h"
#include "scheme/ckksrns/ckksrns-ser.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <random>
#include <sstream>
#include <streambuf>
#include <string>
#include <vector>
#ifdef _OPENMP
    #include <omp.h>
#endif

using namespace lbcrypto;
using clk = std::chrono::steady_clock;

static double secs(clk::time_point a, clk::time_point b) {
    return std::chrono::duration<double>(b - a).count();
}

static std::string vmhwm() {
    std::ifstream f("/proc/self/status");
    std::string line;
    std::string out;
    while (std::getline(f, line)) {
        if (line.rfind("VmHWM", 0) == 0 || line.rfind("VmRSS", 0) == 0)
            out += line + "; ";
    }
    return out;
}

static uint64_t peakRssBytes() {
    std::ifstream f("/proc/self/status");
    std::string line;
    while (std::getline(f, line)) {
        if (line.rfind("VmHWM:", 0) == 0) {
            std::istringstream is(line.substr(6));
            uint64_t kb = 0;
            is >> kb;
            return kb * 1024;
        }
    }
    struct rusage ru {};
    getrusage(RUSAGE_SELF, &ru);
    return static_cast<uint64_t>(ru.ru_maxrss) * 1024;
}

// Output buffer that only counts bytes: lets us measure the serialized size of many GB of keys
// without holding a second copy in memory.
class CountingBuf : public std::streambuf {
public:
    uint64_t count = 0;

protected:
    int_type overflow(int_type c) override {
        if (c != traits_type::eof())
            ++count;
        return traits_type::not_eof(c);
    }
    std::streamsize xsputn(const char*, std::streamsize n) override {
        count += static_cast<uint64_t>(n);
        return n;
    }
};

// Raw in-memory size of the RNS polynomials of an evaluation key (8 bytes per residue coefficient).
static uint64_t rawKeyBytes(const EvalKey<DCRTPoly>& k) {
    uint64_t b = 0;
    auto add   = [&](const std::vector<DCRTPoly>& v) {
        for (auto& p : v)
            b += static_cast<uint64_t>(p.GetNumOfElements()) * p.GetRingDimension() * sizeof(uint64_t);
    };
    add(k->GetAVector());
    add(k->GetBVector());
    return b;
}

static double bitsOf(double err) {
    // cap at 60 bits for an exactly-zero error (never observed with real bootstrapping)
    return err > 0 ? std::min(60.0, -std::log2(err)) : 60.0;
}

static std::string usage(const char* a0) {
    return std::string("usage: ") + a0 +
           " <logSlots> <lb0> <lb1> <128|notset> [runs=5] [levelsAfter=10] [dcrtBits=59] [firstMod=60]"
           " [--secret UNIFORM_TERNARY|SPARSE_TERNARY|SPARSE_ENCAPSULATED] [--logn 16|0] [--json FILE]"
           " [--no-keyser] [--strict-sec] [--check-only] [--seed S]\n";
}

int main(int argc, char* argv[]) {
    std::cout << std::unitbuf;  // keep partial output when the run is killed (OOM on a shared machine)
    std::vector<std::string> pos;
    std::string secretName = "UNIFORM_TERNARY";
    std::string jsonPath;
    bool keySer = true, strictSec = false, checkOnly = false;
    uint32_t logN = 16;
    uint64_t seed = 12345;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto need     = [&](const char* opt) -> std::string {
            if (i + 1 >= argc) {
                std::cerr << opt << " needs a value\n" << usage(argv[0]);
                std::exit(1);
            }
            return argv[++i];
        };
        if (a == "--secret")
            secretName = need("--secret");
        else if (a == "--json")
            jsonPath = need("--json");
        else if (a == "--logn")
            logN = std::stoul(need("--logn"));
        else if (a == "--seed")
            seed = std::stoull(need("--seed"));
        else if (a == "--no-keyser")
            keySer = false;
        else if (a == "--strict-sec")
            strictSec = true;
        else if (a == "--check-only")
            checkOnly = true;
        else if (a.rfind("--", 0) == 0) {
            std::cerr << "unknown option " << a << "\n" << usage(argv[0]);
            return 1;
        }
        else
            pos.push_back(a);
    }
    if (pos.size() < 4) {
        std::cerr << usage(argv[0]);
        return 1;
    }
    uint32_t logSlots                      = std::stoul(pos[0]);
    std::vector<uint32_t> levelBudget      = {(uint32_t)std::stoul(pos[1]), (uint32_t)std::stoul(pos[2])};
    std::string sec                        = pos[3];
    uint32_t runs                          = pos.size() > 4 ? std::stoul(pos[4]) : 5;
    uint32_t levelsAvailableAfterBootstrap = pos.size() > 5 ? std::stoul(pos[5]) : 10;
    uint32_t dcrtBits                      = pos.size() > 6 ? std::stoul(pos[6]) : 59;
    uint32_t firstMod                      = pos.size() > 7 ? std::stoul(pos[7]) : 60;
    if (runs == 0)
        runs = 1;

    SecretKeyDist secretKeyDist;
    uint32_t hammingWeight = 0;  // 0 = dense (uniform ternary)
    std::string hwNote;
    if (secretName == "UNIFORM_TERNARY") {
        secretKeyDist = UNIFORM_TERNARY;
    }
    else if (secretName == "SPARSE_TERNARY") {
        secretKeyDist = SPARSE_TERNARY;
        hammingWeight = 192;  // src/pke/lib/schemebase/base-pke.cpp: DCRTPoly(tug, ..., 192)
    }
    else if (secretName == "SPARSE_ENCAPSULATED") {
        secretKeyDist = SPARSE_ENCAPSULATED;
        hammingWeight = 192;  // main key h=192; bootstrapping switches to an h=32 key (ckksrns-fhe.cpp)
        hwNote        = "main key h=192, modraise key h=32";
    }
    else {
        std::cerr << "unknown --secret " << secretName << "\n";
        return 1;
    }

    int threads = 1;
#ifdef _OPENMP
    threads = omp_get_max_threads();
    std::cout << "omp_get_max_threads=" << threads << "\n";
#endif
    std::cout << "secret=" << secretName << " hamming_weight=" << (hammingWeight ? std::to_string(hammingWeight) : "dense")
              << (hwNote.empty() ? "" : " (" + hwNote + ")") << "\n";

    uint32_t depth = levelsAvailableAfterBootstrap + FHECKKSRNS::GetBootstrapDepth(levelBudget, secretKeyDist);

    auto makeParams = [&](SecurityLevel s) {
        CCParams<CryptoContextCKKSRNS> parameters;
        parameters.SetSecretKeyDist(secretKeyDist);
        parameters.SetSecurityLevel(s);
        if (logN != 0)
            parameters.SetRingDim(1 << logN);
        parameters.SetScalingModSize(dcrtBits);
        parameters.SetScalingTechnique(FLEXIBLEAUTO);
        parameters.SetFirstModSize(firstMod);
        parameters.SetMultiplicativeDepth(depth);
        return parameters;
    };

    auto t0 = clk::now();
    CryptoContext<DCRTPoly> cc;
    std::string secUsed;
    std::string secRejected;
    if (sec == "128") {
        try {
            cc      = GenCryptoContext(makeParams(HEStd_128_classic));
            secUsed = "HEStd_128_classic";
        }
        catch (const std::exception& e) {
            secRejected = e.what();
            std::cout << "HEStd_128_classic rejected N=2^" << logN << " depth=" << depth << ": " << e.what() << "\n";
            if (strictSec) {
                std::cout << "RESULT rejected sec=HEStd_128_classic logN=" << logN << " depth=" << depth << "\n";
                return 3;
            }
            std::cout << "falling back to HEStd_NotSet\n";
        }
    }
    if (!cc) {
        if (logN == 0) {
            std::cerr << "--logn 0 needs a security level OpenFHE accepts\n";
            return 1;
        }
        cc      = GenCryptoContext(makeParams(HEStd_NotSet));
        secUsed = "HEStd_NotSet";
    }
    auto t1 = clk::now();
    cc->Enable(PKE);
    cc->Enable(KEYSWITCH);
    cc->Enable(LEVELEDSHE);
    cc->Enable(ADVANCEDSHE);
    cc->Enable(FHE);

    auto cp = std::dynamic_pointer_cast<CryptoParametersCKKSRNS>(cc->GetCryptoParameters());
    double logQ = 0, logP = 0;
    for (auto& p : cp->GetElementParams()->GetParams())
        logQ += std::log2(p->GetModulus().ConvertToDouble());
    size_t nP = 0;
    if (cp->GetParamsP()) {
        for (auto& p : cp->GetParamsP()->GetParams())
            logP += std::log2(p->GetModulus().ConvertToDouble());
        nP = cp->GetParamsP()->GetParams().size();
    }
    uint32_t ringDim  = cc->GetRingDimension();
    uint32_t realLogN = 0;
    while ((1u << realLogN) < ringDim)
        ++realLogN;
    uint32_t numSlots = 1u << logSlots;
    size_t nQ         = cp->GetElementParams()->GetParams().size();

    std::cout << std::fixed << std::setprecision(3);
    std::cout << "security=" << secUsed << " ringDim=" << ringDim << " slots=" << numSlots << " levelBudget={"
              << levelBudget[0] << "," << levelBudget[1] << "}"
              << " depth=" << depth << " (bootDepth=" << depth - levelsAvailableAfterBootstrap << ")"
              << " dcrtBits=" << dcrtBits << " firstMod=" << firstMod << "\n";
    std::cout << "towersQ=" << nQ << " towersP=" << nP << " dnum(numPartQ)=" << cp->GetNumPartQ() << " logQ=" << logQ
              << " logP=" << logP << " logQP=" << logQ + logP << "\n";
    std::cout << "ctx_gen_s=" << secs(t0, t1) << "\n";
    if (checkOnly) {
        std::cout << "RESULT check_only sec=" << secUsed << " ringDim=" << ringDim << " depth=" << depth
                  << " logQP=" << logQ + logP << " dnum=" << cp->GetNumPartQ() << "\n";
        return 0;
    }
    if (numSlots > ringDim / 2) {
        std::cerr << "slots 2^" << logSlots << " exceed N/2\n";
        return 1;
    }

    auto t2 = clk::now();
    cc->EvalBootstrapSetup(levelBudget, {0, 0}, numSlots);
    auto t3      = clk::now();
    auto keyPair = cc->KeyGen();
    cc->EvalMultKeyGen(keyPair.secretKey);
    auto t4 = clk::now();
    cc->EvalBootstrapKeyGen(keyPair.secretKey, numSlots);
    auto t5 = clk::now();
    size_t nRotKeys = 0;
    uint64_t rawAuto = 0, rawRelin = 0;
    {
        auto& m  = cc->GetEvalAutomorphismKeyMap(keyPair.secretKey->GetKeyTag());
        nRotKeys = m.size();
        for (auto& kv : m)
            rawAuto += rawKeyBytes(kv.second);
        for (auto& k : cc->GetEvalMultKeyVector(keyPair.secretKey->GetKeyTag()))
            rawRelin += rawKeyBytes(k);
    }
    std::cout << "EvalBootstrapSetup_s=" << secs(t2, t3) << " KeyGen+EvalMultKeyGen_s=" << secs(t3, t4)
              << " EvalBootstrapKeyGen_s=" << secs(t4, t5) << " automorphismKeys=" << nRotKeys << "\n";
    std::cout << "key_raw_bytes: automorphism=" << rawAuto << " relin=" << rawRelin << " total=" << rawAuto + rawRelin
              << " (" << (rawAuto + rawRelin) / 1073741824.0 << " GiB)\n";
    std::cout << "mem_after_keygen: " << vmhwm() << "\n";

    uint64_t serAuto = 0, serRelin = 0;
    double serSecs = 0;
    if (keySer) {
        auto a = clk::now();
        {
            CountingBuf buf;
            std::ostream os(&buf);
            if (!CryptoContextImpl<DCRTPoly>::SerializeEvalAutomorphismKey(os, SerType::BINARY,
                                                                          keyPair.secretKey->GetKeyTag()))
                std::cerr << "SerializeEvalAutomorphismKey failed\n";
            os.flush();
            serAuto = buf.count;
        }
        {
            CountingBuf buf;
            std::ostream os(&buf);
            if (!CryptoContextImpl<DCRTPoly>::SerializeEvalMultKey(os, SerType::BINARY, keyPair.secretKey->GetKeyTag()))
                std::cerr << "SerializeEvalMultKey failed\n";
            os.flush();
            serRelin = buf.count;
        }
        serSecs = secs(a, clk::now());
        std::cout << "key_serialized_bytes (Serial BINARY): automorphism=" << serAuto << " relin=" << serRelin
                  << " total=" << serAuto + serRelin << " (" << (serAuto + serRelin) / 1073741824.0
                  << " GiB) serialize_s=" << serSecs << "\n";
    }

    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> dist(-1.0, 1.0);
    std::vector<double> x(numSlots);

    std::vector<double> times;
    std::vector<double> slotBits;  // -log2|err| per slot, all runs
    double worstErr = 0, worstImag = 0, sumAbsErr = 0;
    uint32_t levelsAfter = 0, levelsBefore = 0;
    for (uint32_t r = 0; r < runs; ++r) {
        // fresh inputs each run, depleted ciphertext as in the example
        for (auto& v : x)
            v = dist(rng);
        Plaintext ptxt = cc->MakeCKKSPackedPlaintext(x, 1, depth - 1, nullptr, numSlots);
        ptxt->SetLength(numSlots);
        auto ciph    = cc->Encrypt(keyPair.publicKey, ptxt);
        levelsBefore = depth - ciph->GetLevel();

        auto a   = clk::now();
        auto out = cc->EvalBootstrap(ciph);
        auto b   = clk::now();
        times.push_back(secs(a, b));
        levelsAfter = depth - out->GetLevel() - (out->GetNoiseScaleDeg() - 1);
        Plaintext res;
        cc->Decrypt(keyPair.secretKey, out, &res);
        res->SetLength(numSlots);
        auto vals  = res->GetCKKSPackedValue();
        double err = 0, ierr = 0, sum = 0;
        for (size_t i = 0; i < numSlots; ++i) {
            double e = std::fabs(vals[i].real() - x[i]);
            err      = std::max(err, e);
            ierr     = std::max(ierr, std::fabs(vals[i].imag()));
            sum += e;
            slotBits.push_back(bitsOf(e));
        }
        sumAbsErr += sum;
        worstErr  = std::max(worstErr, err);
        worstImag = std::max(worstImag, ierr);
        std::cout << "run " << r << ": boot_s=" << times.back() << " maxerr=" << std::scientific << err
                  << " prec_bits=" << std::fixed << bitsOf(err) << " meanabs_bits=" << bitsOf(sum / numSlots)
                  << " levels_before=" << levelsBefore << " levels_after=" << levelsAfter << "\n";
    }
    auto sorted = times;
    std::sort(sorted.begin(), sorted.end());
    double median = sorted.size() % 2 ? sorted[sorted.size() / 2]
                                      : 0.5 * (sorted[sorted.size() / 2 - 1] + sorted[sorted.size() / 2]);
    std::sort(slotBits.begin(), slotBits.end());
    double bitsMin = bitsOf(worstErr);
    double bitsMax = slotBits.back();
    double bitsMed = slotBits[slotBits.size() / 2];
    double bitsMean = 0;
    for (double v : slotBits)
        bitsMean += v;
    bitsMean /= slotBits.size();
    double bitsMeanAbs = bitsOf(sumAbsErr / slotBits.size());
    double keygenS     = secs(t3, t5);
    uint64_t rss       = peakRssBytes();

    std::cout << "RESULT slots=" << numSlots << " lb={" << levelBudget[0] << "," << levelBudget[1] << "} logN=" << realLogN
              << " sec=" << secUsed << " secret=" << secretName << " logQP=" << logQ + logP << " depth=" << depth
              << " levels_after=" << levelsAfter << " prec_bits_worst=" << bitsMin
              << " prec_bits_meanabs=" << bitsMeanAbs << " prec_bits_mean=" << bitsMean << " imag_max=" << std::scientific
              << worstImag << std::fixed << " boot_median_s=" << median << " boot_min_s=" << sorted.front()
              << " boot_max_s=" << sorted.back() << " bootkeygen_s=" << secs(t4, t5) << " setup_s=" << secs(t2, t3)
              << " autokeys=" << nRotKeys << " key_bytes=" << (keySer ? serAuto + serRelin : rawAuto + rawRelin)
              << " peak_rss=" << rss << " threads=" << threads << "\n";
    std::cout << "mem_end: " << vmhwm() << "\n";

    std::ostringstream js;
    js << std::setprecision(6) << std::fixed;
    js << "{\"impl\":\"openfhe\",\"openfhe_version\":\"" << GetOPENFHEVersion() << "\",\"threads\":" << threads
       << ",\"security\":\"" << secUsed << "\",\"sec_128_rejected\":" << (secRejected.empty() ? "false" : "true")
       << ",\"log_n\":" << realLogN << ",\"slots\":" << numSlots << ",\"level_budget\":[" << levelBudget[0] << ","
       << levelBudget[1] << "],\"log_qp\":" << logQ + logP << ",\"log_q\":" << logQ << ",\"log_p\":" << logP
       << ",\"towers_q\":" << nQ << ",\"towers_p\":" << nP << ",\"dnum\":" << cp->GetNumPartQ()
       << ",\"depth\":" << depth << ",\"boot_depth\":" << depth - levelsAvailableAfterBootstrap
       << ",\"secret\":\"" << secretName << "\",\"hamming_weight\":" << hammingWeight
       << ",\"levels_after\":" << levelsAfter << ",\"runs\":" << runs << ",\"bits_min\":" << bitsMin
       << ",\"bits_median\":" << bitsMed << ",\"bits_mean\":" << bitsMean << ",\"bits_max\":" << bitsMax
       << ",\"bits_meanabs\":" << bitsMeanAbs << ",\"imag_max\":" << std::scientific << worstImag << std::fixed
       << ",\"seconds_median\":" << median << ",\"seconds_min\":" << sorted.front()
       << ",\"seconds_max\":" << sorted.back() << ",\"setup_seconds\":" << secs(t2, t3)
       << ",\"keygen_seconds\":" << keygenS << ",\"bootstrap_keygen_seconds\":" << secs(t4, t5)
       << ",\"num_automorphism_keys\":" << nRotKeys
       << ",\"key_bytes\":" << (keySer ? serAuto + serRelin : rawAuto + rawRelin)
       << ",\"key_bytes_serialized\":" << (keySer ? std::to_string(serAuto + serRelin) : "null")
       << ",\"key_bytes_raw\":" << rawAuto + rawRelin << ",\"peak_rss_bytes\":" << rss << "}";
    std::cout << "JSON " << js.str() << std::endl;
    if (!jsonPath.empty()) {
        std::ofstream jf(jsonPath);
        jf << js.str() << "\n";
        if (!jf) {
            std::cerr << "could not write " << jsonPath << "\n";
            return 2;
        }
    }
    return 0;
}
