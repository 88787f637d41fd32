// consumer RESULTS.h5 SPEC.toml [section.key=value ...]: reads a results file with the installed
// store module, expands the sweep spec with the installed spec module, and checks that every stored
// run is a run of the spec whose id, recomputed from its stored config, is the stored id. Prints
// one line; exit 1 on any mismatch.
#include <cstdio>
#include <exception>
#include <set>

#include "tinyfront/run/config_json.hpp"
#include "tinyfront/spec/sweep_spec.hpp"
#include "tinyfront/store/results_file.hpp"
#include "tinyfront/version.hpp"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: consumer RESULTS.h5 SPEC.toml [section.key=value ...]\n");
    return 2;
  }
  try {
    const std::vector<tinyfront::RunRecord> runs = tinyfront::store_read_runs(argv[1]);
    const std::vector<std::string> overrides(argv + 3, argv + argc);  // as the sweep's --set
    const tinyfront::SweepSpec spec = tinyfront::load_sweep_spec(argv[2], overrides);
    std::set<std::string> ids;
    for (const auto& c : spec.runs) ids.insert(tinyfront::run_id(c));
    int bad = 0;
    for (const auto& r : runs)
      if (tinyfront::run_id(r.config) != r.run_id || !ids.count(r.run_id)) {
        std::fprintf(stderr, "run %s: not a run of %s\n", r.run_id.c_str(), argv[2]);
        ++bad;
      }
    std::printf("consumer (tinyfront %s): %zu runs in %s, %zu in the spec, %d mismatched\n",
                TINYFRONT_VERSION, runs.size(), argv[1], spec.runs.size(), bad);
    return bad ? 1 : 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "consumer: %s\n", e.what());
    return 1;
  }
}
