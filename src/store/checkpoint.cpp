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

void write_array(hid_t file, const char* name, hid_t type, const void* data, hsize_t rows,
                 hsize_t cols = 0) {
  hsize_t dims[2] = {rows, cols};
  h5::Handle space = h5::space_handle(H5Screate_simple(cols ? 2 : 1, dims, nullptr),
                                      std::string("dataspace for ") + name);
  h5::Handle ds =
      h5::dataset_handle(H5Dcreate2(file, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                         std::string("create ") + name);
  if (rows > 0)
    h5::check_status(H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data),
                     std::string("write ") + name);
}

template <typename T>
std::vector<T> read_array(hid_t file, const char* name, hid_t type, const std::string& path) {
  if (!h5::link_exists(file, name)) throw Error(path + ": checkpoint has no " + name);
  h5::Handle ds =
      h5::dataset_handle(H5Dopen2(file, name, H5P_DEFAULT), std::string("open ") + name);
  h5::Handle space = h5::space_handle(H5Dget_space(ds), "dataspace");
  hssize_t n = H5Sget_simple_extent_npoints(space);
  std::vector<T> v(size_t(std::max<hssize_t>(0, n)));
  if (n > 0)
    h5::check_status(H5Dread(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()),
                     std::string("read ") + name);
  return v;
}

}  // namespace

void write_checkpoint_file(const std::string& path, const std::string& run_id,
                           const TrainState& s) {
  h5::init();
  const std::string tmp = path + ".tmp";
  {
    h5::Handle fapl = h5::file_access_plist();
    h5::Handle f = h5::file_handle(H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl),
                                   "create checkpoint " + tmp);
    write_array(f, "params", H5T_NATIVE_FLOAT, s.params.data(), s.params.size());
    write_array(f, "adam_m", H5T_NATIVE_FLOAT, s.adam_m.data(), s.adam_m.size());
    write_array(f, "adam_v", H5T_NATIVE_FLOAT, s.adam_v.data(), s.adam_v.size());
    write_array(f, "best_params", H5T_NATIVE_FLOAT, s.best_params.data(), s.best_params.size());
    uint64_t rng[8];
    std::memcpy(rng, s.data_rng.s.data(), 32);
    std::memcpy(rng + 4, s.dropout_rng.s.data(), 32);
    write_array(f, "rng", H5T_NATIVE_UINT64, rng, 2, 4);
    std::vector<double> curve;
    for (auto& p : s.curve)
      curve.insert(curve.end(),
                   {double(p.step), double(p.tokens), p.train_loss, p.val_loss, p.lr, p.seconds});
    write_array(f, "curve", H5T_NATIVE_DOUBLE, curve.data(), s.curve.size(), 6);
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
  }
  fsio::fsync_file(tmp);
  fsio::replace_durably(tmp, path);
}

TrainState read_checkpoint_file(const std::string& path, std::string* run_id) {
  h5::init();
  require_regular_file(path, "checkpoint");
  if (H5Fis_hdf5(path.c_str()) <= 0) throw Error(path + ": not an HDF5 checkpoint file");
  h5::Handle fapl = h5::file_access_plist();
  h5::Handle f =
      h5::file_handle(H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl), "open checkpoint " + path);
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
  s.params = read_array<float>(f, "params", H5T_NATIVE_FLOAT, path);
  s.adam_m = read_array<float>(f, "adam_m", H5T_NATIVE_FLOAT, path);
  s.adam_v = read_array<float>(f, "adam_v", H5T_NATIVE_FLOAT, path);
  s.best_params = read_array<float>(f, "best_params", H5T_NATIVE_FLOAT, path);
  auto rng = read_array<uint64_t>(f, "rng", H5T_NATIVE_UINT64, path);
  if (rng.size() != 8) throw Error(path + ": checkpoint rng must be 2 x 4");
  std::memcpy(s.data_rng.s.data(), rng.data(), 32);
  std::memcpy(s.dropout_rng.s.data(), rng.data() + 4, 32);
  auto curve = read_array<double>(f, "curve", H5T_NATIVE_DOUBLE, path);
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
