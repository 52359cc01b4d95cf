#pragma once
// Which frames a run processes and where each result goes.

#include "options.hpp"

#include <string>
#include <vector>

namespace pinpool::pipeline {

struct frame_source {
  std::string input;   ///< a file path, or "synthetic frame N"
  std::string output;  ///< the file to write (its extension names the format)
  int synthetic = -1;  ///< frame number of a generated frame, -1 for a file
};

/// @brief Expands directories (their supported image files, sorted; not recursive) and names
/// outputs with the extension of `o.output_format` (.png, .jpg, .pgm): x.jpg -> <output_dir>/x.png
/// (x_2.png, ... when two inputs share a name); synthetic frames -> frame_0000.png, ... Paths that
/// do not exist are kept: they fail when read.
/// @throws usage_error naming the directory (and the extensions looked for) when a directory
/// given holds no supported image file or cannot be read.
std::vector<frame_source> plan_frames(const options& o);

/// @brief Whether `src` is written under another base name than its own (x.jpg -> x_2.png):
/// another input has the same base name.
bool is_renamed(const frame_source& src);

/// @brief Creates the output directory and checks that a file can be written there.
/// @throws usage_error naming the directory and the reason.
void prepare_output_dir(const std::string& dir);

}  // namespace pinpool::pipeline
