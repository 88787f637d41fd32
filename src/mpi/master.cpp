// Rank 0: a queue of runs, longest estimated first, handed to workers as they free up; results
// made durable in groups (one fsync for the results that arrive together) before they count;
// progress printed and published; stop signals passed on to the busy workers.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <boost/mpi/nonblocking.hpp>
#include <boost/serialization/string.hpp>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

#include "roles.hpp"
#include "tinyfront/run/budget.hpp"
#include "tinyfront/run/config_json.hpp"
#include "tinyfront/run/record_json.hpp"
#include "tinyfront/run/state_io.hpp"
#include "tinyfront/sweep/budget_limits.hpp"
#include "tinyfront/sweep/progress_tracker.hpp"
#include "tinyfront/util/system.hpp"
#include "transport.hpp"

namespace tinyfront {

using namespace mpi_protocol;
namespace bmpi = boost::mpi;

namespace {

// The tracker, printed as a line now and then and published (for `tinyfront status`) through the
// on_progress callback.
struct ProgressReport {
  ProgressTracker tracker;
  std::string name;
  int ranks = 0;
  bool quiet = false;
  Clock::time_point start = Clock::now(), last_print = Clock::now(), last_publish = {};
  double started_at = unix_now();
  std::function<void(const SweepProgress&)> publish_to;

  void print() {
    if (quiet) return;
    std::fprintf(stderr, "%s\n", tracker.line(name, since(start)).c_str());
    last_print = Clock::now();
  }

  // At most once a second unless `state` says the sweep has ended.
  void publish(const std::string& state = "running") {
    if (!publish_to) return;
    if (state == "running" && since(last_publish) < 1.0) return;
    last_publish = Clock::now();
    SweepProgress p;
    p.sweep = name;
    p.state = state;
    p.host = host_name();
    p.pid = int(getpid());
    p.ranks = ranks;
    p.started_at = started_at;
    p.updated_at = unix_now();
    tracker.fill(p, since(start));
    try {
      publish_to(p);
    } catch (const std::exception& ex) {
      // A progress file that cannot be written must not stop the sweep; say it once.
      if (!quiet) std::fprintf(stderr, "[%s] warning: %s\n", name.c_str(), ex.what());
      publish_to = nullptr;
    }
  }
};

void count(SweepOutcome& o, const RunRecord& r) {
  switch (r.result.status) {
    case RunStatus::done:
      ++o.done;
      break;
    case RunStatus::diverged:
      ++o.diverged;
      break;
    case RunStatus::preempted:
      ++o.preempted;
      break;
    default:
      ++o.failed;
      break;
  }
}

// Messages to workers are sent without blocking: a worker may be asleep between runs, and the
// master must not wait for it to wake up. Each message stays alive until its send completes.
struct Outbox {
  struct Pending {
    bmpi::request request;
    std::shared_ptr<RunMessage> message;
  };
  bmpi::communicator& world;
  std::vector<Pending> pending;

  void post_run(int dest, std::shared_ptr<RunMessage> msg) {
    pending.push_back({world.isend(dest, kRun, *msg), msg});
  }
  void post_stop(int dest) {
    static const int stop_payload = 0;
    pending.push_back({world.isend(dest, kStop, stop_payload), nullptr});
  }
  void reap() {
    pending.erase(std::remove_if(pending.begin(), pending.end(),
                                 [](Pending& p) { return bool(p.request.test()); }),
                  pending.end());
  }
  void wait_all() {
    for (Pending& p : pending) p.request.wait();
  }
};

struct Master {
  bmpi::communicator& world;
  RunExecutor& executor;
  const SweepSpec& spec;
  const std::vector<RunConfig>& runs;
  const SchedulerOptions& opt;
  const SchedulerCallbacks& cb;

  SweepOutcome out;
  std::vector<double> est;       // estimated seconds per run
  std::vector<size_t> order;     // the queue: indices into runs
  std::vector<std::string> ids;  // run ids, hashed once
  size_t next = 0;               // next in `order`
  ProgressReport progress;
  double dispatch_seconds = 0, dispatch_cpu_seconds = 0;
  int dispatched = 0;

  // Longest estimated run first: the tail of the sweep is then made of short runs.
  void plan() {
    est.resize(runs.size());
    ids.resize(runs.size());
    for (size_t i = 0; i < runs.size(); ++i) {
      est[i] =
          estimate_seconds(runs[i], spec.corpora.at(data_key(runs[i].data)), opt.flops_per_second);
      ids[i] = run_id(runs[i]);
    }
    order.resize(runs.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return est[a] > est[b]; });
    out.total = int(runs.size());
    progress.tracker = ProgressTracker(ids, est);
    progress.quiet = opt.quiet;
    progress.name = spec.settings.name;
    progress.ranks = world.size();
    progress.publish_to = cb.on_progress;
    progress.start = progress.last_print = Clock::now();
    progress.started_at = unix_now();
  }

  // The checkpoint holds part of run i's work: the ETA counts only the rest. A checkpoint that
  // does not parse is the run's failure, reported by the rank that executes it, not the job's.
  void credit_checkpoint(size_t i, const std::string& state) {
    int64_t windows_done = 0;
    try {
      windows_done = deserialize_state(state).windows_done;
    } catch (const std::exception&) {
      return;
    }
    const int64_t windows =
        training_budget(runs[i], spec.corpora.at(data_key(runs[i].data)).train).windows;
    progress.tracker.resumed(i, windows_done, windows);
  }

  RunMessage make_message(size_t i) {
    RunMessage m;
    m.config_json = config_to_json(runs[i]).dump();
    m.base_dir = spec.base_dir;
    m.checkpoint_steps = spec.settings.checkpoint_steps;
    m.checkpoint_seconds = spec.settings.checkpoint_seconds;
    m.estimated_seconds = est[i];
    if (cb.load_checkpoint && !opt.simulate)
      if (auto s = cb.load_checkpoint(ids[i])) {
        m.checkpoint = *s;
        credit_checkpoint(i, *s);
      }
    return m;
  }

  // Stores finished runs as one group (one fsync), then counts them.
  void finished(const std::vector<RunRecord>& recs) {
    if (recs.empty()) return;
    if (cb.on_results) cb.on_results(recs);  // stored before they count as finished
    ++out.commits;
    for (const RunRecord& rec : recs) {
      count(out, rec);
      out.busy_seconds += rec.finished_at - rec.started_at;
      progress.tracker.finished_run(rec);
    }
    progress.print();
    progress.publish();
  }

  // Alone: run everything here, in queue order.
  void run_alone() {
    for (; next < order.size() && !stop_requested(); ++next) {
      const size_t i = order[next];
      RunMessage m = make_message(i);
      const std::string& id = ids[i];
      progress.tracker.started(0, {id, describe_run(runs[i]), 0, unix_now()});
      progress.publish();
      RunChannel channel;
      channel.send_checkpoint = [&](const std::string& s) {
        if (cb.on_checkpoint) cb.on_checkpoint(id, s);
      };
      channel.should_stop = [] { return stop_requested(); };
      RunRecord rec = execute_run(executor, m, 0, channel);
      progress.tracker.stopped(0);
      finished({rec});
    }
  }

  void run_with_workers();
  void finish(Clock::time_point t_start);
};

// The multi-worker loop: one message at a time from any worker. A result gets its worker the
// next run first; the result is then stored (durably: an fsync) and counted, so the worker need
// not wait for the disk. Group commit: results are stored when no further message is waiting (or
// the group is large), so that results arriving together share one fsync.
void Master::run_with_workers() {
  Outbox outbox{world, {}};
  int active = world.size() - 1;
  std::vector<bool> busy(size_t(world.size()), false), stop_sent(size_t(world.size()), false);
  bool stopping = false;
  constexpr size_t kMaxGroup = 4096;
  std::vector<RunRecord> group;
  auto commit = [&] {
    finished(group);
    group.clear();
  };
  while (active > 0) {
    // Wait for a message, waking up now and then to notice stop signals and print progress.
    boost::optional<bmpi::status> st;
    if (!group.empty() &&
        (group.size() >= kMaxGroup || !(st = world.iprobe(bmpi::any_source, bmpi::any_tag))))
      commit();
    while (!st && !(st = world.iprobe(bmpi::any_source, bmpi::any_tag))) {
      if (!stopping && stop_requested()) {
        stopping = out.interrupted = true;
        for (int r = 1; r < world.size(); ++r)
          if (busy[size_t(r)] && !stop_sent[size_t(r)]) {
            outbox.post_stop(r);
            stop_sent[size_t(r)] = true;
          }
      }
      if (!opt.quiet && since(progress.last_print) > opt.progress_interval) progress.print();
      progress.publish();
      outbox.reap();
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    const auto t0 = Clock::now();
    const double cpu0 = thread_cpu_seconds();
    const int src = st->source();
    if (st->tag() == kCheckpoint) {
      CheckpointMessage cm;
      world.recv(src, kCheckpoint, cm);
      if (cb.on_checkpoint) cb.on_checkpoint(cm.run_id, cm.state);
      continue;
    }
    std::string result_text;
    if (st->tag() == kReady) {
      int dummy;
      world.recv(src, kReady, dummy);
    } else {
      world.recv(src, kResult, result_text);
      busy[size_t(src)] = false;
      progress.tracker.stopped(src);
    }
    if (stop_sent[size_t(src)]) {  // it already has its kStop
      --active;
    } else if (stopping || next == order.size()) {
      outbox.post_stop(src);
      stop_sent[size_t(src)] = true;
      --active;
    } else {
      const size_t i = order[next++];
      outbox.post_run(src, std::make_shared<RunMessage>(make_message(i)));
      progress.tracker.started(src, {ids[i], describe_run(runs[i]), src, unix_now()});
      busy[size_t(src)] = true;
      ++dispatched;
    }
    dispatch_seconds += since(t0);
    dispatch_cpu_seconds += thread_cpu_seconds() - cpu0;
    if (!result_text.empty()) group.push_back(record_from_json(nlohmann::json::parse(result_text)));
  }
  commit();
  outbox.wait_all();
}

void Master::finish(Clock::time_point t_start) {
  const int workers = world.size() - 1;
  if (stop_requested()) out.interrupted = true;
  out.wall_seconds = since(t_start);
  out.efficiency =
      out.wall_seconds > 0 ? out.busy_seconds / (std::max(1, workers) * out.wall_seconds) : 0;
  out.dispatch_ms_per_run = dispatched ? 1e3 * dispatch_seconds / dispatched : 0;
  out.dispatch_cpu_ms_per_run = dispatched ? 1e3 * dispatch_cpu_seconds / dispatched : 0;
  if (!opt.quiet) progress.print();
  progress.publish(out.interrupted ? "interrupted" : "finished");
}

}  // namespace

SweepOutcome run_master(bmpi::communicator& world, RunExecutor& executor, const SweepSpec& spec,
                        const std::vector<RunConfig>& runs, const SchedulerOptions& opt,
                        const SchedulerCallbacks& cb) {
  if (opt.simulate) {
    // Simulated sweeps oversubscribe a node with hundreds of sleeping ranks; the master must not
    // queue behind them for CPU, or we would measure the scheduler of the OS, not ours.
    setpriority(PRIO_PROCESS, 0, -10);  // best effort: needs privileges, harmless without
  }
  Master m{world, executor, spec, runs, opt, cb, {}, {}, {}, {}, 0, {}, 0, 0, 0};
  // Scheduling starts when every rank is up: MPI start-up is not the scheduler's cost.
  const auto t_startup = Clock::now();
  quiet_barrier(world);
  m.out.startup_seconds = since(t_startup);
  const auto t_start = Clock::now();
  m.plan();
  if (world.size() == 1)
    m.run_alone();
  else
    m.run_with_workers();
  m.finish(t_start);
  return m.out;
}

}  // namespace tinyfront
