#include "tinyfront/sweep/master_model.hpp"

#include <algorithm>
#include <cmath>
#include <queue>
#include <vector>

#include "tinyfront/util/rng.hpp"

namespace tinyfront {

MasterModelResult simulate_master(const MasterModelInputs& in) {
  Rng rng(in.seed);
  auto run_length = [&] {
    if (in.run_spread <= 0) return in.run_seconds;
    // Lognormal with mean run_seconds.
    const double s = in.run_spread;
    return in.run_seconds * std::exp(s * rng.normal() - 0.5 * s * s);
  };
  // Long enough for the first dispatch round (workers x dispatch) to weigh little.
  const double first_round = double(in.workers) * in.dispatch_seconds;
  const double horizon = std::max(in.horizon_runs * in.run_seconds, 10 * first_round);

  // Events: a worker's run ends (it then waits for the master) or a checkpoint arrives. Both
  // queue at the master; the master serves them in time order, results in groups.
  struct Event {
    double t;
    bool result;
    bool operator>(const Event& e) const { return t > e.t; }
  };
  std::priority_queue<Event, std::vector<Event>, std::greater<Event>> events;
  // Workers start staggered over the first dispatch round, as a master hands out first runs.
  double t0 = 0;
  for (int64_t w = 0; w < in.workers; ++w) {
    t0 += in.dispatch_seconds;
    const double len = run_length();
    events.push({t0 + len, true});
    if (in.checkpoint_every_seconds > 0)
      for (double c = in.checkpoint_every_seconds; c < len; c += in.checkpoint_every_seconds)
        events.push({t0 + c, false});
  }
  double master_free = t0, master_busy = t0, wait_total = 0;
  int64_t results = 0, groups = 0;
  std::vector<double> waiting;  // arrival times of results queued at the master
  while (!events.empty()) {
    const Event e = events.top();
    if (e.t > horizon) break;
    events.pop();
    if (!e.result) {
      const double start = std::max(master_free, e.t);
      master_free = start + in.checkpoint_seconds;
      master_busy += in.checkpoint_seconds;
      continue;
    }
    // The master takes this result, and with group commit every result that arrived by the time
    // it gets to it.
    const double start = std::max(master_free, e.t);
    if (start > horizon) {  // a saturated master's backlog at the end is not stored
      events.push(e);
      break;
    }
    waiting.assign(1, e.t);
    if (in.group_commit)
      while (!events.empty() && events.top().result && events.top().t <= start) {
        waiting.push_back(events.top().t);
        events.pop();
      }
    const double n = double(waiting.size());
    const double service =
        in.group_commit ? n * in.dispatch_seconds + in.append_seconds + (n - 1) * in.record_seconds
                        : n * (in.dispatch_seconds + in.append_seconds);
    master_free = start + service;
    master_busy += service;
    ++groups;
    // Every worker of the group gets its next run once the group is durable and dispatched.
    for (double arrived : waiting) {
      ++results;
      wait_total += std::max(0.0, std::min(master_free, horizon) - arrived);
      const double len = run_length();
      const double begin = master_free;
      events.push({begin + len, true});
      if (in.checkpoint_every_seconds > 0)
        for (double c = in.checkpoint_every_seconds; c < len; c += in.checkpoint_every_seconds)
          events.push({begin + c, false});
    }
  }
  // Workers whose results wait unserved at the horizon have waited since they finished.
  for (; !events.empty(); events.pop())
    if (events.top().result && events.top().t <= horizon) wait_total += horizon - events.top().t;
  // Worker time training within the horizon: the horizon minus the time workers waited. Waits
  // are counted per result; runs still in flight at the horizon train until it.
  const double training = double(in.workers) * horizon - wait_total - double(in.workers) * t0 / 2;
  MasterModelResult r;
  r.simulated_seconds = horizon;
  r.results = results;
  r.results_per_second = double(results) / horizon;
  r.master_utilisation = std::min(1.0, master_busy / horizon);
  r.efficiency = std::clamp(training / (double(in.workers) * horizon), 0.0, 1.0);
  r.mean_wait_seconds = results ? wait_total / double(results) : 0;
  r.mean_group_size = groups ? double(results) / double(groups) : 0;
  return r;
}

}  // namespace tinyfront
