#include "tinyfront/run/state_io.hpp"

#include <cstring>

#include "tinyfront/util/error.hpp"

namespace tinyfront {

// Checkpoint bytes: "TFCK", a format version, then the fields in order (little-endian, as this
// machine writes them; checkpoints are not meant to move between architectures).

namespace {
struct Writer {
  std::string out;
  template <typename T>
  void pod(const T& v) {
    out.append(reinterpret_cast<const char*>(&v), sizeof v);
  }
  template <typename T>
  void vec(const std::vector<T>& v) {
    pod(uint64_t(v.size()));
    out.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
  }
};
struct Reader {
  const std::string& in;
  size_t pos = 0;
  template <typename T>
  void pod(T& v) {
    if (pos + sizeof v > in.size()) throw Error("checkpoint: truncated");
    std::memcpy(&v, in.data() + pos, sizeof v);
    pos += sizeof v;
  }
  template <typename T>
  void vec(std::vector<T>& v) {
    uint64_t n = 0;
    pod(n);
    if (n > (in.size() - pos) / sizeof(T)) throw Error("checkpoint: truncated");
    v.resize(n);
    std::memcpy(v.data(), in.data() + pos, n * sizeof(T));
    pos += n * sizeof(T);
  }
};
constexpr uint32_t kStateVersion = 1;
}  // namespace

std::string serialize_state(const TrainState& s) {
  Writer w;
  w.out = "TFCK";
  w.pod(kStateVersion);
  w.pod(s.step), w.pod(s.windows_done), w.pod(s.evals_since_best), w.pod(s.best_val);
  w.pod(s.best_step), w.pod(s.loss_sum), w.pod(s.loss_count), w.pod(s.train_seconds);
  w.pod(s.data_rng.s), w.pod(s.dropout_rng.s);
  w.vec(s.params), w.vec(s.adam_m), w.vec(s.adam_v), w.vec(s.best_params);
  w.vec(s.curve);
  return w.out;
}

TrainState deserialize_state(const std::string& bytes) {
  if (bytes.size() < 8 || bytes.compare(0, 4, "TFCK") != 0)
    throw Error("checkpoint: not a tinyfront checkpoint");
  Reader r{bytes, 4};
  uint32_t version = 0;
  r.pod(version);
  if (version != kStateVersion)
    throw Error("checkpoint: format version " + std::to_string(version) + ", expected " +
                std::to_string(kStateVersion));
  TrainState s;
  r.pod(s.step), r.pod(s.windows_done), r.pod(s.evals_since_best), r.pod(s.best_val);
  r.pod(s.best_step), r.pod(s.loss_sum), r.pod(s.loss_count), r.pod(s.train_seconds);
  r.pod(s.data_rng.s), r.pod(s.dropout_rng.s);
  r.vec(s.params), r.vec(s.adam_m), r.vec(s.adam_v), r.vec(s.best_params);
  r.vec(s.curve);
  return s;
}

}  // namespace tinyfront
