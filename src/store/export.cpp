// CSV export of a results file: one row per run (its latest record), every column, full values.
#include <charconv>
#include <cmath>
#include <ostream>

#include "layout.hpp"
#include "tinyfront/store/results_export.hpp"
#include "tinyfront/util/csv.hpp"
#include "tinyfront/util/error.hpp"
#include "view.hpp"

namespace tinyfront {

namespace {

// A cell as a CSV field: full strings (quoted when they hold a comma, quote or line break),
// shortest round-trip decimal for floats, nan/inf for non-finite.
std::string csv_field(const layout::Column& c, const layout::Cell& v) {
  using layout::ColumnType;
  switch (c.type) {
    case ColumnType::f64: {
      double d = std::get<double>(v);
      if (std::isnan(d)) return "nan";
      if (std::isinf(d)) return d < 0 ? "-inf" : "inf";
      char buf[64];
      auto r = std::to_chars(buf, buf + sizeof buf, d);  // shortest text that reads back exactly
      return std::string(buf, r.ptr);
    }
    case ColumnType::i64:
    case ColumnType::i8:
      return std::to_string(std::get<int64_t>(v));
    case ColumnType::u64:
      return std::to_string(std::get<uint64_t>(v));
    case ColumnType::str:
      return csv_quote(std::get<std::string>(v));
  }
  return "";
}

}  // namespace

void store_export_csv(const std::string& path, std::ostream& out) {
  view::View v = view::open_view(path);
  const auto& L = layout::runs_layout();
  for (size_t i = 0; i < L.columns.size(); ++i) out << (i ? "," : "") << L.columns[i].name;
  out << '\n';
  view::for_each_latest(v, [&](const layout::Row& row, const std::vector<CurvePoint>*) {
    for (size_t i = 0; i < L.columns.size(); ++i)
      out << (i ? "," : "") << csv_field(L.columns[i], row[i]);
    out << '\n';
  });
  if (!out) throw Error(path + ": writing the CSV export failed");
}

std::vector<std::string> store_columns() {
  std::vector<std::string> names;
  for (auto& c : layout::runs_layout().columns) names.push_back(c.name);
  return names;
}

}  // namespace tinyfront
