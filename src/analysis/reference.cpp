#include "tinyfront/analysis/reference.hpp"

#include <toml++/toml.h>
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <set>

#include "tinyfront/analysis/run_table.hpp"
#include "tinyfront/run/fields.hpp"
#include "tinyfront/spec/toml_fields.hpp"
#include "tinyfront/util/error.hpp"

namespace tinyfront {

bool is_loss_metric(ReferenceMetric m) {
  return m == ReferenceMetric::test_nll || m == ReferenceMetric::best_val_nll ||
         m == ReferenceMetric::test_bpc;
}

double reference_metric_value(const RunRecord& r, ReferenceMetric m) {
  const TrainResult& t = r.result;
  switch (m) {
    case ReferenceMetric::test_nll:
      return t.test_nll;
    case ReferenceMetric::best_val_nll:
      return t.best_val_nll;
    case ReferenceMetric::test_bpc:
      return t.test_bpc;
    case ReferenceMetric::test_ppl:
      return t.test_ppl;
    case ReferenceMetric::best_val_epoch: {
      // Validation after every epoch (eval_every 0) puts the best step on an epoch boundary.
      const TrainConfig& c = r.config.train;
      if (c.protocol != Protocol::paper || c.batch <= 0) return NAN;
      const int64_t steps_per_epoch = (c.windows_per_epoch + c.batch - 1) / c.batch;
      return steps_per_epoch > 0 ? double(t.best_val_step) / double(steps_per_epoch) : NAN;
    }
    case ReferenceMetric::params:
      return double(t.params);
    case ReferenceMetric::params_non_embedding:
      return double(t.params_non_embedding);
    case ReferenceMetric::train_tokens:
      return double(t.train_tokens);
    case ReferenceMetric::flops_study:
      return t.flops_study;
    case ReferenceMetric::flops_kaplan:
      return t.flops_kaplan;
    case ReferenceMetric::flops_exact:
      return t.flops_exact;
  }
  return NAN;
}

// ---------------------------------------------------------------------------------------------
// Reading a reference file.

namespace {

using Issues = std::vector<SpecIssue>;

SpecIssue at(const std::string& file, const toml::node& n, const std::string& key,
             const std::string& reason) {
  auto s = n.source();
  return {file, int(s.begin.line), int(s.begin.column), key, reason};
}

// The value of one field as given, rendered the way config_fields renders a run's (but without
// config_to_json's normalisation, which would turn e.g. rope_base into 0 on a default model).
std::string rendered_field(const RunConfig& c, const std::string& field) {
  for (auto& [name, value] : config_fields_as_given(c))
    if (name == field) return value;
  return "";
}

// Settings inherited file -> table -> row.
struct Inherited {
  std::vector<std::pair<std::string, std::string>> match;  // field -> rendered value
  double tolerance = 0.05, rel_tolerance = 0.005, sigmas = 2;
  std::string note;
};

class Reader {
 public:
  explicit Reader(const std::string& path) : path_(path) {}

  ReferenceFile read() {
    ReferenceFile ref;
    ref.path = path_;
    if (!std::filesystem::exists(path_)) throw SpecError({{path_, 0, 0, "", "no such file"}});
    toml::table root;
    try {
      root = toml::parse_file(path_);
    } catch (const toml::parse_error& e) {
      auto s = e.source();
      throw SpecError({{path_, int(s.begin.line), int(s.begin.column), "",
                        "TOML syntax error: " + std::string(e.description())}});
    }
    for (auto&& [k, v] : root) {
      const std::string key(k.str());
      if (key != "reference" && key != "match" && key != "table")
        issues_.push_back(at(path_, v, key, "unknown section (expected reference, match, table)"));
    }
    Inherited file_level;
    if (auto* t = root["reference"].as_table()) {
      for (auto&& [k, v] : *t) {
        const std::string key(k.str());
        if (key == "title")
          ref.title = text(v, "reference.title");
        else if (key == "source")
          ref.source = text(v, "reference.source");
        else if (!setting(key, v, "reference." + key, file_level))
          issues_.push_back(at(path_, v, "reference." + key,
                               "unknown key (expected title, source, tolerance, rel_tolerance, "
                               "sigmas, note)"));
      }
    } else if (root.contains("reference")) {
      issues_.push_back(at(path_, *root.get("reference"), "reference", "expected a table"));
    }
    if (auto* t = root["match"].as_table()) {
      read_match(*t, "match", file_level);
    } else if (root.contains("match")) {
      issues_.push_back(at(path_, *root.get("match"), "match", "expected a table"));
    }
    const toml::array* tables = root["table"].as_array();
    if (!tables || tables->empty()) {
      issues_.push_back({path_, 0, 0, "table", "no [[table]] of figures"});
    } else {
      for (auto& e : *tables) read_table(e, file_level, ref);
    }
    if (ref.figures.empty() && issues_.empty())
      issues_.push_back({path_, 0, 0, "table", "the file has no figures"});
    if (!issues_.empty()) throw SpecError(issues_);
    return ref;
  }

 private:
  std::string text(const toml::node& v, const std::string& key) {
    if (!v.is_string()) {
      issues_.push_back(at(path_, v, key, "expected a string"));
      return "";
    }
    return *v.value<std::string>();
  }

  bool number(const toml::node& v, const std::string& key, double& out) {
    if (!v.is_number()) {
      issues_.push_back(at(path_, v, key, "expected a number"));
      return false;
    }
    out = v.is_integer() ? double(*v.value<int64_t>()) : *v.value<double>();
    if (!std::isfinite(out)) {
      issues_.push_back(at(path_, v, key, "must be finite"));
      return false;
    }
    return true;
  }

  // tolerance, rel_tolerance, sigmas, note: true if `key` is one of them.
  bool setting(const std::string& key, const toml::node& v, const std::string& name,
               Inherited& into) {
    double x = 0;
    if (key == "tolerance" || key == "rel_tolerance" || key == "sigmas") {
      if (number(v, name, x)) {
        if (x < 0)
          issues_.push_back(at(path_, v, name, "must be >= 0"));
        else
          (key == "tolerance" ? into.tolerance
           : key == "sigmas"  ? into.sigmas
                              : into.rel_tolerance) = x;
      }
      return true;
    }
    if (key == "note") {
      into.note = text(v, name);
      return true;
    }
    return false;
  }

  // Dotted config fields under a match table, validated by the job-spec reader itself (type,
  // range, enum values, unknown names), each at its own line and column.
  void read_match(const toml::table& t, const std::string& prefix, Inherited& into) {
    std::vector<std::pair<std::string, const toml::node*>> fields;
    flatten(t, "", fields);
    for (auto& [field, node] : fields) {
      if (!is_known_field(field)) {
        issues_.push_back(at(path_, *node, prefix + "." + field,
                             "unknown config field (expected a dotted name such as model.arch, "
                             "as in a sweep spec)"));
        continue;
      }
      RunConfig scratch;
      Issues local;
      apply_field(scratch, field, *node, path_, local);
      for (auto& i : local) i.key = prefix + "." + i.key;
      if (!local.empty()) {
        issues_.insert(issues_.end(), local.begin(), local.end());
        continue;
      }
      const std::string value = rendered_field(scratch, field);
      bool replaced = false;
      for (auto& [f, v] : into.match)
        if (f == field) v = value, replaced = true;
      if (!replaced) into.match.emplace_back(field, value);
    }
  }

  static void flatten(const toml::table& t, const std::string& prefix,
                      std::vector<std::pair<std::string, const toml::node*>>& out) {
    for (auto&& [k, v] : t) {
      std::string name =
          prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
      if (v.is_table() && !is_known_field(name))
        flatten(*v.as_table(), name, out);
      else
        out.emplace_back(name, &v);
    }
  }

  void read_table(const toml::node& e, const Inherited& parent, ReferenceFile& ref) {
    const toml::table* t = e.as_table();
    if (!t) {
      issues_.push_back(at(path_, e, "table", "expected [[table]] tables"));
      return;
    }
    Inherited here = parent;
    here.note.clear();  // a note belongs to its own table or row
    std::string name;
    const toml::array* rows = nullptr;
    for (auto&& [k, v] : *t) {
      const std::string key(k.str());
      if (key == "name")
        name = text(v, "table.name");
      else if (key == "match" && v.is_table())
        read_match(*v.as_table(), "table.match", here);
      else if (key == "row") {
        rows = v.as_array();
        if (!rows) issues_.push_back(at(path_, v, "table.row", "expected [[table.row]] tables"));
      } else if (!setting(key, v, "table." + key, here))
        issues_.push_back(at(path_, v, "table." + key,
                             "unknown key (expected name, match.<field>, tolerance, "
                             "rel_tolerance, sigmas, note, row)"));
    }
    if (!rows || rows->empty()) {
      issues_.push_back(at(path_, *t, "table", "table \"" + name + "\" has no [[table.row]]"));
      return;
    }
    for (auto& r : *rows) read_row(r, name, here, ref);
  }

  void read_row(const toml::node& e, const std::string& table, const Inherited& parent,
                ReferenceFile& ref) {
    const toml::table* t = e.as_table();
    if (!t) {
      issues_.push_back(at(path_, e, "table.row", "expected [[table.row]] tables"));
      return;
    }
    Inherited here = parent;
    std::string row_note;
    std::string label;
    std::vector<std::pair<ReferenceMetric, const toml::node*>> metrics;
    for (auto&& [k, v] : *t) {
      const std::string key(k.str());
      ReferenceMetric m;
      if (key == "label")
        label = text(v, "row.label");
      else if (key == "match" && v.is_table())
        read_match(*v.as_table(), "row.match", here);
      else if (parse_enum(key, m))
        metrics.emplace_back(m, &v);
      else if (key == "note") {
        row_note = text(v, "row.note");
      } else if (!setting(key, v, "row." + key, here))
        issues_.push_back(at(path_, v, "row." + key,
                             "unknown key (expected label, match.<field>, tolerance, "
                             "rel_tolerance, sigmas, note, or a metric: " +
                                 enum_choices<ReferenceMetric>() + ")"));
    }
    // Figures in the order of ReferenceMetric (NLLs first), not the TOML table's key order.
    std::stable_sort(metrics.begin(), metrics.end(),
                     [](const auto& a, const auto& b) { return int(a.first) < int(b.first); });
    if (metrics.empty())
      issues_.push_back(
          at(path_, *t, "row",
             "row \"" + label + "\" of table \"" + table +
                 "\" has no figure (give a metric: " + enum_choices<ReferenceMetric>() + ")"));
    if (here.match.empty() && !metrics.empty())
      issues_.push_back(at(path_, *t, "row.match",
                           "row \"" + label + "\" matches every run: give match.<field> values"));
    std::string note = here.note;
    if (!row_note.empty()) note += (note.empty() ? "" : " ") + row_note;
    for (auto& [metric, node] : metrics) {
      double value = 0;
      const std::string key = std::string("row.") + to_string(metric);
      if (!number(*node, key, value)) continue;
      if (!is_loss_metric(metric) && metric != ReferenceMetric::best_val_epoch && value <= 0) {
        issues_.push_back(at(path_, *node, key, "must be > 0"));
        continue;
      }
      ReferenceFigure f;
      f.table = table, f.label = label, f.metric = metric, f.value = value;
      f.match = here.match;
      f.tolerance = here.tolerance, f.rel_tolerance = here.rel_tolerance, f.sigmas = here.sigmas;
      f.note = note;
      f.line = int(node->source().begin.line);
      ref.figures.push_back(std::move(f));
    }
  }

  std::string path_;
  Issues issues_;
};

}  // namespace

ReferenceFile load_reference(const std::string& path) {
  return Reader(path).read();
}

// ---------------------------------------------------------------------------------------------
// Comparing.

ReferenceComparison compare_reference(const std::vector<RunRecord>& records,
                                      const ReferenceFile& ref) {
  ReferenceComparison out;
  out.path = ref.path, out.title = ref.title, out.source = ref.source;

  // The last record of each run id, with its config fields rendered once.
  std::map<std::string, size_t> last;
  for (size_t i = 0; i < records.size(); ++i) last[records[i].run_id] = i;
  std::vector<size_t> order;
  for (auto& [id, i] : last) order.push_back(i);
  std::sort(order.begin(), order.end());
  std::vector<const RunRecord*> runs;
  std::vector<std::vector<std::pair<std::string, std::string>>> fields;
  for (size_t i : order) {
    runs.push_back(&records[i]);
    fields.push_back(config_fields(records[i].config));
  }
  // Fields that tell seeds of one config apart, or only label how a run was made.
  const std::set<std::string> per_seed = {"train.seed", "train.threads", "train.budget"};

  for (const auto& fig : ref.figures) {
    ReferenceRow row;
    row.table = fig.table, row.label = fig.label, row.metric = to_string(fig.metric);
    for (auto& [f, v] : fig.match) row.match += (row.match.empty() ? "" : " ") + f + "=" + v;
    row.reference = fig.value;
    row.sigmas = fig.sigmas;
    row.note = fig.note;
    row.tolerance =
        is_loss_metric(fig.metric) ? fig.tolerance : fig.rel_tolerance * std::abs(fig.value);

    std::vector<size_t> matched;
    IgnoredRuns not_usable;
    for (size_t r = 0; r < runs.size(); ++r) {
      bool all = true;
      for (auto& [f, v] : fig.match) {
        bool found = false;
        for (auto& [name, value] : fields[r])
          if (name == f) {
            found = value == v;
            break;
          }
        if (!found) {
          all = false;
          break;
        }
      }
      if (!all) continue;
      if (is_usable(*runs[r]))
        matched.push_back(r);
      else
        not_usable.count(*runs[r]);
    }
    // One config, any number of seeds: every other field must agree.
    std::set<std::string> differ;
    for (size_t k = 1; k < matched.size(); ++k) {
      const auto& a = fields[matched[0]];
      const auto& b = fields[matched[k]];
      for (size_t f = 0; f < a.size() && f < b.size(); ++f)
        if (!per_seed.count(a[f].first) && a[f].second != b[f].second) differ.insert(a[f].first);
    }
    std::vector<double> values;
    for (size_t r : matched) {
      double x = reference_metric_value(*runs[r], fig.metric);
      if (std::isfinite(x)) values.push_back(x), row.run_ids.push_back(runs[r]->run_id);
    }
    row.n = int64_t(values.size());
    row.mean = row.sd = row.min = row.max = row.diff = NAN;
    if (!differ.empty()) {
      row.verdict = "ambiguous";
      row.n = int64_t(matched.size());
      std::string names;
      for (auto& d : differ) names += (names.empty() ? "" : ", ") + d;
      row.why = std::to_string(matched.size()) +
                " matching runs differ in more than the seed: " + names +
                " (add them to the figure's match)";
    } else if (values.empty()) {
      row.verdict = "missing";
      if (!matched.empty())
        row.why = "the matching runs have no " + row.metric;
      else if (not_usable.total() > 0)
        row.why = std::to_string(not_usable.total()) + " matching runs, none usable (" +
                  std::to_string(not_usable.failed) + " failed, " +
                  std::to_string(not_usable.diverged) + " diverged, " +
                  std::to_string(not_usable.other) + " not finished, " +
                  std::to_string(not_usable.nonfinite_nll) + " non-finite NLL)";
      else
        row.why = "no run matches";
    } else {
      double sum = 0;
      for (double x : values) sum += x;
      row.mean = sum / double(values.size());
      row.min = *std::min_element(values.begin(), values.end());
      row.max = *std::max_element(values.begin(), values.end());
      if (values.size() >= 2) {
        double ss = 0;
        for (double x : values) ss += (x - row.mean) * (x - row.mean);
        row.sd = std::sqrt(ss / double(values.size() - 1));
      }
      row.diff = row.mean - row.reference;
      const double gap = std::abs(row.diff);
      // A hair of slack so that figures exactly at the tolerance (0.05 = 0.05 in decimal, not
      // in binary) count as within.
      const double eps = 1e-9 * std::max(1.0, std::abs(row.reference));
      if (gap <= row.tolerance + eps) {
        row.verdict = "within";
        row.why =
            "|diff| <= " + std::string(is_loss_metric(fig.metric) ? "" : "rel ") + "tolerance";
      } else if (values.size() >= 2 && gap <= row.sigmas * row.sd + eps) {
        row.verdict = "within";
        row.why = "inside mean +/- sigmas x sd";
      } else {
        row.verdict = "outside";
        row.why = values.size() < 2 ? "one seed: tolerance only" : "";
      }
    }
    (row.verdict == "within"    ? out.within
     : row.verdict == "outside" ? out.outside
     : row.verdict == "missing" ? out.missing
                                : out.ambiguous) += 1;
    out.rows.push_back(std::move(row));
  }
  return out;
}

}  // namespace tinyfront
