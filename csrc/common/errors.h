#pragma once
// Exceptions thrown by C++ validation. The bindings translate them to Python's
// ValueError / TypeError / RuntimeError, so every message must name the function,
// the argument, what was expected and what was got.
#include <sstream>
#include <stdexcept>
#include <string>

namespace fastnn {

struct ValueError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct TypeError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

template <class... Args>
std::string str_cat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}

}  // namespace fastnn

// FASTNN_CHECK_VALUE(cond, "matmul: a has ", n, " columns but b has ", k, " rows")
#define FASTNN_CHECK_VALUE(cond, ...) \
  do {                                 \
    if (!(cond)) throw ::fastnn::ValueError(::fastnn::str_cat(__VA_ARGS__)); \
  } while (0)
#define FASTNN_CHECK_TYPE(cond, ...) \
  do {                                \
    if (!(cond)) throw ::fastnn::TypeError(::fastnn::str_cat(__VA_ARGS__)); \
  } while (0)
// Internal invariants: a failure is a fastnn bug, reported as RuntimeError.
#define FASTNN_ASSERT(cond, ...) \
  do {                            \
    if (!(cond)) throw std::runtime_error(::fastnn::str_cat("fastnn internal error: ", __VA_ARGS__)); \
  } while (0)
