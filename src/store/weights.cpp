#include "tinyfront/store/weights.hpp"

#include <new>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "fsio.hpp"
#include "h5.hpp"
#include "tinyfront/model/model.hpp"
#include "tinyfront/run/config.hpp"
#include "tinyfront/run/config_json.hpp"
#include "tinyfront/util/error.hpp"
#include "tinyfront/util/files.hpp"

namespace tinyfront {

namespace {
constexpr const char* kFormat = "tinyfront-weights";
constexpr int64_t kVersion = 1;
}  // namespace

void write_weights(const std::string& path, const Weights& w) {
  fsio::write_atomically(path, fsio::Publish::replace, [&](const std::string& tmp) {
    h5::Handle f = h5::create_file(tmp);
    h5::write_attr_string(f, "format", kFormat);
    h5::write_attr_int(f, "version", kVersion);
    h5::write_attr_string(f, "run_id", run_id(w.config));
    nlohmann::ordered_json cfg = config_to_json(w.config);
    cfg["model"]["vocab"] = w.config.model.vocab;
    h5::write_attr_string(f, "config", cfg.dump());
    h5::write_attr_string(f, "tokenizer", to_string(w.vocab.kind));
    // Tokens are bytes (a character vocabulary of a non-ASCII corpus holds single bytes of
    // UTF-8 sequences): the store's one rule for byte strings marks them UTF-8 only when they are.
    h5::write_byte_strings(f, "vocab", w.vocab.tokens);
    h5::Handle g = h5::create_group(f, "params");
    for (const ParamTensor& t : param_layout(w.config.model))
      h5::write_dataset(g, t.name, w.params.data() + t.offset, {hsize_t(t.rows), hsize_t(t.cols)});
    g.reset();
    f.close("close weights file " + tmp);
  });
}

bool is_weights_file(const std::string& path) {
  if (!regular_file_problem(path).empty() || !h5::is_hdf5(path)) return false;
  try {
    h5::Handle f = h5::open_file(path, false);
    return h5::read_attr_string(f, "format").value_or("") == kFormat;
  } catch (const Error&) {
    return false;
  }
}

namespace {

Weights read_weights_unchecked(const std::string& path) {
  h5::Handle f = h5::open_file(path, false);
  if (h5::read_attr_string(f, "format").value_or("") != kFormat)
    throw Error(path + ": not a tinyfront weights file");
  if (h5::read_attr_int(f, "version").value_or(0) != kVersion)
    throw Error(path + ": weights format version is not " + std::to_string(kVersion));
  Weights w;
  auto cfg = nlohmann::json::parse(h5::read_attr_string(f, "config").value_or("{}"));
  w.config = config_from_json(cfg);
  w.config.model.vocab = cfg["model"].value("vocab", 0);
  // The stored config sizes every allocation below: check it as a spec would be checked, so that
  // a damaged one is named, not met as "cannot create std::vector larger than max_size()".
  {
    std::vector<SpecIssue> issues;
    const ModelConfig& m = w.config.model;
    // Fields a model does not use are stored as 0 (a linear model's layers, heads, ff).
    bool sizes_ok = m.vocab >= 1 && m.vocab <= (1 << 24) && m.d_model >= 1 &&
                    m.d_model <= (1 << 16) && m.context >= 1 && m.context <= (1 << 16) &&
                    m.layers >= 0 && m.layers <= 256 && m.heads >= 0 && m.heads <= 1024 &&
                    m.ff >= 0 && m.ff <= (1 << 20) && m.hidden.size() <= 256 &&
                    (!m.is_attention_family() || m.heads >= 1);
    for (int h : m.hidden) sizes_ok = sizes_ok && h >= 1 && h <= (1 << 20);
    if (!sizes_ok)
      issues.push_back({path, 0, 0, "model", "sizes out of range"});
    else
      validate_config(w.config, path, issues);
    if (!issues.empty())
      throw Error("the stored model config is invalid (" + issues.front().key + ": " +
                  issues.front().reason + ")");
  }
  parse_enum(h5::read_attr_string(f, "tokenizer").value_or("chars"), w.vocab.kind);
  if (!h5::link_exists(f, "vocab")) throw Error(path + ": missing dataset /vocab");
  w.vocab.tokens = h5::read_byte_strings(f, "vocab");  // either character set: bytes
  if (w.vocab.size() != w.config.model.vocab)
    throw Error(path + ": the vocabulary has " + std::to_string(w.vocab.size()) +
                " tokens but the model expects " + std::to_string(w.config.model.vocab));
  auto layout = param_layout(w.config.model);
  w.params.assign(size_t(count_params(w.config.model)), 0.0f);
  for (const ParamTensor& t : layout) {
    std::string name = "params/" + t.name;
    if (!h5::link_exists(f, "params") || !h5::link_exists(f, name))
      throw Error(path + ": missing tensor /" + name);
    h5::Handle ds = h5::open_dataset(f, name);
    if (h5::dataset_points(ds, "/" + name) != t.size())
      throw Error(path + ": tensor /" + name + " has the wrong shape");
    ds.reset();
    h5::read_dataset_into(f, name, w.params.data() + t.offset, size_t(t.size()));
  }
  return w;
}

}  // namespace

Weights read_weights(const std::string& path) {
  require_regular_file(path, "weights file");
  if (!h5::is_hdf5(path)) throw Error(path + ": not an HDF5 weights file");
  // Whatever a damaged file makes fail below (HDF5, the JSON config, an absurd size), the message
  // names the file and says it is damaged; library texts follow only as the detail.
  auto damaged = [&](const std::string& detail) {
    return Error(path + ": damaged or unreadable weights file: " + detail);
  };
  try {
    return read_weights_unchecked(path);
  } catch (const nlohmann::json::exception&) {
    throw damaged("the stored model config is not valid JSON of a tinyfront config");
  } catch (const std::bad_alloc&) {
    throw damaged("a stored size is too large to allocate");
  } catch (const std::length_error&) {
    throw damaged("a stored size is too large to allocate");
  } catch (const Error& e) {
    const std::string what = e.what();
    if (what.rfind(path + ": ", 0) == 0) throw;  // already names the file and the reason
    // HDF5's own error stack ("... (HDF5: truncated file: eof = ...)") is for developers: say
    // what it means, and which object could not be read.
    const size_t h5 = what.find(" (HDF5: ");
    if (h5 == std::string::npos) throw damaged(what);
    const std::string stack = what.substr(h5);
    std::string reason = "HDF5 cannot read it";
    if (stack.find("truncated") != std::string::npos)
      reason = "the file is truncated (shorter than its own header says)";
    else if (stack.find("checksum") != std::string::npos)
      reason = "a checksum does not match (the file was changed or corrupted)";
    else if (stack.find("signature") != std::string::npos)
      reason = "an HDF5 structure is corrupted";
    throw damaged(reason + " (" + what.substr(0, h5) + ")");
  }
}

}  // namespace tinyfront
