#pragma once
// The largest operator-new request seen, from a replacement of the global operator new of the
// test binary: shows that an oversized header is rejected before anything is sized from it.

#include <cstddef>

namespace pinpool::io::test {

/// @brief Forgets the requests seen so far.
void reset_largest_new();
/// @brief The largest single operator-new request since the last reset (any thread).
std::size_t largest_new();

}  // namespace pinpool::io::test
