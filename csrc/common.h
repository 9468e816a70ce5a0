// Shared basics: fixed-width types and check macros that throw (never abort),
// so every failure reaches Python as an exception with a readable message.
#pragma once

#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>

namespace mtl {

// A user-facing error (bad argument, bad data). Translated to ValueError.
struct InvalidArgument : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

// Training was interrupted on request (Ctrl-C). Translated to KeyboardInterrupt.
struct Cancelled : std::runtime_error {
  Cancelled() : std::runtime_error("training cancelled") {}
};

template <class... Parts>
std::string concat(const Parts&... parts) {
  std::ostringstream out;
  (out << ... << parts);
  return out.str();
}

}  // namespace mtl

#define MTL_CHECK(cond, ...)                                    \
  do {                                                          \
    if (!(cond)) throw ::mtl::InvalidArgument(::mtl::concat(__VA_ARGS__)); \
  } while (0)
