// Every named enum: its one table (util/enum_names.hpp) round-trips, names are unique, unknown
// names are refused, and the spec's error messages list the table's names.
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <string>

#include "tinyfront/analysis/reference.hpp"
#include "tinyfront/analysis/run_table.hpp"
#include "tinyfront/data/corpus.hpp"
#include "tinyfront/model/config.hpp"
#include "tinyfront/run/config.hpp"
#include "tinyfront/run/flop_convention.hpp"
#include "tinyfront/run/result.hpp"
#include "tinyfront/spec/job_spec.hpp"
#include "tinyfront/util/enum_names.hpp"

namespace tinyfront {
namespace {

template <typename E>
void expect_table_round_trips(size_t expected_size) {
  const auto table = enum_names(E{});
  EXPECT_EQ(table.size(), expected_size);
  std::set<std::string> seen;
  for (const auto& e : table) {
    EXPECT_TRUE(seen.insert(e.name).second) << "duplicate name " << e.name;
    EXPECT_STREQ(to_string(e.value), e.name);
    E parsed = table[table.size() - 1 - (&e - table.data())].value;  // anything but e.value
    ASSERT_TRUE(parse_enum(std::string(e.name), parsed)) << e.name;
    EXPECT_EQ(parsed, e.value);
  }
  E untouched = table[0].value;
  EXPECT_FALSE(parse_enum("no-such-name", untouched));
  EXPECT_EQ(untouched, table[0].value);
  EXPECT_FALSE(parse_enum("", untouched));
  // A value outside the table (only a cast makes one) has no name.
  EXPECT_STREQ(to_string(static_cast<E>(1000)), "?");
}

TEST(EnumNames, EveryTableRoundTripsWithUniqueNames) {
  expect_table_round_trips<Arch>(4);
  expect_table_round_trips<Positions>(3);
  expect_table_round_trips<RopeStyle>(2);
  expect_table_round_trips<Norm>(2);
  expect_table_round_trips<Activation>(3);
  expect_table_round_trips<Init>(2);
  expect_table_round_trips<Protocol>(2);
  expect_table_round_trips<TokenizerKind>(2);
  expect_table_round_trips<Schedule>(2);
  expect_table_round_trips<RunStatus>(6);
  expect_table_round_trips<ReferenceMetric>(11);
  expect_table_round_trips<FlopConvention>(3);
  expect_table_round_trips<CostAxis>(4);
}

TEST(EnumNames, NamesAreTheOnesStoredInResultsFiles) {
  // These strings are in users' results files and specs: they must never change.
  EXPECT_EQ(enum_choices<Arch>(), "linear, mlp, attention, transformer");
  EXPECT_EQ(enum_choices<Activation>(), "relu, gelu, gelu_tanh");
  EXPECT_EQ(enum_choices<RunStatus>(), "pending, running, done, diverged, failed, preempted");
  EXPECT_EQ(enum_choices<Positions>(), "learned, rope, none");
  EXPECT_EQ(enum_choices<TokenizerKind>(), "chars, words");
  EXPECT_EQ(enum_choices<FlopConvention>(), "study, kaplan, exact");
  // Each FLOP convention has its frontier axis, named as reports and CSVs name it.
  for (FlopConvention c : kFlopConventions)
    EXPECT_EQ(std::string(to_string(flops_axis(c))), std::string("flops_") + to_string(c));
}

TEST(EnumNames, SpecErrorListsTheTablesNames) {
  const std::string path = ::testing::TempDir() + "/enum_names_spec.toml";
  {
    std::ofstream f(path);
    f << "[data]\npath = \"" << TINYFRONT_SOURCE_DIR << "/data/tinyshakespeare.txt\"\n"
      << "[model]\narch = \"transformer\"\nactivation = \"swish\"\n";
  }
  try {
    load_job_spec(path);
    FAIL() << "an unknown activation was accepted";
  } catch (const SpecError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("model.activation"), std::string::npos) << what;
    EXPECT_NE(what.find("\"swish\""), std::string::npos) << what;
    EXPECT_NE(what.find("relu, gelu, gelu_tanh"), std::string::npos) << what;
  }
}

}  // namespace
}  // namespace tinyfront
