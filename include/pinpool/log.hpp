#pragma once
/// @file log.hpp
/// @brief Where pinpool's few messages go: the backend fallback notice of `make_backend`,
/// chunks a pool will never reuse, buffers outstanding when a pool is destroyed (a line with
/// their count, then one per chunk: `pool::leak_report()`'s first 20), and runtime failures in
/// destructors. Each message is one line; by default it goes to stderr.

#include <functional>
#include <string>

namespace pinpool {

/// @brief Receives one message (no trailing newline). Called from whichever thread hit the
/// condition (a stream's worker or the runtime's callback thread included); it must not call
/// pinpool, and exceptions it throws are swallowed.
using log_sink = std::function<void(const std::string& message)>;

/// @brief Sends pinpool's messages to `sink` from now on; an empty sink restores stderr.
/// Thread-safe. @return the previous sink (empty when it was stderr).
log_sink set_log_sink(log_sink sink);

namespace detail {
/// @brief Formats (printf-style) and sends one message to the current sink. Never throws.
void log_message(const char* format, ...) noexcept __attribute__((format(printf, 1, 2)));
}  // namespace detail

}  // namespace pinpool
