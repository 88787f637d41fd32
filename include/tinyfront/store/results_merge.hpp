// Merging results files (results_file.hpp), e.g. the shards of a sweep run on several clusters.
#pragma once

#include <string>
#include <vector>

namespace tinyfront {

// Writes a new file `out` holding the union of the inputs' runs and vocabularies. All inputs must
// have the same spec text. A run id present in several inputs keeps one record: status done
// over any other, then the earliest finished_at, then the smaller host name, then the earlier
// input. Fails if `out` exists.
void store_merge(const std::vector<std::string>& inputs, const std::string& out);

}  // namespace tinyfront
