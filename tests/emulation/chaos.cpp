// Chaos scheduling of the CUDA emulation (see cuda_emulation.hpp): seeded random delays of stream
// work, so independent streams interleave differently from run to run of different seeds.
#include "emulation_internal.hpp"

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <thread>

namespace pinpool_emu::internal {
namespace {

std::uint64_t seed_from_environment() {
  const char* text = std::getenv("PINPOOL_EMU_CHAOS");
  if (text == nullptr || *text == '\0') return 0;
  char* end = nullptr;
  const unsigned long long seed = std::strtoull(text, &end, 10);
  return *end == '\0' ? seed : 0;
}

std::atomic<std::uint64_t>& seed_in_force() {
  static std::atomic<std::uint64_t> seed{seed_from_environment()};
  return seed;
}

/// splitmix64: a small, well-mixed PRNG step.
std::uint64_t mix(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

constexpr std::uint64_t max_delay_us = 2000;

}  // namespace

std::uint64_t chaos_seed() {
  return seed_in_force().load(std::memory_order_relaxed);
}

void set_chaos_seed(std::uint64_t seed) {
  seed_in_force().store(seed, std::memory_order_relaxed);
}

std::uint64_t chaos_clock::next() {
  return mix(state_);
}

void chaos_clock::delay(bool host_function) {
  const std::uint64_t seed = chaos_seed();
  if (seed == 0) return;
  if (seed != seed_) {  // (re)seeded: this stream's sequence for this seed starts over
    seed_ = seed;
    state_ = seed * 0x100000001B3ull ^ stream_id_;
    next();
  }
  std::uint64_t us = next() % (max_delay_us + 1);
  if (host_function) us += next() % (max_delay_us + 1);
  if (us != 0) std::this_thread::sleep_for(std::chrono::microseconds(us));
}

}  // namespace pinpool_emu::internal
