#include "tinyfront/bench/bench.hpp"

#include <omp.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <Eigen/Core>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "tinyfront/model/flops.hpp"
#include "tinyfront/model/model.hpp"
#include "tinyfront/train/step.hpp"
#include "tinyfront/util/error.hpp"
#include "tinyfront/version.hpp"

namespace tinyfront {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n == 0 ? 0 : n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Current resident set in bytes (/proc/self/statm), 0 where unavailable.
int64_t resident_bytes() {
  std::ifstream f("/proc/self/statm");
  long pages = 0, resident = 0;
  if (!(f >> pages >> resident)) return 0;
  return int64_t(resident) * sysconf(_SC_PAGESIZE);
}

// CPU time of the whole process (all threads). Next to wall time it shows how much of the
// machine the run had: on a loaded machine wall time grows while CPU time per step does not.
double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

int64_t minor_faults() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_minflt;
}

int64_t peak_rss_bytes() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return int64_t(u.ru_maxrss) * 1024;  // Linux reports kilobytes
}

void set_threads(int threads) {
  omp_set_num_threads(threads);
  Eigen::setNbThreads(threads);
}

// ---------------------------------------------------------------------------------------------
// GEMM ceiling: Eigen's float GEMM on row-major operands, written the way the layers write them
// (noalias products of maps), on the square 1024 case and on the transformer's own shapes, with
// Eigen's own threads and (with more than one thread) split between OpenMP threads by hand. The
// peak is the best of them all.

using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// split: each thread runs single-threaded Eigen on its own block of rows (of columns for the
// weight-gradient product), the way the trainer uses threads; otherwise Eigen's own threading.
GemmRate time_gemm(const std::string& name, int m, int k, int n, bool transposed_lhs, bool split,
                   double seconds, int min_reps) {
  // transposed_lhs: C[m,n] += A^T B with A stored [k,m], the weight-gradient product.
  RowMat A = transposed_lhs ? RowMat::Random(k, m) : RowMat::Random(m, k);
  RowMat B = RowMat::Random(k, n);
  RowMat C = RowMat::Zero(m, n);
  using Map = Eigen::Map<RowMat, 0, Eigen::OuterStride<>>;
  using CMap = Eigen::Map<const RowMat, 0, Eigen::OuterStride<>>;
  auto once = [&] {
    if (!split) {
      if (transposed_lhs)
        C.noalias() += A.transpose() * B;
      else
        C.noalias() = A * B;
      return;
    }
#pragma omp parallel
    {
      const long parts = omp_get_num_threads(), me = omp_get_thread_num();
      if (transposed_lhs) {  // split the columns of C (and B)
        const long c0 = n * me / parts, c1 = n * (me + 1) / parts;
        Map(C.data() + c0, m, c1 - c0, Eigen::OuterStride<>(n)).noalias() +=
            A.transpose() * CMap(B.data() + c0, k, c1 - c0, Eigen::OuterStride<>(n));
      } else {  // split the rows of C (and A)
        const long r0 = m * me / parts, r1 = m * (me + 1) / parts;
        Map(C.data() + r0 * n, r1 - r0, n, Eigen::OuterStride<>(n)).noalias() =
            CMap(A.data() + r0 * k, r1 - r0, k, Eigen::OuterStride<>(k)) * B;
      }
    }
  };
  once();  // warm-up: caches, page faults, thread start
  std::vector<double> rates;
  const double flops = 2.0 * m * k * n;
  const auto t0 = Clock::now();
  while (int(rates.size()) < min_reps || seconds_since(t0) < seconds) {
    const auto t = Clock::now();
    once();
    rates.push_back(flops / seconds_since(t) * 1e-9);
  }
  GemmRate g;
  g.name = name + (split ? "_split" : "");
  g.m = m, g.k = k, g.n = n;
  g.reps = int(rates.size());
  g.gflops = median(rates);
  return g;
}

std::vector<GemmRate> gemm_rates(const BenchOptions& opt, int threads) {
  const double s = opt.quick ? 0.02 : opt.gemm_seconds;
  const int reps = opt.quick ? 2 : 5;
  const int N = 64 * 128;  // batch x context of the character-level transformer
  std::vector<GemmRate> out;
  for (bool split : {false, true}) {
    if (split && threads == 1) break;  // the same thing with one thread
    out.push_back(time_gemm("square_1024", 1024, 1024, 1024, false, split, s, reps));
    out.push_back(time_gemm("qkv_8192x128x384", N, 128, 384, false, split, s, reps));
    out.push_back(time_gemm("fc_8192x128x256", N, 128, 256, false, split, s, reps));
    out.push_back(time_gemm("fc2_8192x256x128", N, 256, 128, false, split, s, reps));
    out.push_back(time_gemm("dW_128x8192x384", 128, N, 384, true, split, s, reps));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

ModelRate time_model(const BenchModel& bm, const BenchOptions& opt, double peak_gflops) {
  ModelRate r;
  r.name = bm.name;
  r.model = bm;
  const ModelConfig& cfg = bm.cfg;
  const int B = bm.batch, T = cfg.context, V = cfg.vocab;
  Model<float> m = model_create<float>(cfg, bm.protocol, B);
  Rng rng(1);
  model_init(m, rng);
  r.params = int64_t(m.params.size());
  // Random tokens: the cost of a step does not depend on the text.
  std::vector<int32_t> in(size_t(B) * T), tg(size_t(B) * targets_per_window(cfg, bm.protocol));
  for (auto& t : in) t = int32_t(rng.below(uint64_t(V)));
  for (auto& t : tg) t = int32_t(rng.below(uint64_t(V)));
  std::vector<float> mom(m.params.size(), 0.0f), vel(m.params.size(), 0.0f);
  StepConfig step_cfg;
  step_cfg.adam.lr = 1e-4;  // small, so that many steps stay well-behaved
  int64_t t = 0;
  // The trainer's step (train_step): zero, forward, backward, Adam.
  auto step = [&] {
    r.loss = train_step(m, in.data(), tg.data(), B, rng, mom, vel, step_cfg, ++t).loss;
  };

  const int warmup = opt.quick ? 1 : 3;
  for (int i = 0; i < warmup; ++i) step();
  r.rss_after_warmup = resident_bytes();
  const int64_t faults0 = minor_faults();
  const double seconds = opt.quick ? 0.0 : opt.seconds;
  const int min_steps = opt.quick ? 2 : 5;
  std::vector<double> times;
  const auto t0 = Clock::now();
  const double cpu0 = cpu_seconds();
  while (int(times.size()) < min_steps || seconds_since(t0) < seconds) {
    const auto ts = Clock::now();
    step();
    times.push_back(seconds_since(ts));
  }
  r.cpu_ms_per_step = (cpu_seconds() - cpu0) / double(times.size()) * 1e3;
  r.rss_after = resident_bytes();
  r.steps = int(times.size());
  r.minor_faults_per_step = double(minor_faults() - faults0) / r.steps;
  // Growth of more than a few pages over the timed steps means something is allocated per step
  // and kept; a page or two can come from the C library's own bookkeeping.
  r.memory_stable = r.rss_after - r.rss_after_warmup <= 64 * 1024;

  const double med = median(times);
  double sum = 0;
  for (double x : times) sum += x;
  r.ms_per_step = med * 1e3;
  r.ms_per_step_mean = sum / r.steps * 1e3;
  r.ms_per_step_min = *std::min_element(times.begin(), times.end()) * 1e3;
  r.tokens_per_second = double(B) * T / med;
  r.flops_per_step = exact_flops_per_window(cfg, bm.protocol) * B;
  r.gflops = r.flops_per_step / med * 1e-9;
  r.fraction_of_peak = peak_gflops > 0 ? r.gflops / peak_gflops : 0;
  return r;
}

nlohmann::ordered_json config_json(const BenchModel& bm) {
  const ModelConfig& c = bm.cfg;
  nlohmann::ordered_json j;
  j["arch"] = to_string(c.arch);
  j["protocol"] = to_string(bm.protocol);
  j["vocab"] = c.vocab;
  j["context"] = c.context;
  j["d_model"] = c.d_model;
  if (c.arch == Arch::mlp) j["hidden"] = c.hidden;
  if (c.is_attention_family()) {
    j["layers"] = c.blocks();
    j["heads"] = c.heads;
    j["ff"] = c.ff;
    j["norm"] = to_string(c.norm);
    j["activation"] = to_string(c.activation);
  }
  j["dropout"] = c.dropout;
  j["batch"] = bm.batch;
  return j;
}

}  // namespace

std::vector<BenchModel> bench_models() {
  // The study's character-level models (vocabulary 65, T=128, d=128, batch 64) and its word-level
  // transformer (PTB, vocabulary 9,999, T=64, batch 32).
  ModelConfig base;
  base.vocab = 65;
  base.context = 128;
  base.d_model = 128;
  base.heads = 4;
  std::vector<BenchModel> v;
  ModelConfig c = base;
  c.arch = Arch::linear;
  v.push_back({"linear", c, Protocol::paper, 64});
  c = base;
  c.arch = Arch::mlp;
  c.hidden = {256, 256};
  v.push_back({"mlp", c, Protocol::paper, 64});
  c = base;
  c.arch = Arch::attention;
  c.ff = 512;
  v.push_back({"attention", c, Protocol::paper, 64});
  c = base;
  c.arch = Arch::transformer;
  c.layers = 3;
  c.ff = 256;
  v.push_back({"transformer_paper", c, Protocol::paper, 64});
  v.push_back({"transformer_causal", c, Protocol::causal, 64});
  c.vocab = 9999;
  c.context = 64;
  v.push_back({"transformer_word", c, Protocol::causal, 32});
  // The block most users train today (nanoGPT's): GELU, pre-LN, FF 4d, dropout 0.1, causal.
  c = base;
  c.arch = Arch::transformer;
  c.layers = 3;
  c.norm = Norm::pre;
  c.activation = Activation::gelu;
  c.ff = 512;
  c.dropout = 0.1;
  v.push_back({"transformer_gelu", c, Protocol::causal, 64});
  return v;
}

std::vector<BenchModel> bench_block_variants() {
  // From the nanoGPT-style block to the study's, one setting at a time (issue 12's table), and
  // the tanh form of GELU beside the exact one.
  std::vector<BenchModel> v;
  ModelConfig c;
  for (const BenchModel& bm : bench_models())
    if (bm.name == "transformer_gelu") c = bm.cfg;
  v.push_back({"gelu_pre_ff512_drop", c, Protocol::causal, 64});
  c.activation = Activation::gelu_tanh;
  v.push_back({"gelutanh_pre_ff512_drop", c, Protocol::causal, 64});
  c.activation = Activation::gelu;
  c.dropout = 0;
  v.push_back({"gelu_pre_ff512", c, Protocol::causal, 64});
  c.activation = Activation::relu;
  v.push_back({"relu_pre_ff512", c, Protocol::causal, 64});
  c.dropout = 0.1;
  v.push_back({"relu_pre_ff512_drop", c, Protocol::causal, 64});
  c.dropout = 0;
  c.ff = 256;
  v.push_back({"relu_pre_ff256", c, Protocol::causal, 64});
  c.norm = Norm::post;
  v.push_back({"relu_post_ff256", c, Protocol::causal, 64});  // the study's block
  return v;
}

std::vector<BenchModel> bench_model_set(const std::string& set) {
  if (set == "default") return bench_models();
  if (set == "blocks") return bench_block_variants();
  if (set == "all") {
    std::vector<BenchModel> v = bench_models();
    for (BenchModel& bm : bench_block_variants()) v.push_back(bm);
    return v;
  }
  throw Error("--model-set: unknown set '" + set + "' (expected default, blocks, all)");
}

BenchReport run_bench(const BenchOptions& opt, bool progress) {
  BenchReport rep;
  rep.options = opt;
  std::vector<BenchModel> models;
  for (const BenchModel& bm : bench_model_set(opt.model_set))
    if (opt.models.empty() ||
        std::find(opt.models.begin(), opt.models.end(), bm.name) != opt.models.end())
      models.push_back(bm);
  for (int threads : opt.threads) {
    set_threads(threads);
    BenchRun run;
    run.threads = threads;
    run.gemm = gemm_rates(opt, threads);
    for (const GemmRate& g : run.gemm)
      run.gemm_peak_gflops = std::max(run.gemm_peak_gflops, g.gflops);
    if (progress)
      std::fprintf(stderr, "threads %d: GEMM peak %.1f GFLOP/s\n", threads, run.gemm_peak_gflops);
    for (const BenchModel& bm : models) {
      run.models.push_back(time_model(bm, opt, run.gemm_peak_gflops));
      const ModelRate& r = run.models.back();
      rep.memory_stable = rep.memory_stable && r.memory_stable;
      if (progress)
        std::fprintf(stderr, "threads %d: %-20s %8.2f ms/step %10.0f tokens/s %6.1f GFLOP/s\n",
                     threads, r.name.c_str(), r.ms_per_step, r.tokens_per_second, r.gflops);
    }
    rep.runs.push_back(std::move(run));
  }
  rep.peak_rss_bytes = peak_rss_bytes();
  return rep;
}

nlohmann::ordered_json bench_to_json(const BenchReport& r) {
  nlohmann::ordered_json j;
  j["tinyfront_version"] = TINYFRONT_VERSION;
  j["git_commit"] = TINYFRONT_GIT_COMMIT;
  j["quick"] = r.options.quick;
  j["hardware_threads"] = omp_get_num_procs();
  j["eigen_simd"] = Eigen::SimdInstructionSetsInUse();
  j["peak_rss_bytes"] = r.peak_rss_bytes;
  j["memory_stable"] = r.memory_stable;
  nlohmann::ordered_json runs = nlohmann::ordered_json::array();
  for (const BenchRun& run : r.runs) {
    nlohmann::ordered_json jr;
    jr["threads"] = run.threads;
    jr["gemm_peak_gflops"] = run.gemm_peak_gflops;
    nlohmann::ordered_json gemm = nlohmann::ordered_json::array();
    for (const GemmRate& g : run.gemm)
      gemm.push_back({{"name", g.name},
                      {"m", g.m},
                      {"k", g.k},
                      {"n", g.n},
                      {"reps", g.reps},
                      {"gflops", g.gflops}});
    jr["gemm"] = gemm;
    nlohmann::ordered_json models = nlohmann::ordered_json::array();
    for (const ModelRate& m : run.models) {
      nlohmann::ordered_json jm;
      jm["name"] = m.name;
      jm["config"] = config_json(m.model);
      jm["params"] = m.params;
      jm["steps"] = m.steps;
      jm["ms_per_step"] = m.ms_per_step;
      jm["ms_per_step_mean"] = m.ms_per_step_mean;
      jm["ms_per_step_min"] = m.ms_per_step_min;
      jm["cpu_ms_per_step"] = m.cpu_ms_per_step;
      jm["tokens_per_second"] = m.tokens_per_second;
      jm["flops_per_step"] = m.flops_per_step;
      jm["gflops"] = m.gflops;
      jm["fraction_of_peak"] = m.fraction_of_peak;
      jm["loss"] = m.loss;
      jm["rss_after_warmup_bytes"] = m.rss_after_warmup;
      jm["rss_after_bytes"] = m.rss_after;
      jm["minor_faults_per_step"] = m.minor_faults_per_step;
      jm["memory_stable"] = m.memory_stable;
      models.push_back(jm);
    }
    jr["models"] = models;
    runs.push_back(jr);
  }
  j["runs"] = runs;
  // Thread scaling: tokens/s at each thread count over the first thread count's.
  if (r.runs.size() > 1) {
    nlohmann::ordered_json sc;
    const BenchRun& first = r.runs.front();
    for (size_t i = 0; i < first.models.size(); ++i) {
      nlohmann::ordered_json per;
      for (const BenchRun& run : r.runs)
        per[std::to_string(run.threads)] =
            run.models[i].tokens_per_second / first.models[i].tokens_per_second;
      sc[first.models[i].name] = per;
    }
    j["scaling_vs_threads_" + std::to_string(first.threads)] = sc;
  }
  return j;
}

std::string bench_table(const BenchReport& r) {
  std::ostringstream o;
  char line[256];
  for (const BenchRun& run : r.runs) {
    std::snprintf(line, sizeof line, "threads %d   GEMM (GFLOP/s):", run.threads);
    o << line;
    for (const GemmRate& g : run.gemm) {
      std::snprintf(line, sizeof line, " %s %.1f", g.name.c_str(), g.gflops);
      o << line;
    }
    std::snprintf(line, sizeof line, "   peak %.1f\n", run.gemm_peak_gflops);
    o << line;
  }
  std::snprintf(line, sizeof line, "%-20s %3s %9s %9s %12s %12s %9s %7s %7s %6s\n", "model", "thr",
                "ms/step", "cpu ms", "tokens/s", "FLOP/step", "GFLOP/s", "%peak", "faults", "mem");
  o << line;
  for (const BenchRun& run : r.runs)
    for (const ModelRate& m : run.models) {
      std::snprintf(line, sizeof line,
                    "%-20s %3d %9.2f %9.2f %12.0f %12.4g %9.1f %6.1f%% %7.1f %6s\n", m.name.c_str(),
                    run.threads, m.ms_per_step, m.cpu_ms_per_step, m.tokens_per_second,
                    m.flops_per_step, m.gflops, 100 * m.fraction_of_peak, m.minor_faults_per_step,
                    m.memory_stable ? "flat" : "GROWS");
      o << line;
    }
  std::snprintf(line, sizeof line, "peak resident set %.1f MiB; memory %s across steps\n",
                double(r.peak_rss_bytes) / (1 << 20), r.memory_stable ? "flat" : "GROWS");
  o << line;
  return o.str();
}

}  // namespace tinyfront
