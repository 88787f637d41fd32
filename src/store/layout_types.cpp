// The HDF5 compound types of the results schema's tables: /runs (from the column layout),
// /curves/<run_id> and /long_strings.
#include <cstddef>

#include "layout.hpp"

namespace tinyfront::layout {

namespace {
h5::Handle compound(size_t size) {
  return h5::compound_type(size);
}

h5::Handle runs_type(bool file) {
  const Layout& L = runs_layout();
  h5::Handle t = compound(L.row_size);
  for (const Column& c : L.columns) {
    hid_t base = -1;
    h5::Handle str;
    switch (c.type) {
      case ColumnType::f64:
        base = file ? h5::file_f64() : h5::native_type<double>();
        break;
      case ColumnType::i64:
        base = file ? h5::file_i64() : h5::native_type<int64_t>();
        break;
      case ColumnType::u64:
        base = file ? h5::file_u64() : h5::native_type<uint64_t>();
        break;
      case ColumnType::i8:
        base = file ? h5::file_i8() : h5::native_type<int8_t>();
        break;
      case ColumnType::str:
        str = h5::fixed_string_type(c.width);
        base = str;
        break;
    }
    h5::add_member(t, c.name, c.offset, base);
  }
  return t;
}
}  // namespace

h5::Handle runs_file_type() {
  return runs_type(true);
}
h5::Handle runs_memory_type() {
  return runs_type(false);
}

h5::Handle runs_summary_memory_type() {
  h5::Handle t = compound(kSummarySize);
  h5::Handle s = h5::fixed_string_type(16);
  h5::add_member(t, "run_id", 0, s);
  h5::add_member(t, "status", 16, s);
  return t;
}

namespace {
h5::Handle curve_type(bool file) {
  static_assert(sizeof(CurvePoint) == 48, "CurvePoint is written to HDF5 as is");
  h5::Handle t = compound(sizeof(CurvePoint));
  hid_t i = file ? h5::file_i64() : h5::native_type<int64_t>();
  hid_t f = file ? h5::file_f64() : h5::native_type<double>();
  h5::add_member(t, "step", offsetof(CurvePoint, step), i);
  h5::add_member(t, "tokens", offsetof(CurvePoint, tokens), i);
  h5::add_member(t, "train_loss", offsetof(CurvePoint, train_loss), f);
  h5::add_member(t, "val_loss", offsetof(CurvePoint, val_loss), f);
  h5::add_member(t, "lr", offsetof(CurvePoint, lr), f);
  h5::add_member(t, "seconds", offsetof(CurvePoint, seconds), f);
  return t;
}

h5::Handle long_strings_type() {
  h5::Handle t = compound(sizeof(LongStringMem));
  h5::Handle id = h5::fixed_string_type(16), col = h5::fixed_string_type(64);
  h5::Handle val = h5::vlen_string_type();
  h5::add_member(t, "run_id", offsetof(LongStringMem, run_id), id);
  h5::add_member(t, "column", offsetof(LongStringMem, column), col);
  h5::add_member(t, "value", offsetof(LongStringMem, value), val);
  return t;
}
}  // namespace

h5::Handle curve_file_type() {
  return curve_type(true);
}
h5::Handle curve_memory_type() {
  return curve_type(false);
}
h5::Handle long_strings_file_type() {
  return long_strings_type();
}
h5::Handle long_strings_memory_type() {
  return long_strings_type();
}

}  // namespace tinyfront::layout
