// ASCII helpers for protocol tokens (header names and values, schemes, host
// names), independent of the locale.
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

// `s` without leading and trailing ASCII white space (space, \t, \n, \v,
// \f, \r).
inline std::string_view TrimAsciiSpace(std::string_view s) {
  constexpr std::string_view kSpace = " \t\n\v\f\r";
  while (!s.empty() && kSpace.find(s.front()) != std::string_view::npos) s.remove_prefix(1);
  while (!s.empty() && kSpace.find(s.back()) != std::string_view::npos) s.remove_suffix(1);
  return s;
}

}  // namespace wharf
