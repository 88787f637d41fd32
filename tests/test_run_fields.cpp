// One run definition (include/tinyfront/run/fields.hpp): every encoding of a config is generated
// from the field table, so they agree, also on fields that do not apply to an architecture.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "test_store_util.hpp"
#include "tinyfront/analysis/run_table.hpp"
#include "tinyfront/run/config_json.hpp"
#include "tinyfront/run/fields.hpp"
#include "tinyfront/run/record_json.hpp"
#include "tinyfront/spec/job_spec.hpp"
#include "tinyfront/store/results_file.hpp"

using namespace tinyfront;
using store_test::TempDir;

namespace {

std::string field_value(const std::vector<std::pair<std::string, std::string>>& fields,
                        const std::string& name) {
  for (auto& [n, v] : fields)
    if (n == name) return v;
  ADD_FAILURE() << "no field " << name;
  return "";
}

// The value of one column of the only run of a `tinyfront export --csv` table.
std::string csv_value(const std::string& csv, const std::string& column) {
  std::istringstream in(csv);
  std::string header, row;
  std::getline(in, header);
  std::getline(in, row);
  // CSV cells: quoted cells (lists such as "[0.9,0.05,0.05]") may hold commas.
  auto split = [](const std::string& line) {
    std::vector<std::string> cells(1);
    bool quoted = false;
    for (size_t i = 0; i < line.size(); ++i) {
      const char ch = line[i];
      if (ch == '"' && quoted && i + 1 < line.size() && line[i + 1] == '"')
        cells.back() += '"', ++i;
      else if (ch == '"')
        quoted = !quoted;
      else if (ch == ',' && !quoted)
        cells.emplace_back();
      else
        cells.back() += ch;
    }
    return cells;
  };
  auto names = split(header), values = split(row);
  for (size_t i = 0; i < names.size() && i < values.size(); ++i)
    if (names[i] == column) return values[i];
  ADD_FAILURE() << "no column " << column << " in\n" << csv;
  return "";
}

const char* kArchNames[] = {"linear", "mlp", "attention", "transformer"};

}  // namespace

// sweeps/study.toml gives every model dropout 0.1; the linear model has none. The JSON, the run
// id, the analysis columns, the record codec and the results file must all say so alike (before
// the field table, config_to_json zeroed it and the analysis columns did not).
TEST(RunFields, DropoutOnEveryArchitectureAgreesInEveryEncoding) {
  TempDir dir;
  for (const char* arch : kArchNames) {
    SCOPED_TRACE(arch);
    // As a spec gives it.
    const std::string spec = dir.file(std::string(arch) + ".toml");
    std::ofstream(spec) << "[data]\npath = \"" << TINYFRONT_SOURCE_DIR
                        << "/data/tinyshakespeare.txt\"\n"
                        << "[model]\narch = \"" << arch << "\"\nd_model = 32\nheads = 2\n"
                        << "dropout = 0.1\n";
    const RunConfig c = load_job_spec(spec);
    const bool has_dropout = c.model.arch != Arch::linear;
    EXPECT_EQ(applies(Applies::not_linear, c), has_dropout);
    EXPECT_EQ(c.model.dropout, 0.1);  // the spec's value, as given
    EXPECT_EQ(field_value(config_fields_as_given(c), "model.dropout"), "0.1");

    // Normalised: 0.1 where dropout applies, 0 where it does not, in every encoding.
    const double expected = has_dropout ? 0.1 : 0.0;
    const std::string text = has_dropout ? "0.1" : "0";
    EXPECT_EQ(normalise(c).model.dropout, expected);
    const auto json = config_to_json(c);
    EXPECT_EQ(json["model"]["dropout"].get<double>(), expected);
    EXPECT_EQ(field_value(config_fields(c), "model.dropout"), text);
    const ConfigColumns cols = config_columns({&c});
    ASSERT_GE(cols.field("model.dropout"), 0);
    EXPECT_EQ(cols.value(cols.field("model.dropout"), 0), text);
    EXPECT_EQ(config_to_json(config_from_json(json)), json);

    // The run id: dropout makes another run only where it applies.
    RunConfig without = c;
    without.model.dropout = 0;
    EXPECT_EQ(run_id(c) == run_id(without), !has_dropout);
    EXPECT_EQ(run_id(c), run_id(normalise(c)));

    // The record codec (MPI messages, journals) and the results file.
    RunRecord r;
    r.config = c;
    r.run_id = run_id(c);
    r.result.status = RunStatus::done;
    EXPECT_EQ(config_to_json(record_from_json(record_to_json(r)).config), json);
    const std::string results = dir.file(std::string(arch) + ".h5");
    {
      ResultsStore s = store_create(results, "spec");
      store_append(s, r);
      store_close(s);
    }
    auto runs = store_read_runs(results);
    ASSERT_EQ(runs.size(), 1u);
    EXPECT_EQ(config_to_json(runs[0].config), json);
    EXPECT_EQ(field_value(config_fields(runs[0].config), "model.dropout"), text);
    std::ostringstream csv;
    store_export_csv(results, csv);
    EXPECT_EQ(std::stod(csv_value(csv.str(), "model.dropout")), expected);
  }
}

// The table is the one list of fields: the spec schema knows exactly the fields a spec may set,
// the JSON has every field in table order, and normalising twice changes nothing.
TEST(RunFields, TableDrivesSchemaJsonAndNormalisation) {
  RunConfig c;
  std::vector<std::string> table, settable;
  for_each_field(c, [&](const FieldInfo& f, const auto&, const auto&) {
    table.push_back(std::string(f.section) + "." + f.key);
    if (f.in_spec) settable.push_back(table.back());
  });
  std::vector<std::string> json_fields;
  const auto json = config_to_json(c);  // a local: items() of a temporary would dangle
  for (auto& [section, obj] : json.items())
    for (auto& [key, v] : obj.items()) json_fields.push_back(section + "." + key);
  EXPECT_EQ(json_fields, table);
  for (const auto& name : table)
    EXPECT_EQ(is_known_field(name),
              std::find(settable.begin(), settable.end(), name) != settable.end())
        << name;
  EXPECT_FALSE(is_known_field("model.head"));
  EXPECT_FALSE(is_known_field("train.budget"));  // set by a sweep's budget rule, not by a spec
  for (const char* arch : kArchNames) {
    RunConfig a;
    ASSERT_TRUE(parse_enum(arch, a.model.arch));
    a.model.dropout = 0.2, a.model.one_hot = true, a.model.positions = Positions::rope;
    a.train.schedule = Schedule::constant, a.data.eos = true;
    const RunConfig n = normalise(a);
    EXPECT_EQ(config_to_json(normalise(n)), config_to_json(n)) << arch;
    EXPECT_EQ(config_to_json(n), config_to_json(a)) << arch;
    EXPECT_FALSE(n.data.eos) << arch;              // chars: no end-of-line token
    EXPECT_EQ(n.train.min_lr_ratio, 0.0) << arch;  // constant schedule: no cosine floor
  }
}
