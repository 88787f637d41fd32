#include "tinyfront/sweep/progress_tracker.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace tinyfront {

std::string describe_run(const RunConfig& c) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "%s T=%d d=%d%s lr=%g", to_string(c.model.arch), c.model.context,
                c.model.d_model,
                c.model.is_attention_family() ? (" L=" + std::to_string(c.model.blocks()) +
                                                 " H=" + std::to_string(c.model.heads))
                                                    .c_str()
                                              : "",
                c.train.lr);
  return buf;
}

std::string hms(double s) {
  if (!std::isfinite(s) || s < 0) return "--:--:--";
  long t = long(s);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%02ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
  return buf;
}

ProgressTracker::ProgressTracker(const std::vector<std::string>& ids,
                                 const std::vector<double>& estimates)
    : total(int(ids.size())), estimate(estimates) {
  for (size_t i = 0; i < ids.size(); ++i) index_of[ids[i]] = i;
  for (double e : estimates) est_total += e;
}

void ProgressTracker::resumed(size_t i, int64_t windows_done, int64_t windows_total) {
  if (i >= estimate.size() || windows_total <= 0) return;
  const double done = std::clamp(double(windows_done) / double(windows_total), 0.0, 1.0);
  const double credit = estimate[i] * done;  // work the checkpoint already holds
  est_total -= credit;
  estimate[i] -= credit;
}

void ProgressTracker::started(int rank, const RunningRun& run) {
  running_on[rank] = run;
  running += 1;
}

void ProgressTracker::stopped(int rank) {
  running -= 1;
  running_on.erase(rank);
}

void ProgressTracker::finished_run(const RunRecord& rec) {
  finished += 1;
  if (rec.result.status == RunStatus::diverged) ++diverged;
  if (rec.result.status != RunStatus::done && rec.result.status != RunStatus::diverged &&
      rec.result.status != RunStatus::preempted)
    ++failed;
  auto it = index_of.find(rec.run_id);
  if (it != index_of.end()) est_finished += estimate[it->second];
  if (rec.result.status == RunStatus::done && std::isfinite(rec.result.test_nll)) {
    auto& b = best[rec.config.data.name];
    if (b.description.empty() || rec.result.test_nll < b.test_nll)
      b = {rec.result.test_nll, describe_run(rec.config)};
  }
}

double ProgressTracker::eta_seconds(double elapsed) const {
  if (est_finished > 0 && finished > 0) return elapsed * (est_total - est_finished) / est_finished;
  return NAN;
}

std::string ProgressTracker::line(const std::string& name, double elapsed) const {
  std::string best_txt;
  for (auto& [ds, b] : best) {
    char buf[200];
    std::snprintf(buf, sizeof buf, " | best %s %.4f (%s)", ds.c_str(), b.test_nll,
                  b.description.c_str());
    best_txt += buf;
  }
  char counts[300];
  std::snprintf(counts, sizeof counts,
                "%d/%d finished (%d failed, %d diverged) | %d running | %d left | "
                "elapsed %s | ETA %s",
                finished, total, failed, diverged, running, total - finished - running,
                hms(elapsed).c_str(), hms(eta_seconds(elapsed)).c_str());
  return "[" + name + "] " + counts + best_txt;
}

void ProgressTracker::fill(SweepProgress& p, double elapsed) const {
  p.total = total;
  p.finished = finished;
  p.running = running;
  p.failed = failed;
  p.diverged = diverged;
  p.elapsed_seconds = elapsed;
  const double e = eta_seconds(elapsed);
  p.eta_seconds = std::isfinite(e) ? e : -1;
  p.best = best;
  p.running_runs.clear();
  for (auto& [rank, run] : running_on) p.running_runs.push_back(run);
}

}  // namespace tinyfront
