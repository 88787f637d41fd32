#include "tinyfront/store/checkpoint.hpp"

#include <cstring>
#include <filesystem>

#include "fsio.hpp"
#include "h5.hpp"
#include "tinyfront/run/state_io.hpp"
#include "tinyfront/util/error.hpp"
#include "tinyfront/util/files.hpp"

namespace fs = std::filesystem;

namespace tinyfront {

namespace {

constexpr const char* kFormat = "tinyfront-checkpoint";
constexpr int64_t kVersion = 1;

int64_t bits_of(double x) {
  int64_t b;
  std::memcpy(&b, &x, sizeof b);
  return b;
}
double double_of(int64_t b) {
  double x;
  std::memcpy(&x, &b, sizeof x);
  return x;
}

}  // namespace

void write_checkpoint_file(const std::string& path, const std::string& run_id,
                           const TrainState& s) {
  fsio::write_atomically(path, fsio::Publish::replace, [&](const std::string& tmp) {
    h5::Handle f = h5::create_file(tmp);
    h5::write_dataset(f, "params", s.params.data(), {s.params.size()});
    h5::write_dataset(f, "adam_m", s.adam_m.data(), {s.adam_m.size()});
    h5::write_dataset(f, "adam_v", s.adam_v.data(), {s.adam_v.size()});
    h5::write_dataset(f, "best_params", s.best_params.data(), {s.best_params.size()});
    uint64_t rng[8];
    std::memcpy(rng, s.data_rng.s.data(), 32);
    std::memcpy(rng + 4, s.dropout_rng.s.data(), 32);
    h5::write_dataset(f, "rng", rng, {2, 4});
    // The curve as a (points x 6) float64 table: step, tokens, train_loss, val_loss, lr, seconds.
    std::vector<double> curve;
    for (auto& p : s.curve)
      curve.insert(curve.end(),
                   {double(p.step), double(p.tokens), p.train_loss, p.val_loss, p.lr, p.seconds});
    h5::write_dataset(f, "curve", curve.data(), {s.curve.size(), 6});
    h5::write_attr_string(f, "format", kFormat);
    h5::write_attr_int(f, "version", kVersion);
    h5::write_attr_string(f, "run_id", run_id);
    h5::write_attr_int(f, "step", s.step);
    h5::write_attr_int(f, "windows_done", s.windows_done);
    h5::write_attr_int(f, "evals_since_best", s.evals_since_best);
    h5::write_attr_int(f, "best_step", s.best_step);
    h5::write_attr_int(f, "loss_count", s.loss_count);
    h5::write_attr_int(f, "best_val_bits", bits_of(s.best_val));
    h5::write_attr_int(f, "loss_sum_bits", bits_of(s.loss_sum));
    h5::write_attr_int(f, "train_seconds_bits", bits_of(s.train_seconds));
    f.close("close checkpoint " + tmp);
  });
}

namespace {
template <typename T>
std::vector<T> read_checkpoint_array(hid_t f, const char* name, const std::string& path) {
  if (!h5::link_exists(f, name)) throw Error(path + ": checkpoint has no " + name);
  return h5::read_dataset<T>(f, name);
}
}  // namespace

TrainState read_checkpoint_file(const std::string& path, std::string* run_id) {
  h5::init();
  require_regular_file(path, "checkpoint");
  if (!h5::is_hdf5(path)) throw Error(path + ": not an HDF5 checkpoint file");
  h5::Handle f = h5::open_file(path, false);
  if (h5::read_attr_string(f, "format").value_or("") != kFormat)
    throw Error(path + ": not a tinyfront checkpoint");
  if (h5::read_attr_int(f, "version").value_or(0) != kVersion)
    throw Error(path + ": checkpoint version is not " + std::to_string(kVersion));
  auto attr = [&](const char* name) {
    auto v = h5::read_attr_int(f, name);
    if (!v) throw Error(path + ": checkpoint has no attribute " + name);
    return *v;
  };
  TrainState s;
  if (run_id) *run_id = h5::read_attr_string(f, "run_id").value_or("");
  s.step = attr("step");
  s.windows_done = attr("windows_done");
  s.evals_since_best = attr("evals_since_best");
  s.best_step = attr("best_step");
  s.loss_count = attr("loss_count");
  s.best_val = double_of(attr("best_val_bits"));
  s.loss_sum = double_of(attr("loss_sum_bits"));
  s.train_seconds = double_of(attr("train_seconds_bits"));
  s.params = read_checkpoint_array<float>(f, "params", path);
  s.adam_m = read_checkpoint_array<float>(f, "adam_m", path);
  s.adam_v = read_checkpoint_array<float>(f, "adam_v", path);
  s.best_params = read_checkpoint_array<float>(f, "best_params", path);
  auto rng = read_checkpoint_array<uint64_t>(f, "rng", path);
  if (rng.size() != 8) throw Error(path + ": checkpoint rng must be 2 x 4");
  std::memcpy(s.data_rng.s.data(), rng.data(), 32);
  std::memcpy(s.dropout_rng.s.data(), rng.data() + 4, 32);
  auto curve = read_checkpoint_array<double>(f, "curve", path);
  for (size_t i = 0; i + 6 <= curve.size(); i += 6)
    s.curve.push_back({int64_t(curve[i]), int64_t(curve[i + 1]), curve[i + 2], curve[i + 3],
                       curve[i + 4], curve[i + 5]});
  if (s.adam_m.size() != s.params.size() || s.adam_v.size() != s.params.size())
    throw Error(path + ": checkpoint moment sizes do not match its parameters");
  return s;
}

void CheckpointDir::write(const std::string& run_id, const std::string& state_bytes) const {
  fs::create_directories(dir);
  write_checkpoint_file(path_of(run_id), run_id, deserialize_state(state_bytes));
}

std::optional<std::string> CheckpointDir::read(const std::string& run_id) const {
  if (!fs::exists(path_of(run_id))) return std::nullopt;
  return serialize_state(read_checkpoint_file(path_of(run_id)));
}

void CheckpointDir::remove(const std::string& run_id) const {
  std::error_code ec;
  fs::remove(path_of(run_id), ec);
}

}  // namespace tinyfront
