#include "tinyfront/mpi/executor.hpp"

#include <chrono>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "tinyfront/data/corpus.hpp"
#include "tinyfront/run/config_json.hpp"
#include "tinyfront/run/state_io.hpp"
#include "tinyfront/spec/sweep_spec.hpp"
#include "tinyfront/train/trainer.hpp"
#include "tinyfront/util/auto_threads.hpp"
#include "tinyfront/util/system.hpp"

namespace tinyfront {

using mpi_protocol::RunMessage;

namespace {

struct TrainingExecutor : RunExecutor {
  std::map<std::string, Corpus> corpora;  // by data key, loaded once per process

  TrainResult run(const RunConfig& config, const RunMessage& msg,
                  const RunChannel& channel) override {
    const std::string key = data_key(config.data);
    if (!corpora.count(key)) corpora[key] = load_corpus(config.data, msg.base_dir);
    TrainHooks hooks;
    hooks.should_stop = channel.should_stop;
    hooks.checkpoint_steps = msg.checkpoint_steps;
    hooks.checkpoint_seconds = msg.checkpoint_seconds;
    if (channel.send_checkpoint)
      hooks.on_checkpoint = [&](const TrainState& st) {
        channel.send_checkpoint(serialize_state(st));
      };
    std::optional<TrainState> resume;
    if (!msg.checkpoint.empty()) resume = deserialize_state(msg.checkpoint);
    return train_run(config, corpora[key], hooks, resume ? &*resume : nullptr);
  }
};

struct SimulatedExecutor : RunExecutor {
  double scale = 1e-3;

  TrainResult run(const RunConfig&, const RunMessage& msg, const RunChannel&) override {
    const double seconds = msg.estimated_seconds * scale;
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    TrainResult r;
    r.status = RunStatus::done;
    r.wall_seconds = seconds;
    r.test_nll = r.best_val_nll = std::nan("");
    return r;
  }
};

}  // namespace

std::unique_ptr<RunExecutor> make_training_executor() {
  return std::make_unique<TrainingExecutor>();
}

std::unique_ptr<RunExecutor> make_simulated_executor(double scale) {
  auto e = std::make_unique<SimulatedExecutor>();
  e->scale = scale;
  return e;
}

RunRecord execute_run(RunExecutor& executor, const RunMessage& msg, int rank,
                      const RunChannel& channel) {
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
    rec.result = executor.run(rec.config, msg, channel);
  } catch (const std::exception& e) {
    rec.result.status = RunStatus::failed;
    rec.result.message = e.what();
    rec.result.test_nll = rec.result.best_val_nll = std::nan("");
  }
  rec.finished_at = unix_now();
  return rec;
}

}  // namespace tinyfront
