#pragma once
// The orchestration of pinpool-pipeline: N streams in flight, every buffer from a pool, every
// release stream-ordered.

#include "frame_plan.hpp"
#include "options.hpp"
#include "run_report.hpp"

#include <pinpool/backend.hpp>

#include <functional>
#include <memory>
#include <vector>

namespace pinpool::pipeline {

/// @brief Called after each frame is written or failed: (frames done, frames planned).
using progress_fn = std::function<void(std::size_t, std::size_t)>;

/// @brief Processes every frame of `plan` on `be` and returns what happened. Per-frame failures
/// (unreadable input, failed write) are recorded in the report, never thrown; the other frames
/// are still processed.
/// @note Per frame: the host decodes into a pinned chunk; a device chunk is filled by
/// memcpy_async on the frame's stream; the stage kernels run there with temporaries from the
/// device pool; the copy back fills a pinned output chunk that a writer thread encodes once a
/// host function on the stream announced it. The only host waits are for a stream whose
/// previous frame is still being written.
run_report run_pipeline(const options& o, std::shared_ptr<backend> be,
                        const std::vector<frame_source>& plan, const progress_fn& progress);

}  // namespace pinpool::pipeline
