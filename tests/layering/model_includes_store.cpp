// Deliberately wrong, never part of the build: a file of the model module that includes a store
// header. The test "Layering.BuildRejectsUpwardInclude" builds it against tinyfront::model and
// expects the compiler to fail to find the header (model sees util and model headers only).
#include "tinyfront/model/config.hpp"
#include "tinyfront/store/results_file.hpp"

int main() {
  return tinyfront::kResultsSchemaVersion;
}
