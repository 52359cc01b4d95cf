#include <pinpool/log.hpp>

#include <cstdarg>
#include <cstdio>
#include <mutex>
#include <utility>

namespace pinpool {
namespace {

std::mutex& sink_mutex() {
  static std::mutex m;
  return m;
}
log_sink& current_sink() {
  static auto* sink = new log_sink;  // never destroyed: messages may come at process exit
  return *sink;
}

}  // namespace

log_sink set_log_sink(log_sink sink) {
  std::lock_guard<std::mutex> lock(sink_mutex());
  return std::exchange(current_sink(), std::move(sink));
}

namespace detail {

void log_message(const char* format, ...) noexcept {
  try {
    std::va_list args;
    va_start(args, format);
    std::va_list again;
    va_copy(again, args);
    const int n = std::vsnprintf(nullptr, 0, format, args);
    va_end(args);
    std::string text(n > 0 ? static_cast<std::size_t>(n) : 0, '\0');
    if (n > 0) std::vsnprintf(text.data(), text.size() + 1, format, again);
    va_end(again);
    std::lock_guard<std::mutex> lock(sink_mutex());
    if (current_sink()) {
      current_sink()(text);
    } else {
      std::fprintf(stderr, "%s\n", text.c_str());
    }
  } catch (...) {  // allocation failure or a throwing sink: the message is lost
  }
}

}  // namespace detail
}  // namespace pinpool
