// What pool_core refuses and why (internal): the messages of bad requests, foreign or
// capturing streams, per-thread handles released on another thread, and exhaustion. Cold paths,
// kept out of pool_core.cpp so that file reads as locking, ordering and lifetime.
#include "pool_core.hpp"

#include <pinpool/error.hpp>
#include <pinpool/log.hpp>

#include <cstdio>
#include <stdexcept>
#include <string>
#include <thread>

namespace pinpool::detail {

// Cold path of class_of: the message is built only when a request is refused.
void pool_core::reject(std::size_t bytes, const char* why) const {
  throw std::invalid_argument(std::string("pinpool: pool '") + opt_.name + "': a request of " +
                              std::to_string(bytes) + " bytes " + why);
}

void pool_core::reject_stream(const stream_ref& s) const {
  const std::string pool = std::string("pinpool: pool '") + opt_.name + "': ";
  if (&s.get_backend() != backend_.get()) {
    throw std::invalid_argument(pool + "the stream belongs to another backend");
  }
  throw std::invalid_argument(pool + "a stream of device " + std::to_string(s.device()) +
                              " cannot use device memory of device " + std::to_string(opt_.device) +
                              " without peer access (backend::enable_peer_access(" +
                              std::to_string(s.device()) + ", " + std::to_string(opt_.device) +
                              "), or pool_group::enable_peer_access)");
}

void pool_core::reject_foreign_per_thread_stream() const {
  throw std::invalid_argument(
      std::string("pinpool: pool '") + opt_.name +
      "': the buffer is already used on another thread's per-thread or legacy stream; such a "
      "handle names a different stream in each thread");
}

void pool_core::reject_capture() const {
  throw error(std::string("pinpool: pool '") + opt_.name +
              "': the stream is being captured into a CUDA graph and no pinpool::graph_scope "
              "of this pool serves its capture; create one after cudaStreamBeginCapture (its "
              "chunks stay reserved for the graph until the scope is destroyed)");
}

void pool_core::reject_broken() const {
  throw error(std::string("pinpool: pool '") + opt_.name +
              "' refuses work after a runtime failure: " + broken_);
}

// A release on a stream under capture would record a captured event, which no query may ask
// about and no replay would complete in order: with no graph_scope for the capture, the chunk is
// never reused instead (pool_capture.cpp: release_in_capture).
bool pool_core::released_in_capture() const noexcept {
  ::pinpool::detail::log_message(
      "pinpool: pool '%s': a buffer was released on a stream being captured into a "
      "CUDA graph with no pinpool::graph_scope of this pool for the capture; its chunk is "
      "never reused (release it after the capture ends, or create a graph_scope)",
      opt_.name);
  return false;
}

// The runtime failed: whether the release is ordered cannot be known (a lazy release would
// record nothing that could fail later), so the chunk is quarantined and the pool refuses work,
// as when recording a release fails.
bool pool_core::capture_check_failed(const std::exception& e) noexcept {
  ::pinpool::detail::log_message(
      "pinpool: pool '%s': cannot check a release for graph capture (%s); chunk quarantined",
      opt_.name, e.what());
  std::lock_guard<std::mutex> lock(mutex_);
  refuse_work(e.what());
  return false;
}

// A chunk used on a per-thread or legacy handle can be released only by the thread whose stream
// that is: from another thread, the same handle names another stream, and an event recorded there
// would say nothing about the work using the chunk.
bool pool_core::released_by_owner(const chunk* c) const noexcept {
  if (c->per_thread_owner == std::thread::id{} ||
      c->per_thread_owner == std::this_thread::get_id()) {
    return true;
  }
  ::pinpool::detail::log_message(
      "pinpool: pool '%s': a buffer used on another thread's cudaStreamPerThread or "
      "legacy stream was released on this thread; its chunk is never reused (release it "
      "on that thread, or use an owning stream)",
      opt_.name);
  return false;
}

void pool_core::throw_exhausted(std::size_t bytes) const {
  throw pool_exhausted(std::string("pinpool: pool '") + opt_.name + "' exhausted: no chunk for " +
                       std::to_string(bytes) + " bytes within " +
                       std::to_string(opt_.acquire_timeout.count()) + " ms (max_bytes " +
                       std::to_string(opt_.max_bytes) + ", in use " +
                       std::to_string(counters_.bytes_in_use) + ", pending " +
                       std::to_string(lists_.bytes_pending()) + ")");
}

}  // namespace pinpool::detail
