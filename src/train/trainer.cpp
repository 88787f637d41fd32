#include "tinyfront/train/trainer.hpp"

#include <omp.h>

#include <Eigen/Core>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

#include "tinyfront/model/flops.hpp"
#include "tinyfront/model/model.hpp"
#include "tinyfront/train/step.hpp"
#include "tinyfront/util/error.hpp"

namespace tinyfront {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

int64_t ceil_div(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}

// Start positions of the evaluation windows of a split.
std::vector<int64_t> eval_starts(const RunConfig& cfg, int64_t n, int64_t cap) {
  const int64_t T = cfg.model.context;
  const int tpw = targets_per_window(cfg.model, cfg.train.protocol);
  std::vector<int64_t> starts;
  if (tpw == 1) {  // one prediction per window: windows at 0, 1, 2, ...
    int64_t count = n - T;
    if (cap > 0) count = std::min(count, cap);
    for (int64_t i = 0; i < count; ++i) starts.push_back(i);
  } else {  // causal: non-overlapping windows covering the split
    for (int64_t i = 0; i + T < n; i += T) {
      if (cap > 0 && int64_t(starts.size()) >= cap) break;
      starts.push_back(i);
    }
  }
  return starts;
}

// Fills inputs [b, T] and targets for windows starting at starts[0..nb).
void fill_batch(const RunConfig& cfg, const std::vector<int32_t>& tokens, const int64_t* starts,
                int nb, std::vector<int32_t>& inputs, std::vector<int32_t>& targets) {
  const int T = cfg.model.context;
  const int tpw = targets_per_window(cfg.model, cfg.train.protocol);
  for (int b = 0; b < nb; ++b) {
    const int32_t* w = tokens.data() + starts[b];
    std::copy(w, w + T, inputs.begin() + long(b) * T);
    if (tpw == 1)
      targets[b] = w[T];
    else
      std::copy(w + 1, w + T + 1, targets.begin() + long(b) * T);
  }
}

double evaluate(Model<float>& m, const RunConfig& cfg, const std::vector<int32_t>& tokens,
                int64_t cap, std::vector<int32_t>& inputs, std::vector<int32_t>& targets) {
  std::vector<int64_t> starts = eval_starts(cfg, int64_t(tokens.size()), cap);
  const int B = m.max_batch;
  const int tpw = targets_per_window(cfg.model, cfg.train.protocol);
  double sum = 0;
  int64_t count = 0;
  for (size_t i = 0; i < starts.size(); i += size_t(B)) {
    int nb = int(std::min<size_t>(size_t(B), starts.size() - i));
    fill_batch(cfg, tokens, starts.data() + i, nb, inputs, targets);
    model_forward<float>(m, inputs.data(), targets.data(), nb, false, nullptr);
    for (int r = 0; r < nb * tpw; ++r) sum += m.losses[r];
    count += int64_t(nb) * tpw;
  }
  return count ? sum / double(count) : std::numeric_limits<double>::quiet_NaN();
}

}  // namespace

double learning_rate(const TrainConfig& t, int64_t step, int64_t total_steps) {
  if (t.warmup_steps > 0 && step < t.warmup_steps) return t.lr * double(step + 1) / t.warmup_steps;
  if (t.schedule == Schedule::constant) return t.lr;
  const double span = double(std::max<int64_t>(1, total_steps - t.warmup_steps));
  const double progress = std::min(1.0, double(step - t.warmup_steps) / span);
  const double floor = t.lr * t.min_lr_ratio;
  return floor + 0.5 * (t.lr - floor) * (1 + std::cos(3.14159265358979323846 * progress));
}

void check_corpus_fits(const RunConfig& cfg, const Corpus& corpus) {
  const int64_t T = cfg.model.context;
  const char* names[3] = {"train", "valid", "test"};
  const std::vector<int32_t>* splits[3] = {&corpus.train, &corpus.valid, &corpus.test};
  for (int i = 0; i < 3; ++i)
    if (int64_t(splits[i]->size()) < T + 2)
      throw Error("model.context: " + std::to_string(T) + " is longer than the " + names[i] +
                  " split of " + corpus.resolved_path + " (" + std::to_string(splits[i]->size()) +
                  " tokens)");
}

TrainResult train_run(const RunConfig& cfg_in, const Corpus& corpus, const TrainHooks& hooks,
                      const TrainState* resume) {
  const auto t_start = Clock::now();
  RunConfig cfg = cfg_in;
  cfg.model.vocab = corpus.vocab.size();
  check_corpus_fits(cfg, corpus);
  const TrainConfig& tc = cfg.train;
  omp_set_num_threads(tc.threads);
  Eigen::setNbThreads(tc.threads);

  const int T = cfg.model.context, B = tc.batch;
  const int tpw = targets_per_window(cfg.model, tc.protocol);
  const int64_t n_train = int64_t(corpus.train.size());
  const Budget budget = training_budget(cfg, n_train);
  const int64_t eval_every =
      tc.eval_every > 0 ? tc.eval_every
      : tc.protocol == Protocol::paper
          ? budget.steps_per_epoch
          : std::max<int64_t>(1, std::min(budget.steps_per_epoch, ceil_div(budget.steps, 10)));

  Model<float> m = model_create<float>(cfg.model, tc.protocol, B);
  TrainState st;
  if (resume) {
    st = *resume;
    if (st.params.size() != m.params.size())
      throw Error("checkpoint does not match the model: " + std::to_string(st.params.size()) +
                  " parameters in the checkpoint, " + std::to_string(m.params.size()) +
                  " in the model");
    m.params = st.params;
  } else {
    Rng init_rng(tc.seed);
    model_init(m, init_rng);
    st.data_rng.reseed(tc.seed ^ 0x5DA7A5EEDull);
    st.dropout_rng.reseed(tc.seed ^ 0xD50F0A7ull);
    st.adam_m.assign(m.params.size(), 0.0f);
    st.adam_v.assign(m.params.size(), 0.0f);
    st.best_val = std::numeric_limits<double>::infinity();
  }

  TrainResult r;
  r.params = int64_t(m.params.size());
  r.params_non_embedding = r.params - count_embedding_params(cfg.model);
  std::vector<int32_t> inputs(size_t(B) * T), targets(size_t(B) * tpw);
  std::vector<int64_t> starts(static_cast<size_t>(B));
  StepConfig step_cfg;
  step_cfg.adam = AdamConfig{tc.lr, tc.beta1, tc.beta2, tc.eps, tc.weight_decay};
  step_cfg.grad_clip = tc.grad_clip;
  step_cfg.diverge_loss = tc.diverge_loss;

  auto session_start = Clock::now();
  auto last_checkpoint = Clock::now();
  auto snapshot = [&]() {
    st.params = m.params;
    st.train_seconds += seconds_since(session_start);
    session_start = Clock::now();
    hooks.on_checkpoint(st);
  };

  double eval_seconds = 0;
  bool stop_early = false;
  while (st.step < budget.steps && !stop_early) {
    // Batch of windows: paper epochs are windows_per_epoch long, the last batch may be short.
    int64_t nb;
    if (tc.protocol == Protocol::paper) {
      int64_t in_epoch = st.step % budget.steps_per_epoch;
      nb = std::min<int64_t>(B, tc.windows_per_epoch - in_epoch * B);
    } else {
      nb = std::min<int64_t>(B, budget.windows - st.step * B);
    }
    if (nb <= 0)
      throw Error("internal: training batch of " + std::to_string(nb) + " windows at step " +
                  std::to_string(st.step) + " of " + std::to_string(budget.steps));
    for (int64_t b = 0; b < nb; ++b)
      starts[b] = int64_t(st.data_rng.below(uint64_t(n_train - T - 1)));
    fill_batch(cfg, corpus.train, starts.data(), int(nb), inputs, targets);

    const double lr = learning_rate(tc, st.step, budget.steps);
    step_cfg.adam.lr = lr;
    const StepResult step = train_step(m, inputs.data(), targets.data(), int(nb), st.dropout_rng,
                                       st.adam_m, st.adam_v, step_cfg, st.step + 1);
    const float loss = step.loss;
    if (step.diverged) {
      r.status = RunStatus::diverged;
      r.message = "training loss " + std::to_string(loss) + " at step " + std::to_string(st.step) +
                  " (lr " + std::to_string(lr) + ")";
      break;
    }
    st.step += 1;
    st.windows_done += nb;
    st.loss_sum += loss;
    st.loss_count += 1;

    if (st.step % eval_every == 0 || st.step == budget.steps) {
      auto te = Clock::now();
      double val = evaluate(m, cfg, corpus.valid, tc.eval_windows, inputs, targets);
      eval_seconds += seconds_since(te);
      CurvePoint p;
      p.step = st.step;
      p.tokens = st.windows_done * T;
      p.train_loss = st.loss_count ? st.loss_sum / double(st.loss_count) : 0;
      p.val_loss = val;
      p.lr = lr;
      p.seconds = st.train_seconds + seconds_since(session_start);
      st.curve.push_back(p);
      st.loss_sum = 0, st.loss_count = 0;
      if (val < st.best_val) {
        st.best_val = val, st.best_step = st.step, st.evals_since_best = 0;
        if (tc.restore_best) st.best_params = m.params;
      } else if (++st.evals_since_best >= tc.patience && tc.patience > 0) {
        stop_early = true;
      }
      if (hooks.on_eval) hooks.on_eval(p, budget.steps);
    }
    if (hooks.on_checkpoint) {
      bool due = (hooks.checkpoint_steps > 0 && st.step % hooks.checkpoint_steps == 0) ||
                 (hooks.checkpoint_seconds > 0 &&
                  seconds_since(last_checkpoint) >= hooks.checkpoint_seconds);
      if (due && st.step < budget.steps) {
        snapshot();
        last_checkpoint = Clock::now();
      }
    }
    if (hooks.should_stop && st.step < budget.steps && !stop_early && hooks.should_stop()) {
      if (hooks.on_checkpoint) snapshot();
      r.status = RunStatus::preempted;
      r.message =
          "stopped at step " + std::to_string(st.step) + " of " + std::to_string(budget.steps);
      break;
    }
  }

  r.steps = st.step;
  r.train_windows = st.windows_done;
  r.train_tokens = st.windows_done * T;
  r.train_targets = st.windows_done * tpw;
  const TrainingFlops flops =
      training_flops(cfg.model, tc.protocol, r.params, r.params_non_embedding, r.train_windows);
  r.flops_study = flops.study, r.flops_kaplan = flops.kaplan, r.flops_exact = flops.exact;
  r.curve = st.curve;
  r.best_val_nll = std::isfinite(st.best_val) ? st.best_val : std::nan("");
  r.best_val_step = st.best_step;
  const double train_seconds = st.train_seconds + seconds_since(session_start) - eval_seconds;
  r.tokens_per_second = train_seconds > 0 ? double(r.train_tokens) / train_seconds : 0;

  if (r.status == RunStatus::pending) {
    if (tc.restore_best && !st.best_params.empty()) m.params = st.best_params;
    r.test_nll = evaluate(m, cfg, corpus.test, tc.protocol == Protocol::paper ? tc.eval_windows : 0,
                          inputs, targets);
    r.test_ppl = std::exp(r.test_nll);
    r.test_bpc = corpus.vocab.kind == TokenizerKind::chars ? r.test_nll / std::log(2.0) : 0;
    r.status = std::isfinite(r.test_nll) ? RunStatus::done : RunStatus::diverged;
    if (r.status == RunStatus::diverged) r.message = "test NLL is not finite";
    if (hooks.on_final_params) hooks.on_final_params(m.params);
  } else {
    r.test_nll = r.test_ppl = std::nan("");
  }
  r.wall_seconds = seconds_since(t_start);
  return r;
}

}  // namespace tinyfront
