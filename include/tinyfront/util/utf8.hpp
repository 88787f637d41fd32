// UTF-8 validity: spec values (TOML, JSON in results files) are text, while paths are bytes.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace tinyfront {

// The byte offset of the first byte that is not part of valid UTF-8 (overlong forms, surrogates
// and code points above U+10FFFF are invalid, as in JSON and TOML), or npos if `s` is valid.
size_t invalid_utf8_offset(std::string_view s);

// "" if `s` is valid UTF-8, else e.g. "not valid UTF-8 (byte 0xe9 at offset 3)".
std::string utf8_problem(std::string_view s);

}  // namespace tinyfront
