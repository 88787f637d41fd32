#include "tinyfront/mpi/scheduler.hpp"

#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/mpi/collectives.hpp>
#include <boost/serialization/string.hpp>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <thread>

#include "tinyfront/mpi/protocol.hpp"
#include "tinyfront/run/config_json.hpp"
#include "tinyfront/run/record_json.hpp"
#include "tinyfront/run/state_io.hpp"
#include "tinyfront/sweep/budget_limits.hpp"
#include "tinyfront/train/trainer.hpp"
#include "tinyfront/util/auto_threads.hpp"
#include "tinyfront/util/error.hpp"
#include "tinyfront/util/system.hpp"
#include "world_impl.hpp"

namespace tinyfront {

using namespace mpi_protocol;
namespace bmpi = boost::mpi;

// ---------------------------------------------------------------------------------------------
// Stop signals

namespace {
volatile std::sig_atomic_t g_stop = 0;
extern "C" void on_stop_signal(int) {
  g_stop = 1;
}
}  // namespace

void install_stop_handlers() {
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);  // Ctrl-C: checkpoint and stop, like SIGTERM
  sigaction(SIGUSR1, &sa, nullptr);
}
bool stop_requested() {
  return g_stop != 0;
}
void request_stop() {
  g_stop = 1;
}

void abort_job(const MpiWorld& mpi_world, const std::string& message, int exit_code) {
  bmpi::communicator& world = mpi_world.impl().comm;
  std::fprintf(stderr, "error: rank %d of %d (%s): %s\n", world.rank(), world.size(),
               host_name().c_str(), message.c_str());
  std::fflush(stderr);
  std::fflush(stdout);
  MPI_Abort(world, exit_code);
  std::_Exit(exit_code);  // MPI_Abort does not return; in case an implementation does
}

// ---------------------------------------------------------------------------------------------

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}
double thread_cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

// Runs one job in this process: the worker's body, and the master's when it is alone.
struct Executor {
  int rank = 0;
  std::map<std::string, Corpus> corpora;  // loaded once per process

  RunRecord execute(const RunMessage& msg,
                    const std::function<void(const std::string&)>& send_checkpoint,
                    const std::function<bool()>& should_stop) {
    RunRecord rec;
    rec.config = config_from_json(nlohmann::json::parse(msg.config_json));
    // threads_per_rank = "auto" is resolved here, where the run trains, and recorded resolved.
    // A malformed SLURM_CPUS_PER_TASK or OMP_NUM_THREADS throws: fatal for the job, not a run.
    if (rec.config.train.threads == kAutoThreads) rec.config.train.threads = auto_threads().threads;
    rec.run_id = run_id(rec.config);
    rec.rank = rank;
    rec.host = host_name();
    rec.started_at = unix_now();
    try {
      if (msg.simulate_seconds >= 0) {
        std::this_thread::sleep_for(std::chrono::duration<double>(msg.simulate_seconds));
        rec.result.status = RunStatus::done;
        rec.result.wall_seconds = msg.simulate_seconds;
        rec.result.test_nll = rec.result.best_val_nll = std::nan("");
      } else {
        const std::string key = data_key(rec.config.data);
        if (!corpora.count(key)) corpora[key] = load_corpus(rec.config.data, msg.base_dir);
        TrainHooks hooks;
        hooks.should_stop = should_stop;
        hooks.checkpoint_steps = msg.checkpoint_steps;
        hooks.checkpoint_seconds = msg.checkpoint_seconds;
        if (send_checkpoint)
          hooks.on_checkpoint = [&](const TrainState& st) { send_checkpoint(serialize_state(st)); };
        std::optional<TrainState> resume;
        if (!msg.checkpoint.empty()) resume = deserialize_state(msg.checkpoint);
        rec.result = train_run(rec.config, corpora[key], hooks, resume ? &*resume : nullptr);
      }
    } catch (const std::exception& e) {
      rec.result.status = RunStatus::failed;
      rec.result.message = e.what();
      rec.result.test_nll = rec.result.best_val_nll = std::nan("");
    }
    rec.finished_at = unix_now();
    return rec;
  }
};

std::string hms(double s) {
  if (!std::isfinite(s) || s < 0) return "--:--:--";
  long t = long(s);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%02ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
  return buf;
}

// Waits for a message without spinning: MPI's blocking probe busy-polls, which on an
// oversubscribed node (the --simulate benchmark runs 1,024 ranks on 2 cores) would starve the
// master of CPU. Sleeps grow from 50 us to 10 ms while nothing arrives: a worker idles only
// between runs, which last seconds to hours.
bmpi::status wait_for_message(bmpi::communicator& world, int source) {
  auto nap = std::chrono::microseconds(50);
  while (true) {
    if (boost::optional<bmpi::status> st = world.iprobe(source, bmpi::any_tag)) return *st;
    std::this_thread::sleep_for(nap);
    nap = std::min(nap * 2, std::chrono::microseconds(10000));
  }
}

// A barrier that sleeps instead of spinning (same reason as above).
void quiet_barrier(bmpi::communicator& world) {
  MPI_Request req;
  MPI_Ibarrier(MPI_Comm(world), &req);
  int done = 0;
  auto nap = std::chrono::microseconds(50);
  while (MPI_Test(&req, &done, MPI_STATUS_IGNORE), !done) {
    std::this_thread::sleep_for(nap);
    nap = std::min(nap * 2, std::chrono::microseconds(20000));
  }
}

std::string describe(const RunConfig& c) {
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

// Progress of the sweep as the master sees it: printed as a line now and then, and published
// (for `tinyfront status`) through the on_progress callback.
struct Progress {
  int total = 0, finished = 0, running = 0, ranks = 0;
  SweepOutcome* outcome = nullptr;
  double est_total = 0, est_finished = 0;
  Clock::time_point start = Clock::now(), last_print = Clock::now(), last_publish = {};
  double started_at = unix_now();
  std::map<std::string, BestRun> best;   // per dataset
  std::map<int, RunningRun> running_on;  // rank -> its run
  bool quiet = false;
  std::string name;
  std::function<void(const SweepProgress&)> publish_to;

  // ETA: the remaining estimated work, scaled by how estimates compared to reality so far.
  double eta() const {
    if (est_finished > 0 && finished > 0)
      return since(start) * (est_total - est_finished) / est_finished;
    return NAN;
  }

  void print() {
    if (quiet) return;
    std::string best_txt;
    for (auto& [ds, b] : best) {
      char buf[200];
      std::snprintf(buf, sizeof buf, " | best %s %.4f (%s)", ds.c_str(), b.test_nll,
                    b.description.c_str());
      best_txt += buf;
    }
    std::fprintf(stderr,
                 "[%s] %d/%d finished (%d failed, %d diverged) | %d running | %d left | "
                 "elapsed %s | ETA %s%s\n",
                 name.c_str(), finished, total, outcome->failed, outcome->diverged, running,
                 total - finished - running, hms(since(start)).c_str(), hms(eta()).c_str(),
                 best_txt.c_str());
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
    p.total = total;
    p.finished = finished;
    p.running = running;
    p.failed = outcome->failed;
    p.diverged = outcome->diverged;
    p.elapsed_seconds = since(start);
    const double e = eta();
    p.eta_seconds = std::isfinite(e) ? e : -1;
    p.best = best;
    for (auto& [rank, run] : running_on) p.running_runs.push_back(run);
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

}  // namespace

SweepOutcome run_sweep(const MpiWorld& mpi_world, const SweepSpec& spec,
                       const std::vector<RunConfig>& runs, const SchedulerOptions& opt,
                       const SchedulerCallbacks& cb) {
  bmpi::communicator& world = mpi_world.impl().comm;
  Executor exec;
  exec.rank = world.rank();
  SweepOutcome out;

  // ------------------------------------------------------------------ worker
  if (world.rank() != 0) {
    quiet_barrier(world);
    world.send(0, kReady, 0);
    while (true) {
      bmpi::status st = wait_for_message(world, 0);
      if (st.tag() == kStop) {
        int dummy;
        world.recv(0, kStop, dummy);
        return out;
      }
      RunMessage msg;
      world.recv(0, kRun, msg);
      bool stop_seen = false;
      auto should_stop = [&]() {
        if (!stop_seen && world.iprobe(0, kStop)) stop_seen = true;
        return stop_seen || stop_requested();
      };
      const std::string id = run_id(config_from_json(nlohmann::json::parse(msg.config_json)));
      auto send_checkpoint = [&](const std::string& state) {
        if (cb.worker_checkpoint) return cb.worker_checkpoint(id, state);
        world.send(0, kCheckpoint, CheckpointMessage{id, state});
      };
      RunRecord rec = exec.execute(msg, send_checkpoint, should_stop);
      world.send(0, kResult, record_to_json(rec).dump());
    }
  }

  // ------------------------------------------------------------------ master
  if (opt.simulate) {
    // Simulated sweeps oversubscribe a node with hundreds of sleeping ranks; the master must not
    // queue behind them for CPU, or we would measure the scheduler of the OS, not ours.
    setpriority(PRIO_PROCESS, 0, -10);  // best effort: needs privileges, harmless without
  }
  // Scheduling starts when every rank is up: MPI start-up is not the scheduler's cost.
  const auto t_startup = Clock::now();
  quiet_barrier(world);
  out.startup_seconds = since(t_startup);
  const auto t_start = Clock::now();
  const int workers = world.size() - 1;
  // Longest estimated run first: the tail of the sweep is then made of short runs.
  std::vector<double> est(runs.size());
  for (size_t i = 0; i < runs.size(); ++i)
    est[i] =
        estimate_seconds(runs[i], spec.corpora.at(data_key(runs[i].data)), opt.flops_per_second);
  std::vector<size_t> order(runs.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return est[a] > est[b]; });

  Progress prog;
  prog.total = out.total = int(runs.size());
  prog.outcome = &out;
  prog.quiet = opt.quiet;
  prog.name = spec.settings.name;
  prog.ranks = world.size();
  prog.publish_to = cb.on_progress;
  for (double e : est) prog.est_total += e;
  std::map<std::string, size_t> index_of;
  std::vector<std::string> ids(runs.size());  // run ids, hashed once
  for (size_t i = 0; i < runs.size(); ++i) index_of[ids[i] = run_id(runs[i])] = i;

  auto make_message = [&](size_t i) {
    RunMessage m;
    m.config_json = config_to_json(runs[i]).dump();
    m.base_dir = spec.base_dir;
    m.checkpoint_steps = spec.settings.checkpoint_steps;
    m.checkpoint_seconds = spec.settings.checkpoint_seconds;
    m.simulate_seconds = opt.simulate ? est[i] * opt.simulate_scale : -1;
    if (cb.load_checkpoint && !opt.simulate)
      if (auto s = cb.load_checkpoint(ids[i])) m.checkpoint = *s;
    return m;
  };
  // Counts a run whose result is durable.
  auto counted = [&](const RunRecord& rec) {
    count(out, rec);
    prog.finished += 1;
    out.busy_seconds += rec.finished_at - rec.started_at;
    auto it = index_of.find(rec.run_id);
    if (it != index_of.end()) prog.est_finished += est[it->second];
    if (rec.result.status == RunStatus::done && std::isfinite(rec.result.test_nll)) {
      auto& b = prog.best[rec.config.data.name];
      if (b.description.empty() || rec.result.test_nll < b.test_nll)
        b = {rec.result.test_nll, describe(rec.config)};
    }
  };
  // Stores finished runs as one group (one fsync), then counts them.
  auto finished = [&](const std::vector<RunRecord>& recs) {
    if (recs.empty()) return;
    if (cb.on_results) cb.on_results(recs);  // stored before they count as finished
    ++out.commits;
    for (const RunRecord& rec : recs) counted(rec);
    prog.print();
    prog.publish();
  };

  size_t next = 0;
  double dispatch_seconds = 0, dispatch_cpu_seconds = 0;
  int dispatched = 0;
  if (workers == 0) {
    // Alone: run everything here, in queue order.
    for (; next < order.size() && !stop_requested(); ++next) {
      prog.running = 1;
      RunMessage m = make_message(order[next]);
      const std::string& id = ids[order[next]];
      prog.running_on[0] = {id, describe(runs[order[next]]), 0, unix_now()};
      prog.publish();
      auto send_ckpt = [&](const std::string& s) {
        if (cb.on_checkpoint) cb.on_checkpoint(id, s);
      };
      RunRecord rec = exec.execute(m, send_ckpt, [] { return stop_requested(); });
      prog.running = 0;
      prog.running_on.erase(0);
      finished({rec});
    }
  } else {
    // Messages to workers are sent without blocking: a worker may be asleep between runs, and the
    // master must not wait for it to wake up. Each message stays alive until its send completes.
    struct Pending {
      bmpi::request request;
      std::shared_ptr<RunMessage> message;
    };
    std::vector<Pending> outbox;
    static const int stop_payload = 0;
    auto post = [&](int dest, int tag, std::shared_ptr<RunMessage> msg) {
      if (msg)
        outbox.push_back({world.isend(dest, tag, *msg), msg});
      else
        outbox.push_back({world.isend(dest, tag, stop_payload), nullptr});
    };
    auto reap = [&] {
      outbox.erase(std::remove_if(outbox.begin(), outbox.end(),
                                  [](Pending& p) { return bool(p.request.test()); }),
                   outbox.end());
    };
    int active = workers;
    std::vector<bool> busy(size_t(world.size()), false), stop_sent(size_t(world.size()), false);
    bool stopping = false;
    // Group commit: results are stored when no further message is waiting (or the group is
    // large), so that results arriving together share one fsync. Their workers already have
    // their next runs; a result counts as finished only once it is durable.
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
          stopping = true;
          out.interrupted = true;
          for (int r = 1; r < world.size(); ++r)
            if (busy[size_t(r)] && !stop_sent[size_t(r)]) {
              post(r, kStop, nullptr);
              stop_sent[size_t(r)] = true;
            }
        }
        if (!opt.quiet && since(prog.last_print) > opt.progress_interval) prog.print();
        prog.publish();
        reap();
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
      auto t0 = Clock::now();
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
        prog.running -= 1;
        prog.running_on.erase(src);
      }
      // The worker gets its next run first; then the result is stored (durably: an fsync) and
      // counted. The worker need not wait for the disk.
      if (stop_sent[size_t(src)]) {  // it already has its kStop
        --active;
      } else if (stopping || next == order.size()) {
        post(src, kStop, nullptr);
        stop_sent[size_t(src)] = true;
        --active;
      } else {
        const size_t i = order[next++];
        post(src, kRun, std::make_shared<RunMessage>(make_message(i)));
        prog.running_on[src] = {ids[i], describe(runs[i]), src, unix_now()};
        busy[size_t(src)] = true;
        prog.running += 1;
        ++dispatched;
      }
      dispatch_seconds += since(t0);
      dispatch_cpu_seconds += thread_cpu_seconds() - cpu0;
      if (!result_text.empty())
        group.push_back(record_from_json(nlohmann::json::parse(result_text)));
    }
    commit();
    for (Pending& p : outbox) p.request.wait();
  }
  if (stop_requested()) out.interrupted = true;
  out.wall_seconds = since(t_start);
  out.efficiency =
      out.wall_seconds > 0 ? out.busy_seconds / (std::max(1, workers) * out.wall_seconds) : 0;
  out.dispatch_ms_per_run = dispatched ? 1e3 * dispatch_seconds / dispatched : 0;
  out.dispatch_cpu_ms_per_run = dispatched ? 1e3 * dispatch_cpu_seconds / dispatched : 0;
  if (!opt.quiet) prog.print();
  prog.publish(out.interrupted ? "interrupted" : "finished");
  return out;
}

}  // namespace tinyfront
