// The /runs table of the results schema (kResultsSchemaVersion): its columns, and conversions
// between a RunRecord, a row of cells, the packed bytes of an HDF5 compound row, and the JSON of a
// journal record (private to src/store).
//
// The columns are derived from config_to_json(RunConfig{}) (flattened to dotted names), so every
// resolved config field gets a column; the layout is a pure function of the code, hence the same
// for every file of a schema version. Changing config fields changes the layout: the golden
// column list in tests/test_store.cpp then fails, as a reminder to bump the schema version.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include "h5.hpp"
#include "tinyfront/data/corpus.hpp"
#include "tinyfront/run/record.hpp"

namespace tinyfront::layout {

enum class ColumnType { f64, i64, u64, i8, str };

struct Column {
  std::string name;  // "run_id", "model.arch", "test_nll", ...
  ColumnType type = ColumnType::f64;
  size_t width = 0;               // str: fixed size in bytes
  bool json_text = false;         // str holding the JSON text of an array (model.hidden, ...)
  bool from_config = false;       // a field of config_to_json
  std::vector<std::string> path;  // from_config: the keys, e.g. {"model", "arch"}
  size_t offset = 0;              // byte offset in a packed row
  size_t size() const;
};

struct Layout {
  std::vector<Column> columns;
  std::unordered_map<std::string, size_t> index;  // name -> column
  size_t row_size = 0;
  size_t find(const std::string& name) const;  // throws if unknown
};

// Schema 1's layout, built once.
const Layout& runs_layout();

// One value per column, in column order. Booleans are int64 0/1; json_text columns hold text.
using Cell = std::variant<int64_t, uint64_t, double, std::string>;
using Row = std::vector<Cell>;
constexpr size_t kRunId = 0, kStatus = 1;  // the first two columns

// Throws tinyfront::Error if the record cannot be stored: a bad run id (must be 1-16 characters
// of [0-9A-Za-z_-], as it names an HDF5 object) or a string with a NUL byte.
Row record_to_row(const RunRecord& rec);
RunRecord row_to_record(const Row& row);  // without the curve
const std::string& row_run_id(const Row& row);
const std::string& row_status(const Row& row);

// Journal encoding of a row: an object keyed by column name, values in the record codec
// (run/json_codec.hpp).
nlohmann::json row_to_json(const Row& row);
Row row_from_json(const nlohmann::json& j);  // throws if a column is missing or mistyped

// A string value longer than its column: the column holds a prefix (cut at a UTF-8 boundary)
// and /long_strings the whole value, so reading restores it exactly.
struct LongString {
  std::string run_id, column, value;
};

// Packs a row into `out` (row_size bytes); appends the strings that overflow their column.
void pack_row(const Row& row, char* out, std::vector<LongString>& overflow);
// Unpacks; values cut to their column width are restored by the caller from /long_strings.
Row unpack_row(const char* in);

// HDF5 compound types of a /runs row: the file type (little-endian standard types, packed) and
// the matching native memory type.
h5::Handle runs_file_type();
h5::Handle runs_memory_type();
// Memory type with only run_id and status, for fast scans (HDF5 matches members by name).
h5::Handle runs_summary_memory_type();
constexpr size_t kSummarySize = 32;  // run_id (16) + status (16)

// The /curves/<run_id> compound: step, tokens (int64) and the four float64 columns.
h5::Handle curve_file_type();
h5::Handle curve_memory_type();

// /long_strings: run_id (fixed 16), column (fixed 64), value (variable length).
struct LongStringMem {
  char run_id[16];
  char column[64];
  const char* value;
};
h5::Handle long_strings_file_type();
h5::Handle long_strings_memory_type();

}  // namespace tinyfront::layout
