#include "tinyfront/run/budget.hpp"

#include <algorithm>

#include "tinyfront/model/model.hpp"

namespace tinyfront {

namespace {
int64_t ceil_div(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}
}  // namespace

Budget training_budget(const RunConfig& cfg, int64_t n_train) {
  const TrainConfig& t = cfg.train;
  const int64_t T = cfg.model.context;
  const int64_t tpw = targets_per_window(cfg.model, t.protocol);
  Budget b;
  if (t.protocol == Protocol::paper) {
    b.steps_per_epoch = ceil_div(t.windows_per_epoch, t.batch);
    b.steps = int64_t(t.epochs) * b.steps_per_epoch;
    b.windows = int64_t(t.epochs) * t.windows_per_epoch;
  } else {
    const int64_t epoch_windows = std::max<int64_t>(1, (n_train - T) / tpw);
    b.steps_per_epoch = ceil_div(epoch_windows, t.batch);
    if (t.tokens > 0) {
      b.windows = ceil_div(t.tokens, tpw);
      b.steps = ceil_div(b.windows, t.batch);
    } else {
      // Epochs of causal windows are not cut into whole batches: the steps are those the
      // windows fill (epochs x steps_per_epoch would run past the last window).
      b.windows = int64_t(t.epochs) * epoch_windows;
      b.steps = ceil_div(b.windows, t.batch);
    }
  }
  return b;
}

}  // namespace tinyfront
