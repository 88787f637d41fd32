// The store's single-file writers (checkpoints, weights files, results files): one atomic-write
// mechanism that leaves no temporary file when a write fails, vocabularies stored as bytes, and
// the record codec shared by the journal and the MPI/report JSON.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>

#include "test_store_util.hpp"
#include "tinyfront/model/model.hpp"
#include "tinyfront/run/json_codec.hpp"
#include "tinyfront/run/record_json.hpp"
#include "tinyfront/store/checkpoint.hpp"
#include "tinyfront/store/results_file.hpp"
#include "tinyfront/store/weights.hpp"
#include "tinyfront/util/error.hpp"

#if __has_include(<hdf5.h>)
#include <hdf5.h>
#else
#include <hdf5/serial/hdf5.h>
#endif

namespace fs = std::filesystem;

namespace tinyfront {
namespace {

using store_test::expect_same_record;
using store_test::make_record;
using store_test::same_double;
using store_test::TempDir;

// Every file left in `dir` (names), to check that a failed write left nothing behind.
std::vector<std::string> files_in(const std::string& dir) {
  std::vector<std::string> out;
  for (auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

TrainState small_state() {
  TrainState s;
  s.step = 7;
  s.params = {1.0f, -2.5f, 3.25f};
  s.adam_m = {0.1f, 0.2f, 0.3f};
  s.adam_v = {0.01f, 0.02f, 0.03f};
  s.best_params = s.params;
  s.best_val = 1.25;
  s.curve.push_back({5, 640, 2.0, std::numeric_limits<double>::quiet_NaN(), 1e-3, 0.5});
  return s;
}

Weights small_weights(std::vector<std::string> tokens) {
  Weights w;
  w.config.model.arch = Arch::linear;
  w.config.model.d_model = 4;
  w.config.model.context = 4;
  w.config.model.vocab = int(tokens.size());
  w.vocab.kind = TokenizerKind::chars;
  w.vocab.tokens = std::move(tokens);
  w.params.resize(size_t(count_params(w.config.model)));
  for (size_t i = 0; i < w.params.size(); ++i) w.params[i] = float(i) * 0.5f - 3.0f;
  return w;
}

// The character set HDF5 records for /vocab of a weights file.
H5T_cset_t vocab_cset(const std::string& path) {
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  hid_t ds = H5Dopen2(f, "vocab", H5P_DEFAULT);
  hid_t t = H5Dget_type(ds);
  H5T_cset_t c = H5Tget_cset(t);
  H5Tclose(t);
  H5Dclose(ds);
  H5Fclose(f);
  return c;
}

TEST(StoreAtomicWrite, FailedCheckpointWriteLeavesNoTemporaryFile) {
  TempDir dir;
  // The final name is taken by a directory: the file is written whole under its temporary name,
  // then the rename fails. Before, checkpoint.tmp stayed behind.
  const std::string path = dir.file("run.ckpt");
  fs::create_directory(path);
  EXPECT_THROW(write_checkpoint_file(path, "r1", small_state()), Error);
  EXPECT_EQ(files_in(dir.path), std::vector<std::string>{"run.ckpt"});
  EXPECT_TRUE(fs::is_directory(path));
}

TEST(StoreAtomicWrite, FailedWeightsWriteLeavesNoTemporaryFile) {
  TempDir dir;
  const std::string path = dir.file("model.h5");
  fs::create_directory(path);
  EXPECT_THROW(write_weights(path, small_weights({"a", "b", "c"})), Error);
  EXPECT_EQ(files_in(dir.path), std::vector<std::string>{"model.h5"});
}

TEST(StoreAtomicWrite, FailedMergeLeavesNoTemporaryFile) {
  TempDir dir;
  const std::string in = dir.file("in.h5");
  {
    ResultsStore s = store_create(in, "spec");
    store_append(s, make_record(1));
    store_close(s);
  }
  // The output's directory does not exist: nothing may appear anywhere.
  const std::string out = dir.file("missing/out.h5");
  EXPECT_THROW(store_merge({in}, out), Error);
  EXPECT_EQ(files_in(dir.path), (std::vector<std::string>{"in.h5", "in.h5.journal"}));
}

TEST(StoreAtomicWrite, CheckpointRoundTripLeavesOnlyTheFile) {
  TempDir dir;
  const std::string path = dir.file("run.ckpt");
  write_checkpoint_file(path, "r1", small_state());
  write_checkpoint_file(path, "r1", small_state());  // replaces
  EXPECT_EQ(files_in(dir.path), std::vector<std::string>{"run.ckpt"});
  std::string id;
  TrainState s = read_checkpoint_file(path, &id);
  EXPECT_EQ(id, "r1");
  EXPECT_EQ(s.params, small_state().params);
  ASSERT_EQ(s.curve.size(), 1u);
  EXPECT_TRUE(std::isnan(s.curve[0].val_loss));
  EXPECT_EQ(s.curve[0].tokens, 640);
}

TEST(StoreVocabBytes, NonUtf8ByteVocabularyRoundTripsThroughWeights) {
  TempDir dir;
  // A character vocabulary of a UTF-8 corpus holds single bytes of multi-byte sequences.
  std::vector<std::string> tokens = {"a", "\xc3", "\xa9", "\xff", "\x80", "\n", "\xe2\x82"};
  const std::string path = dir.file("w.h5");
  write_weights(path, small_weights(tokens));
  Weights back = read_weights(path);
  EXPECT_EQ(back.vocab.tokens, tokens);
  EXPECT_EQ(back.params, small_weights(tokens).params);
  // Bytes that are not UTF-8 are not marked UTF-8 (h5py would fail to decode them).
  EXPECT_EQ(vocab_cset(path), H5T_CSET_ASCII);
}

TEST(StoreVocabBytes, Utf8VocabularyIsMarkedUtf8) {
  TempDir dir;
  std::vector<std::string> tokens = {"a", "\xc3\xa9", "\xe2\x82\xac", " "};
  const std::string path = dir.file("w.h5");
  write_weights(path, small_weights(tokens));
  EXPECT_EQ(read_weights(path).vocab.tokens, tokens);
  EXPECT_EQ(vocab_cset(path), H5T_CSET_UTF8);
}

TEST(StoreVocabBytes, OlderWeightsFileWithBytesMarkedUtf8StillReads) {
  // Weights files written before the one rule marked every vocabulary UTF-8, bytes or not.
  TempDir dir;
  std::vector<std::string> tokens = {"x", "\xc3", "\xa9", "\xff"};
  const std::string path = dir.file("w.h5");
  write_weights(path, small_weights(tokens));
  {
    hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    ASSERT_GE(H5Ldelete(f, "vocab", H5P_DEFAULT), 0);
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    hsize_t n = tokens.size();
    hid_t sp = H5Screate_simple(1, &n, nullptr);
    hid_t ds = H5Dcreate2(f, "vocab", t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    std::vector<const char*> ptrs;
    for (auto& s : tokens) ptrs.push_back(s.c_str());
    ASSERT_GE(H5Dwrite(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data()), 0);
    H5Dclose(ds);
    H5Sclose(sp);
    H5Tclose(t);
    H5Fclose(f);
  }
  ASSERT_EQ(vocab_cset(path), H5T_CSET_UTF8);
  EXPECT_EQ(read_weights(path).vocab.tokens, tokens);
}

TEST(StoreVocabBytes, NonUtf8ByteVocabularyRoundTripsThroughResultsFile) {
  TempDir dir;
  const std::string path = dir.file("r.h5");
  Vocabulary v;
  v.tokens = {"a", "\xc3", "\xa9", "\xff"};
  {
    ResultsStore s = store_create(path, "spec");
    store_put_vocab(s, "chars", v);
    EXPECT_EQ(store_read_vocab(path, "chars").tokens, v.tokens);  // from the journal
    store_close(s);
  }
  EXPECT_EQ(store_read_vocab(path, "chars").tokens, v.tokens);  // from the file
}

// ---- the record codec ----

RunRecord awkward_record() {
  RunRecord r = make_record(4, RunStatus::diverged);
  r.result.test_nll = std::numeric_limits<double>::quiet_NaN();
  r.result.test_ppl = std::numeric_limits<double>::infinity();
  r.result.test_bpc = -std::numeric_limits<double>::infinity();
  r.result.best_val_nll = -std::numeric_limits<double>::quiet_NaN();
  r.result.curve[1].train_loss = std::numeric_limits<double>::infinity();
  r.result.curve[2].seconds = std::numeric_limits<double>::quiet_NaN();
  r.result.message = "diverged in \xff\xfe bytes";  // not UTF-8
  r.host = "h\xe9te";                               // Latin-1, not UTF-8
  return r;
}

TEST(RecordCodec, RecordJsonRoundTripsNonFiniteAndBytes) {
  RunRecord r = awkward_record();
  // dump() must succeed (JSON text cannot hold the raw bytes) and parse back to the same record.
  std::string text = record_to_json(r).dump();
  RunRecord back = record_from_json(nlohmann::json::parse(text));
  expect_same_record(r, back, true);
  EXPECT_TRUE(std::isinf(back.result.test_ppl) && back.result.test_ppl > 0);
  EXPECT_TRUE(std::isinf(back.result.test_bpc) && back.result.test_bpc < 0);
  EXPECT_TRUE(std::signbit(back.result.best_val_nll));
  EXPECT_EQ(back.host, r.host);
  EXPECT_EQ(back.result.message, r.result.message);
}

TEST(RecordCodec, RecordJsonAndJournalEncodeTheCurveAlike) {
  RunRecord r = awkward_record();
  nlohmann::json via_record = nlohmann::json::parse(record_to_json(r).dump());
  EXPECT_EQ(via_record["result"]["curve"], curve_to_json(r.result.curve));
  EXPECT_EQ(via_record["result"]["test_ppl"], nlohmann::json({{"$f", "inf"}}));
  // And the journal of a results file holds the same curve text.
  TempDir dir;
  const std::string path = dir.file("r.h5");
  ResultsStore s = store_create(path, "spec", StoreOptions{0, 0});
  store_append(s, r);
  std::string journal = store_test::read_bytes(path + ".journal");
  EXPECT_NE(journal.find("\"curve\":" + curve_to_json(r.result.curve).dump()), std::string::npos)
      << journal;
  auto runs = store_read_runs(path, WithCurves::yes);
  ASSERT_EQ(runs.size(), 1u);
  expect_same_record(r, runs[0], true);
  store_close(s);
}

TEST(RecordCodec, OlderNullFormReadsAsNaN) {
  RunRecord r = make_record(2);
  nlohmann::json j = nlohmann::json::parse(record_to_json(r).dump());
  j["result"]["test_nll"] = nullptr;
  j["result"]["curve"][0][3] = nullptr;
  RunRecord back = record_from_json(j);
  EXPECT_TRUE(std::isnan(back.result.test_nll));
  EXPECT_TRUE(std::isnan(back.result.curve[0].val_loss));
  EXPECT_TRUE(same_double(back.result.test_ppl, r.result.test_ppl));
}

TEST(RecordCodec, ArmorIsExactAndOnlyWhereNeeded) {
  nlohmann::json plain = {{"x", 1.5}, {"s", "caf\xc3\xa9"}, {"a", {1, 2}}};
  EXPECT_EQ(armor(plain), plain);
  nlohmann::json odd = {{"x", std::numeric_limits<double>::quiet_NaN()}, {"s", "\xff"}};
  nlohmann::json a = armor(odd);
  EXPECT_EQ(a["x"], nlohmann::json({{"$f", "nan"}}));
  EXPECT_EQ(a["s"], nlohmann::json({{"$hex", "ff"}}));
  nlohmann::json back = unarmor(nlohmann::json::parse(a.dump()));
  EXPECT_TRUE(std::isnan(back["x"].get<double>()));
  EXPECT_EQ(back["s"], "\xff");
  EXPECT_THROW(unarmor(nlohmann::json({{"$f", "big"}})), Error);
}

}  // namespace
}  // namespace tinyfront
