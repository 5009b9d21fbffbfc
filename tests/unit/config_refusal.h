// A check shared by the tests of config keys: bad input is refused with a
// message that names the key and says what is wrong.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "config/config.h"

namespace wharf {

// `file` (a JSON config) must be refused, the message naming `key` and
// containing `says`.
inline void ExpectConfigRefused(const std::string& file, const std::string& key, const std::string& says) {
  Config c;
  Status st = ApplyJson(file, "f", &c);
  ASSERT_FALSE(st.ok()) << file;
  EXPECT_NE(st.message().find(key), std::string::npos) << st.message();
  EXPECT_NE(st.message().find(says), std::string::npos) << st.message();
}

}  // namespace wharf
