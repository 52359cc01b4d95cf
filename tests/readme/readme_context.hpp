#pragma once
// The names README.md's fragments use without declaring them (a fragment is an excerpt of a
// program that has them). Declared only: fragments are compiled, never linked or run. Nothing
// here includes more than <pinpool/pinpool.hpp>, so a header a fragment forgets still fails.

#include <pinpool/pinpool.hpp>

#include <cstddef>
#include <memory>

namespace readme_context {

extern std::shared_ptr<pinpool::backend> be;
extern pinpool::stream s;               // a stream of `be`
extern pinpool::pool pool;              // any pool
extern pinpool::pool pinned_pool;       // memory_kind::pinned_host
extern pinpool::pool device_pool;       // memory_kind::device
extern pinpool::buffer dev;             // a device chunk
extern std::size_t bytes;
extern std::size_t n;
extern int* d_keys;                     // device memory, n ints
extern const int* d_in;
extern int* d_out;
#ifdef __CUDACC__
extern cudaStream_t cs;                 // s.native_handle() of a CUDA backend's stream
#endif

template <class... Args>
void fill(Args&&...) {}                 // the host writes a chunk
template <class... Args>
void launch(Args&&...) {}               // device work enqueued on a stream

}  // namespace readme_context

using namespace readme_context;  // NOLINT: the fragments use the names unqualified
