// Loading a sweep spec: the file and its TOML tree, the grid read (sweep_grid.cpp) and expanded
// (sweep_expand.cpp) with the corpus sizes read here (the only corpus I/O); data keys and shards.
#include "tinyfront/spec/sweep_spec.hpp"

#include "sweep_grid.hpp"

#include <omp.h>
#include <toml++/toml.h>
#include <cstring>
#include <filesystem>
#include <set>
#include <unordered_set>

#include "tinyfront/data/corpus.hpp"
#include "tinyfront/run/config_json.hpp"
#include "tinyfront/util/files.hpp"

namespace fs = std::filesystem;

namespace tinyfront {

std::string data_key(const DataConfig& d) {
  // Asked for every run of a grid (a million of them), whose data configs are nearly always
  // the same few: the last answer is kept.
  thread_local DataConfig last;
  thread_local std::string key;
  if (key.empty() || !(d == last)) {
    RunConfig c;
    c.data = d;
    key = config_to_json(c)["data"].dump();
    last = d;
  }
  return key;
}

int shard_of(const std::string& id, int shard_count) {
  if (shard_count <= 1) return 0;
  return int(std::stoull(id, nullptr, 16) % uint64_t(shard_count));
}

bool in_shard(const std::string& id, int shard_index, int shard_count) {
  return shard_of(id, shard_count) == shard_index;
}

namespace {

// The sizes of a corpus: the corpus I/O of loading a spec (each distinct data config once).
CorpusInfo read_corpus_info(const DataConfig& data, const std::string& base_dir) {
  Corpus corpus = load_corpus(data, base_dir);
  return CorpusInfo{corpus.vocab.size(), int64_t(corpus.train.size()), int64_t(corpus.valid.size()),
                    int64_t(corpus.test.size())};
}

// The spec file's text and TOML tree.
void read_spec_file(const std::string& path, SweepSpec& spec, toml::table& root) {
  // A FIFO or a device must not block or flood the reader: only regular files are specs.
  if (auto problem = regular_file_problem(path); !problem.empty())
    throw SpecError({{path, 0, 0, "", problem}});
  try {
    spec.text = read_regular_file(path, "spec");
  } catch (const Error& e) {
    throw SpecError({{path, 0, 0, "", e.what()}});
  }
  try {
    root = toml::parse(spec.text, path);
  } catch (const toml::parse_error& e) {
    auto s = e.source();
    throw SpecError({{path, int(s.begin.line), int(s.begin.column), "",
                      "TOML syntax error: " + std::string(e.description())}});
  }
}

// Run ids: hashing a run's canonical JSON is most of the cost of a large grid, and each id is
// independent, so they are computed on a few threads; then duplicates are dropped in order.
void identify_runs(SweepSpec& spec) {
  spec.ids.resize(spec.runs.size());
  const int threads = std::max(1, std::min(8, omp_get_max_threads()));
#pragma omp parallel for num_threads(threads) schedule(static) if (spec.runs.size() > 10000)
  for (int64_t i = 0; i < int64_t(spec.runs.size()); ++i)
    spec.ids[size_t(i)] = run_id(spec.runs[size_t(i)]);
  std::unordered_set<std::string> seen_id;
  seen_id.reserve(spec.runs.size());
  size_t kept = 0;
  for (size_t i = 0; i < spec.runs.size(); ++i) {
    if (!seen_id.insert(spec.ids[i]).second) continue;
    if (kept != i) {
      spec.runs[kept] = std::move(spec.runs[i]);
      spec.ids[kept] = std::move(spec.ids[i]);
    }
    ++kept;
  }
  spec.runs.resize(kept);
  spec.ids.resize(kept);
}

}  // namespace

SweepSpec load_sweep_spec(const std::string& path, const std::vector<std::string>& overrides) {
  SweepSpec spec;
  spec.path = path;
  spec.base_dir = fs::path(path).parent_path().string();
  SweepGrid grid;
  grid.path = path;
  read_spec_file(path, spec, grid.root);
  read_sweep_grid(grid, overrides);
  spec.settings = grid.settings;

  // Each distinct corpus is loaded once: it must exist and be usable, and its sizes give the
  // budgets. A corpus that fails is one issue, and its runs are skipped.
  Issues issues;
  std::set<std::string> failed_corpora;
  auto corpus = [&](const DataConfig& data) -> const CorpusInfo* {
    const std::string key = data_key(data);
    auto found = spec.corpora.find(key);
    if (found == spec.corpora.end()) {
      try {
        found = spec.corpora.emplace(key, read_corpus_info(data, spec.base_dir)).first;
      } catch (const std::exception& e) {
        std::string reason = e.what();  // corpus errors start with the key: not twice
        for (const char* p : {"data.path: ", "data.path "})
          if (reason.rfind(p, 0) == 0) reason.erase(0, std::strlen(p));
        issues.push_back({path, 0, 0, "data.path", reason});
        failed_corpora.insert(key);
        found = spec.corpora.emplace(key, CorpusInfo{}).first;
      }
    }
    return failed_corpora.count(key) ? nullptr : &found->second;
  };
  expand_sweep_grid(grid, corpus, spec, issues);
  if (!issues.empty()) throw SpecError(issues);

  identify_runs(spec);
  if (spec.runs.empty()) throw SpecError({{path, 0, 0, "grid", "the grid expands to no runs"}});
  return spec;
}

}  // namespace tinyfront
