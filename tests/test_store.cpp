// Results store: schema, round trips, journal replay, refusal of bad files, merge, CSV, pandas.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <random>
#include <set>
#include <sstream>

#include "test_store_util.hpp"
#include "tinyfront/store/results_file.hpp"
#include "tinyfront/util/error.hpp"

#if __has_include(<hdf5.h>)
#include <hdf5.h>
#define TF_TEST_HAVE_HDF5 1
#elif __has_include(<hdf5/serial/hdf5.h>)
#include <hdf5/serial/hdf5.h>
#define TF_TEST_HAVE_HDF5 1
#else
#define TF_TEST_HAVE_HDF5 0
#endif

namespace tinyfront {
namespace {

using store_test::expect_same_record;
using store_test::make_record;
using store_test::read_bytes;
using store_test::TempDir;
using store_test::write_bytes;

const char* kSpec = "[sweep]\nname = \"store test\"\n[grid]\nmodel.d_model = [16, 32]\n";

// Expects `f` to throw tinyfront::Error whose message holds every one of `parts`.
template <class F>
void expect_error(F&& f, std::initializer_list<std::string> parts) {
  try {
    f();
    ADD_FAILURE() << "no exception";
  } catch (const Error& e) {
    for (auto& p : parts) {
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos)
          << "message '" << e.what() << "' lacks '" << p << "'";
    }
  }
}

// Records whose strings need quoting, escaping, or are longer than their columns, and a
// diverged run with non-finite numbers.
std::vector<RunRecord> tricky_records() {
  std::vector<RunRecord> v;
  RunRecord a = make_record(101);
  a.config.data.name = "shakespeare, \"quoted\" and 'single'";
  // 300 bytes with two-byte characters: longer than the 192-byte column, cut in a character.
  a.config.data.path = "/data/";
  while (a.config.data.path.size() < 300) a.config.data.path += "é/x";
  a.run_id = run_id(a.config);
  a.result.status = RunStatus::failed;
  a.result.message = "failed: \"bad\", value\nsecond line\twith tab; ";
  while (a.result.message.size() < 600) a.result.message += "more text, ";
  a.host = "host,with,commas";
  v.push_back(a);

  RunRecord d = make_record(102, RunStatus::diverged);
  d.config.train.diverge_loss = std::numeric_limits<double>::infinity();
  d.run_id = run_id(d.config);
  d.result.test_nll = std::numeric_limits<double>::quiet_NaN();
  d.result.test_ppl = std::numeric_limits<double>::infinity();
  d.result.best_val_nll = -std::numeric_limits<double>::infinity();
  d.result.message = "diverged: training loss nan at step 7";
  d.result.curve.push_back({70, 8960, std::numeric_limits<double>::quiet_NaN(),
                            std::numeric_limits<double>::infinity(), 1e-3, 3.5});
  v.push_back(d);

  RunRecord e = make_record(103);
  e.config.train.seed = std::numeric_limits<uint64_t>::max();
  e.run_id = run_id(e.config);
  e.result.curve.clear();  // a run without evaluations
  v.push_back(e);
  return v;
}

TEST(StoreSchema, ColumnsOfSchemaVersion2) {
  // The /runs layout of schema 2 (2 added data.max_tokens and model.init). If this fails because a
  // config or result field was added, removed or renamed, bump kResultsSchemaVersion and update
  // docs/results-schema.md.
  const std::vector<std::string> golden = {"run_id",
                                           "status",
                                           "data.name",
                                           "data.path",
                                           "data.tokenizer",
                                           "data.split",
                                           "data.eos",
                                           "data.vocab_from",
                                           "data.max_tokens",
                                           "model.arch",
                                           "model.context",
                                           "model.d_model",
                                           "model.one_hot",
                                           "model.hidden",
                                           "model.layers",
                                           "model.heads",
                                           "model.ff",
                                           "model.positions",
                                           "model.rope_base",
                                           "model.rope_style",
                                           "model.norm",
                                           "model.activation",
                                           "model.dropout",
                                           "model.init",
                                           "train.protocol",
                                           "train.epochs",
                                           "train.windows_per_epoch",
                                           "train.tokens",
                                           "train.batch",
                                           "train.lr",
                                           "train.beta1",
                                           "train.beta2",
                                           "train.eps",
                                           "train.weight_decay",
                                           "train.schedule",
                                           "train.warmup_steps",
                                           "train.min_lr_ratio",
                                           "train.grad_clip",
                                           "train.eval_windows",
                                           "train.eval_every",
                                           "train.patience",
                                           "train.restore_best",
                                           "train.seed",
                                           "train.threads",
                                           "train.diverge_loss",
                                           "train.budget",
                                           "model.vocab",
                                           "params",
                                           "params_non_embedding",
                                           "steps",
                                           "train_windows",
                                           "train_tokens",
                                           "train_targets",
                                           "flops_study",
                                           "flops_kaplan",
                                           "flops_exact",
                                           "best_val_nll",
                                           "best_val_step",
                                           "test_nll",
                                           "test_ppl",
                                           "test_bpc",
                                           "wall_seconds",
                                           "tokens_per_second",
                                           "message",
                                           "rank",
                                           "host",
                                           "started_at",
                                           "finished_at"};
  EXPECT_EQ(store_columns(), golden);
  EXPECT_EQ(kResultsSchemaVersion, 2);
}

TEST(StoreSchema, RunsCompoundTypeOfSchemaVersion2) {
#if TF_TEST_HAVE_HDF5
  // Types and widths too: a file of schema 2 must have exactly this /runs type.
  TempDir dir;
  const std::string path = dir.file("results.h5");
  ResultsStore s = store_create(path, kSpec);
  store_close(s);
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  hid_t ds = H5Dopen2(f, "runs", H5P_DEFAULT);
  hid_t t = H5Dget_type(ds);
  std::string layout;
  for (int i = 0; i < H5Tget_nmembers(t); ++i) {
    char* name = H5Tget_member_name(t, unsigned(i));
    hid_t m = H5Tget_member_type(t, unsigned(i));
    const char* cls = H5Tget_class(m) == H5T_STRING    ? "S"
                      : H5Tget_class(m) == H5T_FLOAT   ? "f"
                      : H5Tget_sign(m) == H5T_SGN_NONE ? "u"
                                                       : "i";
    layout += std::string(name) + ":" + cls + std::to_string(H5Tget_size(m)) + "@" +
              std::to_string(H5Tget_member_offset(t, unsigned(i))) + " ";
    H5free_memory(name);
    H5Tclose(m);
  }
  EXPECT_EQ(H5Tget_size(t), 1355u);
  H5Tclose(t);
  H5Dclose(ds);
  H5Fclose(f);
  EXPECT_EQ(layout,
            "run_id:S16@0 status:S16@16 data.name:S64@32 data.path:S192@96 "
            "data.tokenizer:S16@288 data.split:S64@304 data.eos:i1@368 data.vocab_from:S16@369 "
            "data.max_tokens:S64@385 "
            "model.arch:S16@449 model.context:i8@465 model.d_model:i8@473 model.one_hot:i1@481 "
            "model.hidden:S64@482 model.layers:i8@546 model.heads:i8@554 model.ff:i8@562 "
            "model.positions:S16@570 model.rope_base:f8@586 model.rope_style:S16@594 "
            "model.norm:S16@610 model.activation:S16@626 model.dropout:f8@642 model.init:S16@650 "
            "train.protocol:S16@666 train.epochs:i8@682 train.windows_per_epoch:i8@690 "
            "train.tokens:i8@698 train.batch:i8@706 train.lr:f8@714 train.beta1:f8@722 "
            "train.beta2:f8@730 train.eps:f8@738 train.weight_decay:f8@746 "
            "train.schedule:S16@754 train.warmup_steps:i8@770 train.min_lr_ratio:f8@778 "
            "train.grad_clip:f8@786 train.eval_windows:i8@794 train.eval_every:i8@802 "
            "train.patience:i8@810 train.restore_best:i1@818 train.seed:u8@819 "
            "train.threads:i8@827 train.diverge_loss:f8@835 train.budget:S32@843 "
            "model.vocab:i8@875 params:i8@883 params_non_embedding:i8@891 steps:i8@899 "
            "train_windows:i8@907 train_tokens:i8@915 train_targets:i8@923 flops_study:f8@931 "
            "flops_kaplan:f8@939 flops_exact:f8@947 best_val_nll:f8@955 best_val_step:i8@963 "
            "test_nll:f8@971 test_ppl:f8@979 test_bpc:f8@987 wall_seconds:f8@995 "
            "tokens_per_second:f8@1003 message:S256@1011 rank:i8@1267 host:S64@1275 "
            "started_at:f8@1339 finished_at:f8@1347 ");
#else
  GTEST_SKIP() << "hdf5.h not found by the test build (add HDF5_INCLUDE_DIRS to tinyfront_tests)";
#endif
}

TEST(StoreRoundTrip, EveryFieldThroughJournalAndFile) {
  TempDir dir;
  const std::string path = dir.file("results.h5");
  std::vector<RunRecord> recs;
  for (int i = 0; i < 7; ++i) recs.push_back(make_record(i));
  for (auto& r : tricky_records()) recs.push_back(r);

  StoreOptions opt;
  opt.fold_every_records = 4;  // some records folded into the file, the rest in the journal
  ResultsStore s = store_create(path, kSpec, opt);
  for (auto& r : recs) store_append(s, r);

  auto check = [&](const char* when) {
    SCOPED_TRACE(when);
    auto got = store_read_runs(path, WithCurves::yes);
    ASSERT_EQ(got.size(), recs.size());
    for (size_t i = 0; i < recs.size(); ++i) expect_same_record(recs[i], got[i], true);
    auto scan = store_scan(path);
    ASSERT_EQ(scan.size(), recs.size());
    for (size_t i = 0; i < recs.size(); ++i) {
      EXPECT_EQ(scan[i].run_id, recs[i].run_id);
      EXPECT_EQ(scan[i].status, recs[i].result.status);
    }
    auto curve = store_read_curve(path, recs[8].run_id);
    ASSERT_EQ(curve.size(), recs[8].result.curve.size());
    EXPECT_TRUE(std::isnan(curve.back().train_loss));
  };
  check("file + journal");
  EXPECT_EQ(store_run_count(s), int64_t(recs.size()));
  EXPECT_EQ(store_status(s, recs[8].run_id), RunStatus::diverged);
  EXPECT_EQ(store_status(s, "0000000000000000"), std::nullopt);
  store_close(s);
  check("after close");
  EXPECT_EQ(store_spec_text(path), kSpec);

  StoreInfo info = store_validate(path);
  EXPECT_EQ(info.schema_version, 2);
  EXPECT_EQ(info.runs, int64_t(recs.size()));
  EXPECT_EQ(info.journal_records, 0);
  EXPECT_FALSE(info.created_at.empty());
  EXPECT_EQ(info.created_at.back(), 'Z');
  EXPECT_TRUE(std::count(info.hosts.begin(), info.hosts.end(), "host,with,commas"));

  // Reopen for appending: everything still there, and more can be added.
  ResultsStore s2 = store_open(path, opt);
  EXPECT_EQ(store_spec_text(s2), kSpec);
  EXPECT_EQ(store_run_count(s2), int64_t(recs.size()));
  recs.push_back(make_record(50));
  store_append(s2, recs.back());
  store_close(s2);
  check("after reopen");
}

TEST(StoreRoundTrip, LaterStatusSupersedesEarlier) {
  TempDir dir;
  const std::string path = dir.file("results.h5");
  StoreOptions opt;
  opt.fold_every_records = 2;
  ResultsStore s = store_create(path, kSpec, opt);
  RunRecord other = make_record(1);
  RunRecord r = make_record(0, RunStatus::running);
  r.result.curve.clear();
  store_append(s, r);
  store_append(s, other);
  r.result.status = RunStatus::preempted;
  r.result.curve = {{10, 100, 2.0, 2.1, 1e-3, 1.0}};
  store_append(s, r);
  EXPECT_EQ(store_status(s, r.run_id), RunStatus::preempted);
  r.result.status = RunStatus::done;
  r.result.curve = make_record(0).result.curve;
  store_append(s, r);  // in the journal only (fold after 2 pending)
  EXPECT_EQ(store_status(s, r.run_id), RunStatus::done);

  auto got = store_read_runs(path, WithCurves::yes);
  ASSERT_EQ(got.size(), 2u);
  expect_same_record(r, got[0], true);  // first-recorded order, latest content
  expect_same_record(other, got[1], true);
  store_close(s);
  got = store_read_runs(path, WithCurves::yes);
  ASSERT_EQ(got.size(), 2u);
  expect_same_record(r, got[0], true);
}

TEST(StoreRoundTrip, Vocabularies) {
  TempDir dir;
  const std::string path = dir.file("results.h5");
  Vocabulary chars;
  chars.kind = TokenizerKind::chars;
  for (int ch : {int('\n'), int(' '), int('!'), int('A'), int('z'), 0xC3, 0xA9, 0xFF})
    chars.tokens.push_back(std::string(1, char(ch)));
  Vocabulary words;
  words.kind = TokenizerKind::words;
  words.tokens = {"the", "<unk>", "<eos>", "naïve", "a,b", "\"q\""};

  ResultsStore s = store_create(path, kSpec);
  store_put_vocab(s, "bytes corpus", chars);
  store_put_vocab(s, "wikitext-2", words);
  store_put_vocab(s, "wikitext-2", words);  // the same again: no-op
  Vocabulary other = words;
  other.tokens.push_back("extra");
  expect_error([&] { store_put_vocab(s, "wikitext-2", other); }, {"different vocabulary"});
  expect_error([&] { store_put_vocab(s, "a/b", words); }, {"cannot name"});

  auto check = [&] {
    Vocabulary c = store_read_vocab(path, "bytes corpus");
    EXPECT_EQ(c.kind, TokenizerKind::chars);
    EXPECT_EQ(c.tokens, chars.tokens);
    Vocabulary w = store_read_vocab(path, "wikitext-2");
    EXPECT_EQ(w.kind, TokenizerKind::words);
    EXPECT_EQ(w.tokens, words.tokens);
  };
  check();  // from the journal
  store_close(s);
  check();  // from the file
  EXPECT_EQ(store_validate(path).vocabularies,
            (std::vector<std::string>{"bytes corpus", "wikitext-2"}));
  ResultsStore s2 = store_open(path);
  store_put_vocab(s2, "wikitext-2", words);  // still a no-op after reopening
  expect_error([&] { store_put_vocab(s2, "wikitext-2", other); }, {"different vocabulary"});
  store_close(s2);
  expect_error([&] { store_read_vocab(path, "nope"); }, {path, "no vocabulary"});
}

TEST(StoreRoundTrip, RejectsUnstorableRecordsWithoutWriting) {
  TempDir dir;
  const std::string path = dir.file("results.h5");
  ResultsStore s = store_create(path, kSpec);
  RunRecord bad = make_record(0);
  bad.run_id = "../etc";
  expect_error([&] { store_append(s, bad); }, {"run id"});
  bad = make_record(0);
  bad.result.message = std::string("nul\0byte", 8);
  expect_error([&] { store_append(s, bad); }, {"NUL"});
  store_append(s, make_record(1));
  store_close(s);
  EXPECT_EQ(store_read_runs(path).size(), 1u);
}

TEST(StoreRoundTrip, GroupCommitIsOneWriteAllOrNothing) {
  TempDir dir;
  const std::string path = dir.file("results.h5");
  StoreOptions opt;
  opt.fold_every_records = 0;
  opt.fold_every_seconds = 0;
  std::vector<RunRecord> recs;
  {
    ResultsStore s = store_create(path, kSpec, opt);
    for (int i = 0; i < 5; ++i) recs.push_back(make_record(i));
    store_append_all(s, {recs[0], recs[1], recs[2]});
    store_append_all(s, {});  // nothing to store: no write
    // A group with an unstorable record is refused whole, before anything is written.
    RunRecord bad = make_record(9);
    bad.run_id = "../etc";
    const std::string before = read_bytes(path + ".journal");
    expect_error([&] { store_append_all(s, {recs[3], bad}); }, {"run id"});
    EXPECT_EQ(read_bytes(path + ".journal"), before);
    store_append_all(s, {recs[3], recs[4]});
    EXPECT_EQ(store_status(s, recs[4].run_id), RunStatus::done);
    EXPECT_EQ(store_run_count(s), 5);
    // Destroyed without store_close, as by a crash: the groups are durable in the journal.
  }
  auto got = store_read_runs(path, WithCurves::yes);
  ASSERT_EQ(got.size(), 5u);
  for (size_t i = 0; i < got.size(); ++i) expect_same_record(recs[i], got[i], true);
  EXPECT_EQ(store_validate(path).journal_records, 5);
}

TEST(StoreCreate, RefusesExistingFileOrJournal) {
  TempDir dir;
  const std::string path = dir.file("results.h5");
  write_bytes(path, "precious results");
  expect_error([&] { store_create(path, kSpec); }, {path, "already exists"});
  EXPECT_EQ(read_bytes(path), "precious results");

  const std::string p2 = dir.file("r2.h5");
  ResultsStore s = store_create(p2, kSpec);
  store_append(s, make_record(1));
  store_close(s);
  const std::string before = read_bytes(p2);
  expect_error([&] { store_create(p2, kSpec); }, {p2, "already exists"});
  EXPECT_EQ(read_bytes(p2), before);

  const std::string p3 = dir.file("r3.h5");
  write_bytes(p3 + ".journal", "left over");
  expect_error([&] { store_create(p3, kSpec); }, {p3 + ".journal", "journal exists"});
  EXPECT_EQ(read_bytes(p3 + ".journal"), "left over");
  EXPECT_FALSE(std::filesystem::exists(p3));
}

TEST(StoreOpen, SecondWriterIsRefused) {
  TempDir dir;
  const std::string path = dir.file("results.h5");
  ResultsStore s = store_create(path, kSpec);
  expect_error([&] { store_open(path); }, {"another process is writing"});
  store_close(s);
  ResultsStore s2 = store_open(path);  // free again
  store_close(s2);
}

// Opening, validating and reading must refuse a bad file and leave it byte-identical.
void expect_refused_untouched(const std::string& path, std::initializer_list<std::string> parts) {
  const std::string before = read_bytes(path);
  const bool had_journal = std::filesystem::exists(path + ".journal");
  const std::string jbefore = had_journal ? read_bytes(path + ".journal") : "";
  expect_error([&] { store_open(path); }, parts);
  expect_error([&] { store_validate(path); }, parts);
  expect_error([&] { store_read_runs(path); }, parts);
  expect_error([&] { store_scan(path); }, parts);
  expect_error([&] { store_spec_text(path); }, parts);
  std::ostringstream csv;
  expect_error([&] { store_export_csv(path, csv); }, parts);
  EXPECT_EQ(read_bytes(path), before) << path << " was modified";
  EXPECT_EQ(std::filesystem::exists(path + ".journal"), had_journal);
  if (had_journal) {
    EXPECT_EQ(read_bytes(path + ".journal"), jbefore);
  }
  EXPECT_FALSE(std::filesystem::exists(path + ".tinyfront-tmp"));
}

std::string make_valid_file(const TempDir& dir, const std::string& name, int runs) {
  const std::string path = dir.file(name);
  ResultsStore s = store_create(path, kSpec);
  for (int i = 0; i < runs; ++i) store_append(s, make_record(i));
  store_close(s);
  return path;
}

TEST(StoreOpen, RefusesTruncatedFile) {
  TempDir dir;
  const std::string path = make_valid_file(dir, "results.h5", 20);
  std::string bytes = read_bytes(path);
  for (size_t keep : {bytes.size() / 2, bytes.size() - 1, size_t(100), size_t(0)}) {
    SCOPED_TRACE("kept " + std::to_string(keep) + " bytes");
    write_bytes(path, bytes.substr(0, keep));
    expect_refused_untouched(path, {path});
  }
  write_bytes(path, bytes.substr(0, bytes.size() / 2));
  expect_refused_untouched(path, {path, "truncated"});
}

TEST(StoreOpen, RefusesRandomBytes) {
  TempDir dir;
  const std::string path = dir.file("random.h5");
  std::mt19937_64 rng(7);
  std::string bytes(100000, '\0');
  for (auto& b : bytes) b = char(rng());
  write_bytes(path, bytes);
  expect_refused_untouched(path, {path, "not an HDF5 file"});
}

TEST(StoreOpen, RefusesForeignJournal) {
  TempDir dir;
  const std::string a = make_valid_file(dir, "a.h5", 2);
  const std::string b = make_valid_file(dir, "b.h5", 2);
  {
    ResultsStore s = store_open(b);
    store_append(s, make_record(9));
    // not closed: the record stays in b's journal
  }
  std::filesystem::copy_file(b + ".journal", a + ".journal",
                             std::filesystem::copy_options::overwrite_existing);
  expect_refused_untouched(a, {a + ".journal", "another results file"});
}

#if TF_TEST_HAVE_HDF5
void set_int_attr(const std::string& path, const char* name, int64_t value) {
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  H5Adelete(f, name);
  hid_t space = H5Screate(H5S_SCALAR);
  hid_t a = H5Acreate2(f, name, H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT_GE(a, 0);
  H5Awrite(a, H5T_NATIVE_INT64, &value);
  H5Aclose(a);
  H5Sclose(space);
  H5Fclose(f);
}
#endif

TEST(StoreOpen, RefusesOtherSchemaVersion) {
#if TF_TEST_HAVE_HDF5
  TempDir dir;
  const std::string path = make_valid_file(dir, "results.h5", 3);
  set_int_attr(path, "schema_version", 1);
  expect_refused_untouched(path, {path, "schema version 1", "reads schema version 2"});
#else
  GTEST_SKIP() << "hdf5.h not found by the test build (add HDF5_INCLUDE_DIRS to tinyfront_tests)";
#endif
}

TEST(StoreOpen, RefusesHdf5FileThatIsNotTinyfront) {
#if TF_TEST_HAVE_HDF5
  TempDir dir;
  const std::string path = dir.file("other.h5");
  hid_t f = H5Fcreate(path.c_str(), H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  hsize_t dims[1] = {4};
  hid_t space = H5Screate_simple(1, dims, nullptr);
  hid_t ds = H5Dcreate2(f, "runs", H5T_STD_I32LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  int data[4] = {1, 2, 3, 4};
  H5Dwrite(ds, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
  H5Dclose(ds);
  H5Sclose(space);
  H5Fclose(f);
  expect_refused_untouched(path, {path, "not a tinyfront results file", "'format'"});
#else
  GTEST_SKIP() << "hdf5.h not found by the test build (add HDF5_INCLUDE_DIRS to tinyfront_tests)";
#endif
}

TEST(StoreJournal, TornLastRecordIsIgnored) {
  TempDir dir;
  const std::string path = dir.file("results.h5");
  StoreOptions opt;
  opt.fold_every_records = 0;
  opt.fold_every_seconds = 0;
  std::vector<RunRecord> recs;
  {
    ResultsStore s = store_create(path, kSpec, opt);
    for (int i = 0; i < 3; ++i) {
      recs.push_back(make_record(i));
      store_append(s, recs.back());
    }
    // Destroyed without store_close, as by a crash: the records are only in the journal.
  }
  // A record cut short (as by a kill in the middle of its write), and one with a bad checksum.
  const std::string journal = read_bytes(path + ".journal");
  const size_t last = journal.rfind('\n', journal.size() - 2) + 1;
  for (const std::string& tail : {journal.substr(last, (journal.size() - last) / 2),
                                  std::string("12 00000000 {\"type\":1}\n")}) {
    write_bytes(path + ".journal", journal + tail);
    auto got = store_read_runs(path);
    ASSERT_EQ(got.size(), 3u);
    StoreInfo info = store_validate(path);
    EXPECT_TRUE(info.journal_torn_tail);
    EXPECT_EQ(info.journal_records, 3);
  }
  ResultsStore s = store_open(path, opt);
  recs.push_back(make_record(3));
  store_append(s, recs.back());  // must not end up hidden behind the torn bytes
  s = ResultsStore();            // "crash" again
  auto got = store_read_runs(path, WithCurves::yes);
  ASSERT_EQ(got.size(), 4u);
  for (size_t i = 0; i < got.size(); ++i) expect_same_record(recs[i], got[i], true);
}

TEST(StoreJournal, StaleJournalAfterFoldIsNotReplayedTwice) {
  // A crash between renaming the new snapshot and the new journal leaves the old journal, whose
  // records are already in the file.
  TempDir dir;
  const std::string path = dir.file("results.h5");
  StoreOptions opt;
  opt.fold_every_records = 0;
  ResultsStore s = store_create(path, kSpec, opt);
  RunRecord r = make_record(0, RunStatus::running);
  store_append(s, r);
  store_append(s, make_record(1));
  const std::string old_journal = read_bytes(path + ".journal");
  store_close(s);
  // Later, the run finished and was folded again.
  ResultsStore s2 = store_open(path, opt);
  r.result.status = RunStatus::done;
  store_append(s2, r);
  store_close(s2);
  write_bytes(path + ".journal", old_journal);  // the stale journal says "running"

  auto got = store_read_runs(path);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].result.status, RunStatus::done);
  EXPECT_EQ(store_validate(path).journal_records, 0);
  ResultsStore s3 = store_open(path, opt);
  EXPECT_EQ(store_status(s3, r.run_id), RunStatus::done);
  store_append(s3, make_record(2));
  store_close(s3);
  EXPECT_EQ(store_read_runs(path).size(), 3u);
}

TEST(StoreJournal, MissingJournalMeansNothingPending) {
  TempDir dir;
  const std::string path = make_valid_file(dir, "results.h5", 4);
  std::filesystem::remove(path + ".journal");
  EXPECT_EQ(store_read_runs(path).size(), 4u);
  ResultsStore s = store_open(path);
  store_append(s, make_record(4));
  store_close(s);
  EXPECT_EQ(store_read_runs(path).size(), 5u);
}

TEST(StoreMerge, UnionWithDeterministicDuplicates) {
  TempDir dir;
  const std::string a = dir.file("a.h5"), b = dir.file("b.h5"), out = dir.file("merged.h5");
  Vocabulary voc;
  voc.tokens = {"a", "b"};

  // Shared run 0: done in b only. Shared run 1: done in both, earlier in a. Shared run 2:
  // failed in both at the same time, host "node-a" < "node-b".
  RunRecord r0a = make_record(0, RunStatus::preempted), r0b = make_record(0);
  RunRecord r1a = make_record(1), r1b = make_record(1);
  r1a.finished_at = 100, r1b.finished_at = 200;
  r1b.result.test_nll = 9;
  RunRecord r2a = make_record(2, RunStatus::failed), r2b = make_record(2, RunStatus::failed);
  r2a.host = "node-b", r2b.host = "node-a";
  r2a.finished_at = r2b.finished_at = 5;

  ResultsStore sa = store_create(a, kSpec);
  for (auto& r : {r0a, r1a, r2a, make_record(10), make_record(11)}) store_append(sa, r);
  store_put_vocab(sa, "corpus", voc);
  store_close(sa);
  ResultsStore sb = store_create(b, kSpec);
  for (auto& r : {make_record(20), r0b, r1b, r2b}) store_append(sb, r);
  store_put_vocab(sb, "corpus", voc);
  // b's last records stay in its journal: merge must read them too.
  sb = ResultsStore();

  store_merge({a, b}, out);
  auto got = store_read_runs(out, WithCurves::yes);
  ASSERT_EQ(got.size(), 6u);
  std::vector<std::string> ids;
  for (auto& r : got) ids.push_back(r.run_id);
  EXPECT_EQ(ids,
            (std::vector<std::string>{r0a.run_id, r1a.run_id, r2a.run_id, make_record(10).run_id,
                                      make_record(11).run_id, make_record(20).run_id}));
  expect_same_record(r0b, got[0], true);
  expect_same_record(r1a, got[1], true);
  expect_same_record(r2b, got[2], true);
  EXPECT_EQ(store_read_vocab(out, "corpus").tokens, voc.tokens);
  EXPECT_EQ(store_spec_text(out), kSpec);

  // The result does not depend on the order of the inputs (except for first-recorded order).
  const std::string out2 = dir.file("merged2.h5");
  store_merge({b, a}, out2);
  auto got2 = store_read_runs(out2);
  ASSERT_EQ(got2.size(), 6u);
  for (auto& r : got2) {
    auto it = std::find_if(got.begin(), got.end(), [&](auto& x) { return x.run_id == r.run_id; });
    ASSERT_NE(it, got.end());
    expect_same_record(*it, r, false);
  }

  expect_error([&] { store_merge({a, b}, out); }, {out, "already exists"});
  const std::string c = dir.file("c.h5");
  ResultsStore sc = store_create(c, "another spec");
  store_close(sc);
  expect_error([&] { store_merge({a, c}, dir.file("m3.h5")); }, {c, "spec"});
  EXPECT_FALSE(std::filesystem::exists(dir.file("m3.h5")));
}

TEST(StoreCsv, ExportQuotesAndKeepsFullValues) {
  TempDir dir;
  const std::string path = dir.file("results.h5");
  auto recs = tricky_records();
  ResultsStore s = store_create(path, kSpec);
  for (auto& r : recs) store_append(s, r);
  store_close(s);
  std::ostringstream csv;
  store_export_csv(path, csv);
  std::string text = csv.str();
  EXPECT_EQ(text.rfind("run_id,status,data.name,", 0), 0u);
  EXPECT_NE(text.find("\"shakespeare, \"\"quoted\"\" and 'single'\""), std::string::npos);
  EXPECT_NE(text.find(recs[0].config.data.path), std::string::npos);  // not cut at 192 bytes
  EXPECT_NE(text.find(",nan,inf,"), std::string::npos);               // test_nll, test_ppl
  EXPECT_NE(text.find("\"[35,64]\""), std::string::npos);             // model.hidden (mlp)
}

TEST(StorePython, PandasReadsRunsTable) {
  // The first python3 on PATH may be a virtualenv without h5py; the system one often has it.
  std::string python;
  for (const char* p : {"python3", "/usr/bin/python3"})
    if (std::system((std::string(p) + " -c 'import h5py, pandas' >/dev/null 2>&1").c_str()) == 0) {
      python = p;
      break;
    }
  if (python.empty())
    GTEST_SKIP() << "no python3 with h5py and pandas (python3 -c 'import h5py, pandas' failed, "
                    "also /usr/bin/python3); skipping the pandas interoperability check";
  TempDir dir;
  const std::string path = dir.file("results.h5");
  ResultsStore s = store_create(path, kSpec);
  for (int i = 0; i < 4; ++i) store_append(s, make_record(i));
  for (auto& r : tricky_records()) store_append(s, r);
  store_close(s);
  const std::string script =
      "import sys, math, h5py, pandas as pd\n"
      "f = h5py.File(sys.argv[1], 'r')\n"
      "df = pd.DataFrame(f['runs'][:])\n"
      "assert len(df) == 7, len(df)\n"
      "assert df['model.arch'][0].decode() == 'linear', df['model.arch'][0]\n"
      "assert df['status'][4].decode() == 'failed'\n"
      "assert df['train.seed'].dtype == 'uint64' and df['train.seed'][6] == 2**64 - 1\n"
      "assert df['data.eos'].dtype == 'int8'\n"
      "assert math.isnan(df['test_nll'][5])\n"
      "assert df['params'][3] == 1003\n"
      "assert f.attrs['format'] == 'tinyfront-results' and f.attrs['schema_version'] == 2\n"
      "c = pd.DataFrame(f['curves'][df['run_id'][0].decode()][:])\n"
      "assert list(c.columns) == ['step','tokens','train_loss','val_loss','lr','seconds']\n"
      "assert f['vocab'] is not None\n";
  const std::string script_path = dir.file("check.py");
  store_test::write_bytes(script_path, script);
  // Run as python3 -c, as an analysis notebook would.
  const std::string cmd =
      python + " -c \"exec(open('" + script_path + "').read())\" '" + path + "'";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << "the pandas check failed: " << cmd;
  if (std::system("h5dump --version >/dev/null 2>&1") == 0) {
    EXPECT_EQ(std::system(("h5dump -H '" + path + "' >/dev/null").c_str()), 0);
  }
}

}  // namespace
}  // namespace tinyfront
