// CSV fields (RFC 4180): the one quoting rule of every CSV tinyfront writes (the results export,
// the analysis report's tables).
#pragma once

#include <string>

namespace tinyfront {

// `field` as is, or quoted (with quotes doubled) when it holds a comma, quote or line break.
std::string csv_quote(const std::string& field);

}  // namespace tinyfront
