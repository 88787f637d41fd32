#include "layout.hpp"

#include <cmath>
#include <cstddef>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "tinyfront/run/config_json.hpp"
#include "tinyfront/run/json_codec.hpp"
#include "tinyfront/util/error.hpp"

namespace tinyfront::layout {

using nlohmann::json;
using nlohmann::ordered_json;

namespace {

// Widths of the fixed-length string columns of the schema. Generous for the values seen in
// practice (and compression makes the padding nearly free); a longer value is kept whole in
// /long_strings, so a width only decides what h5py/pandas see without the tinyfront reader.
size_t string_width(const std::string& name, bool json_text) {
  if (name == "run_id" || name == "status") return 16;
  if (name == "data.name") return 64;
  if (name == "data.path") return 192;
  if (name == "train.budget") return 32;
  if (name == "host") return 64;
  if (name == "message") return 256;
  return json_text ? 64 : 16;  // arrays as JSON text; enum-like strings
}

// The result columns, in TrainResult order (message, a string, is added after them).
struct ResultField {
  const char* name;
  int64_t TrainResult::*i;
  double TrainResult::*f;
};
const ResultField kResultFields[] = {
    {"params", &TrainResult::params, nullptr},
    {"params_non_embedding", &TrainResult::params_non_embedding, nullptr},
    {"steps", &TrainResult::steps, nullptr},
    {"train_windows", &TrainResult::train_windows, nullptr},
    {"train_tokens", &TrainResult::train_tokens, nullptr},
    {"train_targets", &TrainResult::train_targets, nullptr},
    {"flops_study", nullptr, &TrainResult::flops_study},
    {"flops_kaplan", nullptr, &TrainResult::flops_kaplan},
    {"flops_exact", nullptr, &TrainResult::flops_exact},
    {"best_val_nll", nullptr, &TrainResult::best_val_nll},
    {"best_val_step", &TrainResult::best_val_step, nullptr},
    {"test_nll", nullptr, &TrainResult::test_nll},
    {"test_ppl", nullptr, &TrainResult::test_ppl},
    {"test_bpc", nullptr, &TrainResult::test_bpc},
    {"wall_seconds", nullptr, &TrainResult::wall_seconds},
    {"tokens_per_second", nullptr, &TrainResult::tokens_per_second},
};

std::string join(const std::vector<std::string>& path) {
  std::string s;
  for (auto& p : path) s += (s.empty() ? "" : ".") + p;
  return s;
}

// Calls f(path, value) for every leaf of a JSON object in order; arrays are leaves.
template <class J, class F>
void flatten(const J& j, std::vector<std::string>& path, F&& f) {
  for (auto it = j.begin(); it != j.end(); ++it) {
    path.push_back(it.key());
    if (it.value().is_object())
      flatten(it.value(), path, f);
    else
      f(path, it.value());
    path.pop_back();
  }
}

Layout build_layout() {
  Layout L;
  auto add = [&L](Column c) {
    if (L.index.count(c.name)) throw std::logic_error("results schema: duplicate column " + c.name);
    if (c.type == ColumnType::str && c.width == 0) c.width = string_width(c.name, c.json_text);
    c.offset = L.row_size;
    L.row_size += c.size();
    L.index[c.name] = L.columns.size();
    L.columns.push_back(std::move(c));
  };
  auto simple = [](const char* name, ColumnType t) {
    Column c;
    c.name = name;
    c.type = t;
    return c;
  };
  add(simple("run_id", ColumnType::str));
  add(simple("status", ColumnType::str));

  std::vector<std::string> path;
  flatten(config_to_json(RunConfig{}), path,
          [&](const std::vector<std::string>& p, const ordered_json& v) {
            Column c;
            c.name = join(p);
            c.from_config = true;
            c.path = p;
            switch (v.type()) {
              case ordered_json::value_t::boolean:
                c.type = ColumnType::i8;
                break;
              case ordered_json::value_t::number_integer:
                c.type = ColumnType::i64;
                break;
              case ordered_json::value_t::number_unsigned:
                c.type = ColumnType::u64;
                break;
              case ordered_json::value_t::number_float:
                c.type = ColumnType::f64;
                break;
              case ordered_json::value_t::string:
                c.type = ColumnType::str;
                break;
              case ordered_json::value_t::array:
                c.type = ColumnType::str;
                c.json_text = true;
                break;
              default:
                throw std::logic_error("results schema: config field " + c.name +
                                       " has a JSON type without a column type");
            }
            add(std::move(c));
          });
  // The vocabulary size is set from the corpus, not the spec, so config_to_json leaves it out;
  // a record still carries it and must round-trip.
  if (!L.index.count("model.vocab")) add(simple("model.vocab", ColumnType::i64));

  for (auto& f : kResultFields) add(simple(f.name, f.i ? ColumnType::i64 : ColumnType::f64));
  add(simple("message", ColumnType::str));
  add(simple("rank", ColumnType::i64));
  add(simple("host", ColumnType::str));
  add(simple("started_at", ColumnType::f64));
  add(simple("finished_at", ColumnType::f64));
  return L;
}

template <class J>
Cell cell_from_json(const Column& c, const J& v) {
  auto bad = [&]() {
    return Error("results store: field " + c.name + " has an unexpected JSON value " + v.dump());
  };
  switch (c.type) {
    case ColumnType::f64:
      if (!v.is_number()) throw bad();
      return v.template get<double>();
    case ColumnType::i64:
      if (v.is_number_unsigned()) {
        if (v.template get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max())) throw bad();
        return int64_t(v.template get<uint64_t>());
      }
      if (!v.is_number_integer()) throw bad();
      return v.template get<int64_t>();
    case ColumnType::u64:
      if (v.is_number_unsigned()) return v.template get<uint64_t>();
      if (v.is_number_integer() && v.template get<int64_t>() >= 0)
        return uint64_t(v.template get<int64_t>());
      throw bad();
    case ColumnType::i8:
      if (v.is_boolean()) return int64_t(v.template get<bool>() ? 1 : 0);
      if (v.is_number_integer() &&
          (v.template get<int64_t>() == 0 || v.template get<int64_t>() == 1))
        return v.template get<int64_t>();
      throw bad();
    case ColumnType::str:
      if (c.json_text) return armor(v).dump();
      if (!v.is_string()) throw bad();
      return v.template get<std::string>();
  }
  throw bad();
}

void check_storable(const Column& c, const std::string& s) {
  if (s.find('\0') != std::string::npos)
    throw Error("results store: field " + c.name +
                " contains a NUL byte, which HDF5 strings cannot hold");
}

}  // namespace

// ---- layout ----

size_t Column::size() const {
  switch (type) {
    case ColumnType::f64:
    case ColumnType::i64:
    case ColumnType::u64:
      return 8;
    case ColumnType::i8:
      return 1;
    case ColumnType::str:
      return width;
  }
  return 0;
}

size_t Layout::find(const std::string& name) const {
  auto it = index.find(name);
  if (it == index.end()) throw Error("results store: no column named " + name);
  return it->second;
}

const Layout& runs_layout() {
  static const Layout L = build_layout();
  return L;
}

// ---- records <-> rows ----

Row record_to_row(const RunRecord& rec) {
  const Layout& L = runs_layout();
  const std::string& id = rec.run_id;
  if (id.empty() || id.size() > 16)
    throw Error("results store: run id '" + id + "' must have 1 to 16 characters");
  for (char ch : id)
    if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
          ch == '_' || ch == '-'))
      throw Error("results store: run id '" + id + "' may only hold [0-9A-Za-z_-]");

  Row row;
  row.reserve(L.columns.size());
  row.emplace_back(id);
  row.emplace_back(std::string(to_string(rec.result.status)));
  size_t col = row.size();
  std::vector<std::string> path;
  flatten(config_to_json(rec.config), path,
          [&](const std::vector<std::string>& p, const ordered_json& v) {
            // The fields come in the same order as in the layout (same function, same code);
            // anything else means config_to_json changed without a new schema version.
            if (col >= L.columns.size() || !L.columns[col].from_config || L.columns[col].path != p)
              throw Error("results store: config field " + join(p) +
                          " does not match the results schema; the schema version must change");
            row.push_back(cell_from_json(L.columns[col], v));
            ++col;
          });
  if (col >= L.columns.size() || L.columns[col].from_config)
    throw Error("results store: config fields are missing; the results schema must change");
  if (L.columns[col].name == "model.vocab") row.emplace_back(int64_t(rec.config.model.vocab));
  for (auto& f : kResultFields) {
    if (f.i)
      row.emplace_back(rec.result.*f.i);
    else
      row.emplace_back(rec.result.*f.f);
  }
  row.emplace_back(rec.result.message);
  row.emplace_back(int64_t(rec.rank));
  row.emplace_back(rec.host);
  row.emplace_back(rec.started_at);
  row.emplace_back(rec.finished_at);
  if (row.size() != L.columns.size()) throw std::logic_error("results store: row size mismatch");
  for (size_t i = 0; i < row.size(); ++i)
    if (auto* s = std::get_if<std::string>(&row[i])) check_storable(L.columns[i], *s);
  return row;
}

const std::string& row_run_id(const Row& row) {
  return std::get<std::string>(row[kRunId]);
}
const std::string& row_status(const Row& row) {
  return std::get<std::string>(row[kStatus]);
}

RunRecord row_to_record(const Row& row) {
  const Layout& L = runs_layout();
  RunRecord r;
  r.run_id = row_run_id(row);
  if (!parse_enum(row_status(row), r.result.status))
    throw Error("results store: run " + r.run_id + " has an unknown status '" + row_status(row) +
                "'");
  json cfg = json::object();
  size_t col = 2;
  for (; col < L.columns.size() && L.columns[col].from_config; ++col) {
    const Column& c = L.columns[col];
    json* node = &cfg;
    for (size_t k = 0; k + 1 < c.path.size(); ++k) node = &(*node)[c.path[k]];
    json& dst = (*node)[c.path.back()];
    const Cell& v = row[col];
    switch (c.type) {
      case ColumnType::f64:
        dst = std::get<double>(v);
        break;
      case ColumnType::i64:
        dst = std::get<int64_t>(v);
        break;
      case ColumnType::u64:
        dst = std::get<uint64_t>(v);
        break;
      case ColumnType::i8:
        dst = std::get<int64_t>(v) != 0;
        break;
      case ColumnType::str:
        if (!c.json_text) {
          dst = std::get<std::string>(v);
          break;
        }
        try {
          dst = unarmor(json::parse(std::get<std::string>(v)));
        } catch (const json::exception& e) {
          throw Error("results store: run " + r.run_id + ": column " + c.name +
                      " does not hold JSON text: " + e.what());
        }
        break;
    }
  }
  try {
    r.config = config_from_json(cfg);
  } catch (const std::exception& e) {
    throw Error("results store: run " + r.run_id + ": cannot rebuild its config: " + e.what());
  }
  if (L.columns[col].name == "model.vocab")
    r.config.model.vocab = int(std::get<int64_t>(row[col++]));
  for (auto& f : kResultFields) {
    if (f.i)
      r.result.*f.i = std::get<int64_t>(row[col++]);
    else
      r.result.*f.f = std::get<double>(row[col++]);
  }
  r.result.message = std::get<std::string>(row[col++]);
  r.rank = int(std::get<int64_t>(row[col++]));
  r.host = std::get<std::string>(row[col++]);
  r.started_at = std::get<double>(row[col++]);
  r.finished_at = std::get<double>(row[col++]);
  return r;
}

// ---- journal JSON ----

json row_to_json(const Row& row) {
  const Layout& L = runs_layout();
  json j = json::object();
  for (size_t i = 0; i < row.size(); ++i) {
    const Column& c = L.columns[i];
    const Cell& v = row[i];
    json& dst = j[c.name];
    switch (c.type) {
      case ColumnType::f64:
        dst = armor(json(std::get<double>(v)));
        break;
      case ColumnType::i64:
        dst = std::get<int64_t>(v);
        break;
      case ColumnType::u64:
        dst = std::get<uint64_t>(v);
        break;
      case ColumnType::i8:
        dst = std::get<int64_t>(v) != 0;
        break;
      case ColumnType::str:
        dst = armor(json(std::get<std::string>(v)));
        break;
    }
  }
  return j;
}

Row row_from_json(const json& j) {
  const Layout& L = runs_layout();
  if (!j.is_object()) throw Error("results store: a journal row is not a JSON object");
  if (j.size() != L.columns.size())
    throw Error("results store: a journal row has " + std::to_string(j.size()) +
                " columns, the schema " + std::to_string(L.columns.size()));
  Row row;
  row.reserve(L.columns.size());
  for (const Column& c : L.columns) {
    auto it = j.find(c.name);
    if (it == j.end()) throw Error("results store: a journal row lacks column " + c.name);
    json v = unarmor(*it);
    if (c.type == ColumnType::str) {
      if (!v.is_string())
        throw Error("results store: journal column " + c.name + " is not a string");
      row.emplace_back(v.get<std::string>());
    } else {
      row.push_back(cell_from_json(c, v));
    }
  }
  return row;
}

// ---- packed rows ----

void pack_row(const Row& row, char* out, std::vector<LongString>& overflow) {
  const Layout& L = runs_layout();
  for (size_t i = 0; i < L.columns.size(); ++i) {
    const Column& c = L.columns[i];
    char* dst = out + c.offset;
    const Cell& v = row[i];
    switch (c.type) {
      case ColumnType::f64: {
        double d = std::get<double>(v);
        std::memcpy(dst, &d, 8);
        break;
      }
      case ColumnType::i64: {
        int64_t x = std::get<int64_t>(v);
        std::memcpy(dst, &x, 8);
        break;
      }
      case ColumnType::u64: {
        uint64_t x = std::get<uint64_t>(v);
        std::memcpy(dst, &x, 8);
        break;
      }
      case ColumnType::i8:
        *dst = char(std::get<int64_t>(v) != 0);
        break;
      case ColumnType::str: {
        const std::string& s = std::get<std::string>(v);
        size_t n = s.size();
        if (n > c.width) {
          // Keep a readable prefix for h5py/pandas: do not cut a UTF-8 sequence in two.
          n = c.width;
          while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
          overflow.push_back({row_run_id(row), c.name, s});
        }
        std::memcpy(dst, s.data(), n);
        std::memset(dst + n, 0, c.width - n);
        break;
      }
    }
  }
}

Row unpack_row(const char* in) {
  const Layout& L = runs_layout();
  Row row;
  row.reserve(L.columns.size());
  for (const Column& c : L.columns) {
    const char* src = in + c.offset;
    switch (c.type) {
      case ColumnType::f64: {
        double d;
        std::memcpy(&d, src, 8);
        row.emplace_back(d);
        break;
      }
      case ColumnType::i64: {
        int64_t x;
        std::memcpy(&x, src, 8);
        row.emplace_back(x);
        break;
      }
      case ColumnType::u64: {
        uint64_t x;
        std::memcpy(&x, src, 8);
        row.emplace_back(x);
        break;
      }
      case ColumnType::i8:
        row.emplace_back(int64_t(*src != 0));
        break;
      case ColumnType::str: {
        row.emplace_back(std::string(src, strnlen(src, c.width)));
        break;
      }
    }
  }
  return row;
}

}  // namespace tinyfront::layout
