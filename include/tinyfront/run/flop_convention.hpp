// How a run's training FLOPs are counted. Every run records all three (TrainResult::flops_*;
// the formulas are in model/flops.hpp); a sweep's limits and iso-FLOP budgets, and the analysis's
// headline tables, each name one of them.
//   study  : 2 x P x window tokens        (the study's; P = all parameters)
//   kaplan : 6 x N x predicted tokens     (Kaplan et al.'s "6ND"; N = non-embedding parameters)
//   exact  : the FLOPs this implementation performs in forward and backward
#pragma once

#include <array>

#include "tinyfront/util/enum_names.hpp"

namespace tinyfront {

enum class FlopConvention { study, kaplan, exact };
constexpr auto enum_names(FlopConvention) {
  return std::to_array<EnumName<FlopConvention>>({{FlopConvention::study, "study"},
                                                  {FlopConvention::kaplan, "kaplan"},
                                                  {FlopConvention::exact, "exact"}});
}
constexpr std::array<FlopConvention, 3> kFlopConventions{
    FlopConvention::study, FlopConvention::kaplan, FlopConvention::exact};

}  // namespace tinyfront
