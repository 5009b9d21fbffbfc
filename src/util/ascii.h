// ASCII case folding for protocol tokens (header names, schemes, host
// names), independent of the C locale.
#pragma once

#include <string>
#include <string_view>

namespace wharf {

inline std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

}  // namespace wharf
