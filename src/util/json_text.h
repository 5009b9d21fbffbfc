// JSON text that never throws.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace wharf {

// `j` as JSON text. A string that is not valid UTF-8 (from the environment,
// a config file, a file name, a user name) gets U+FFFD for its bad bytes,
// where nlohmann::json's plain dump() would throw.
inline std::string JsonText(const nlohmann::json& j, int indent = -1) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace wharf
