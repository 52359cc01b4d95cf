#pragma once
// The orchestration of pinpool-pipeline: N streams in flight, every buffer from a pool, every
// release stream-ordered.

#include "frame_plan.hpp"
#include "options.hpp"
#include "run_report.hpp"

#include <pinpool/backend.hpp>

#include <functional>
#include <memory>
#include <stdexcept>
#include <vector>

namespace pinpool::pipeline {

/// @brief Called after each frame is written or failed: (frames done, frames planned).
using progress_fn = std::function<void(std::size_t, std::size_t)>;

/// @brief A stream failed (a device fault, a stage that threw on the stream): the run stopped.
/// `what()` names the frame, its stream, the step it had reached where known, and the cause.
class pipeline_failure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// @brief Processes every frame of `plan` on `be` and returns what happened. Per-frame failures
/// (unreadable input, failed write) are recorded in the report, never thrown; the other frames
/// are still processed.
/// @throws pipeline_failure when a stream fails: no further frame is submitted, the frames in
/// flight on healthy streams are still written, then the first failure is thrown. Never hangs
/// on a failed stream (CUDA calls no host function once its context has an error).
/// @note Per frame: the host decodes into a pinned chunk; a device chunk is filled by
/// memcpy_async on the frame's stream; the stage kernels run there with temporaries from the
/// device pool; the copy back fills a pinned output chunk that a writer thread encodes once the
/// stream has run the frame: an event recorded after it has completed (the host waits poll it
/// every 20 ms, and a query that fails is the stream's failure), or, sooner, a host function
/// after it said so. The only host waits are for a stream whose previous frame is still being
/// written. Per-step times come from the launcher's frame_clock (CUDA: timing events).
run_report run_pipeline(const options& o, std::shared_ptr<backend> be,
                        const std::vector<frame_source>& plan, const progress_fn& progress);

}  // namespace pinpool::pipeline
