#include "tinyfront/analysis/run_table.hpp"

#include <charconv>
#include <cmath>
#include <string_view>
#include <type_traits>
#include <unordered_map>

#include "tinyfront/run/fields.hpp"

namespace tinyfront {

double run_cost(const TrainResult& r, CostAxis c) {
  switch (c) {
    case CostAxis::flops_study:
      return r.flops(FlopConvention::study);
    case CostAxis::flops_kaplan:
      return r.flops(FlopConvention::kaplan);
    case CostAxis::flops_exact:
      return r.flops(FlopConvention::exact);
    case CostAxis::params:
      return double(r.params);
  }
  return 0;
}

bool is_usable(const RunRecord& r) {
  return r.result.status == RunStatus::done && std::isfinite(r.result.test_nll);
}

void IgnoredRuns::count(const RunRecord& r) {
  switch (r.result.status) {
    case RunStatus::done:
      if (!std::isfinite(r.result.test_nll)) ++nonfinite_nll;
      break;
    case RunStatus::failed:
      ++failed;
      break;
    case RunStatus::diverged:
      ++diverged;
      break;
    default:
      ++other;
      break;
  }
}

// ---------------------------------------------------------------------------------------------
// Flattening configs. config_to_json builds a JSON tree per run, which costs ~10 us; at 100k runs
// that alone is a second. The fields are rendered straight from the field table instead
// (run/fields.hpp), with the same normalisation; a test checks both agree field by field.

namespace {

void put(std::string& out, double v) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}
void put(std::string& out, int64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}
void put(std::string& out, uint64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}
void put(std::string& out, int v) {
  put(out, int64_t(v));
}
void put(std::string& out, bool v) {
  out += v ? "true" : "false";
}
void put(std::string& out, const std::string& v) {
  out += v;
}
void put(std::string& out, const char* v) {
  out += v;
}
template <class T>
void put(std::string& out, const std::vector<T>& v) {
  out += '[';
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out += ',';
    put(out, v[i]);
  }
  out += ']';
}

template <class T>
void render(std::string& out, const T& member) {
  if constexpr (std::is_enum_v<T>)
    put(out, to_string(member));
  else
    put(out, member);
}

// Every field of the table as dotted name and rendered value.
std::vector<std::pair<std::string, std::string>> fields_of(const RunConfig& cfg) {
  std::vector<std::pair<std::string, std::string>> out;
  for_each_field(cfg, [&out](const FieldInfo& f, const auto& member, const auto&) {
    std::string v;
    render(v, member);
    out.emplace_back(std::string(f.section) + "." + f.key, std::move(v));
  });
  return out;
}

// Interns one column's values. Most fields take a handful of values, for which a linear scan
// beats hashing; a hash map takes over once a field has many.
struct ColumnInterner {
  std::vector<std::string>* values;
  std::unordered_map<std::string, int32_t> index;

  int32_t code(const std::string& v) {
    if (index.empty()) {
      for (size_t i = 0; i < values->size(); ++i)
        if ((*values)[i] == v) return int32_t(i);
      values->push_back(v);
      if (values->size() > 16)
        for (size_t i = 0; i < values->size(); ++i) index.emplace((*values)[i], int32_t(i));
      return int32_t(values->size() - 1);
    }
    auto [it, inserted] = index.emplace(v, int32_t(values->size()));
    if (inserted) values->push_back(v);
    return it->second;
  }
};

}  // namespace

std::vector<std::pair<std::string, std::string>> config_fields(const RunConfig& cfg) {
  return fields_of(normalise(cfg));
}

std::vector<std::pair<std::string, std::string>> config_fields_as_given(const RunConfig& cfg) {
  return fields_of(cfg);
}

int ConfigColumns::field(const std::string& name) const {
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == name) return int(i);
  return -1;
}

ConfigColumns config_columns(const std::vector<const RunConfig*>& configs) {
  ConfigColumns cols;
  cols.rows = configs.size();
  RunConfig scratch;
  for_each_field(scratch, [&cols](const FieldInfo& f, const auto&, const auto&) {
    cols.names.push_back(std::string(f.section) + "." + f.key);
  });
  const size_t nf = cols.names.size();
  cols.codes.assign(nf, std::vector<int32_t>(configs.size()));
  cols.values.assign(nf, {});
  std::vector<ColumnInterner> interners(nf);
  for (size_t f = 0; f < nf; ++f) interners[f].values = &cols.values[f];

  std::string buf;
  for (size_t row = 0; row < configs.size(); ++row) {
    const RunConfig n = normalise(*configs[row]);
    size_t f = 0;
    for_each_field(n, [&](const FieldInfo&, const auto& member, const auto&) {
      buf.clear();
      render(buf, member);
      cols.codes[f][row] = interners[f].code(buf);
      ++f;
    });
  }
  return cols;
}

}  // namespace tinyfront
