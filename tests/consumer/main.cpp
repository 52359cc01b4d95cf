// Uses the contract exactly as design.md shows it; exits non-zero when a behaviour differs.
#include <pinpool/pinpool.hpp>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <utility>

#define CHECK(cond)                                                \
  do {                                                             \
    if (!(cond)) {                                                 \
      std::fprintf(stderr, "consumer: check failed: %s\n", #cond); \
      return 1;                                                    \
    }                                                              \
  } while (0)

int main() {
  std::shared_ptr<pinpool::backend> be = pinpool::make_backend();  // automatic
  auto cpu = pinpool::make_backend(pinpool::backend_kind::cpu);
  CHECK(cpu->kind() == pinpool::backend_kind::cpu);
  pinpool::stream s = be->create_stream();
  pinpool::stream other = be->create_stream();
  pinpool::stream_ref ref = s.ref();

  pinpool::pool_options opt;
  opt.kind = pinpool::memory_kind::pinned_host;
  opt.device = 0;
  opt.initial_bytes = 1 << 20;
  opt.max_bytes = 64 << 20;
  opt.slab_bytes = 4 << 20;
  opt.acquire_timeout = std::chrono::milliseconds{0};
  pinpool::pool pool(be, opt);

  const std::size_t bytes = 100000;
  pinpool::buffer h = pool.acquire(bytes);
  std::memset(h.data(), 42, bytes);
  pinpool::buffer d = pool.acquire(bytes, ref);
  s.memcpy_async(d.data(), h.data(), bytes);
  bool ran = false;
  s.launch_host_func(std::function<void()>{[&] { ran = true; }});
  d.record_stream(other);
  h.set_stream(s);
  s.synchronize();
  CHECK(ran);
  CHECK(static_cast<unsigned char*>(d.data())[bytes - 1] == 42);
  CHECK(d.as<unsigned char>().size() == bytes);

  std::optional<pinpool::buffer> t = pool.try_acquire(bytes);
  CHECK(t.has_value());
  pinpool::shared_buffer sh{std::move(h)};
  CHECK(h.empty() && sh.size() == bytes);

  pinpool::pool_stats st = pool.stats();
  CHECK(st.backend_allocations == 1 && st.bytes_in_use > 0 && st.acquisitions == 3);
  std::string js = st.to_json();
  CHECK(js.find("\"backend_allocations\":1") != std::string::npos);
  try {
    pool.acquire(0);
    CHECK(false);
  } catch (const std::invalid_argument&) {
  }
  sh = {};
  d = {};
  t.reset();
  s.synchronize();
  other.synchronize();
  pool.trim();
  CHECK(pool.stats().bytes_reserved == 0);
  std::printf("consumer: ok on the %s backend\n", be->name());
  return 0;
}
