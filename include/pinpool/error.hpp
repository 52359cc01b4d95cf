#pragma once
/// @file error.hpp
/// @brief pinpool's exception hierarchy. Destructors in pinpool never throw any of these.

#include <stdexcept>
#include <string>

namespace pinpool {

/// @brief Base of every pinpool exception (std::invalid_argument is used for bad options/sizes).
class error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// @brief The backend (its runtime) failed. Catch this to handle any backend's failures without
/// naming CUDA; `cuda_error` is the CUDA backend's.
class backend_error : public error {
 public:
  using error::error;
};

/// @brief A CUDA runtime call failed. Carries the runtime's code, its name and message, the call
/// text and the source location of the check.
class cuda_error : public backend_error {
 public:
  cuda_error(int code, std::string name, const std::string& message, const std::string& call,
             const char* file, int line);
  /// @brief Builds an error that is not tied to one runtime call (e.g. "built without CUDA").
  explicit cuda_error(const std::string& message);

  int code() const noexcept { return code_; }
  const std::string& name() const noexcept { return name_; }

 private:
  int code_ = 0;
  std::string name_;
};

/// @brief The backend could not provide a slab (cudaErrorMemoryAllocation, mmap failure, ...).
class out_of_memory : public error {
 public:
  using error::error;
};

/// @brief The pool is at `max_bytes` and nothing became reusable within `acquire_timeout`.
class pool_exhausted : public error {
 public:
  using error::error;
};

}  // namespace pinpool
