#include "ranks.hpp"
#include "report_merge.hpp"

#include <pinpool/detail/json.hpp>
#include <pinpool/detail/json_reader.hpp>

#include <algorithm>
#include <exception>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <sstream>
#include <thread>

namespace pinpool::pipeline {
namespace {

using detail::json;
using detail::json_quoted;

constexpr std::chrono::milliseconds merge_poll_interval{100};

// Rank `rank`'s report at `path` when it is there, complete and of this run; else nullopt.
std::optional<json> read_report(const std::string& path, const rank_identity& self, int rank) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return std::nullopt;
  const std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  try {
    json v = json::parse(text);
    const json* id = v.find("rank");
    if (id == nullptr || static_cast<int>(id->get_number("rank", -1)) != rank ||
        static_cast<int>(id->get_number("ranks", -1)) != self.ranks ||
        id->get_string("run_id") != self.run_id) {
      return std::nullopt;  // another run's (or a stray) file: wait for this run's
    }
    return v;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::vector<std::optional<json>> wait_for_reports(const rank_identity& self,
                                                  const std::string& merged_path,
                                                  std::chrono::seconds timeout) {
  std::vector<std::optional<json>> reports(static_cast<std::size_t>(self.ranks));
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    bool all = true;
    for (int r = 0; r < self.ranks; ++r) {
      auto& slot = reports[static_cast<std::size_t>(r)];
      if (!slot) slot = read_report(rank_report_path(merged_path, r), self, r);
      all = all && slot.has_value();
    }
    if (all || std::chrono::steady_clock::now() >= deadline) return reports;
    std::this_thread::sleep_for(merge_poll_interval);
  }
}

std::string number_text(double v) {
  std::ostringstream o;
  o << v;
  return o.str();
}

/// Adds up the ranks' reports into the merged one.
class merger {
 public:
  merger(const std::vector<frame_source>& plan, const rank_identity& self) : self_(self) {
    for (const frame_source& src : plan) ++planned_[src.input];
    frames_planned_ = plan.size();
  }

  void add(int rank, const std::string& path, const json& report) {
    const double seconds = report.get_number("seconds");
    const auto ok = static_cast<std::size_t>(report.get_number("frames_ok"));
    const auto failed = static_cast<std::size_t>(report.get_number("frames_failed"));
    out_.frames_ok += ok;
    out_.frames_failed += failed;
    seconds_ = std::max(seconds_, seconds);
    std::ostringstream o;
    o << "{\"rank\":" << rank
      << ",\"host\":" << json_quoted(report.find("rank")->get_string("host"))
      << ",\"report\":" << json_quoted(path)
      << ",\"frames_planned\":" << number_text(report.get_number("frames_planned"))
      << ",\"frames_ok\":" << ok << ",\"frames_failed\":" << failed << ",\"seconds\":" << seconds
      << ",\"frames_per_second\":" << number_text(report.get_number("frames_per_second"))
      << ",\"devices\":" << devices_json(report) << "}";
    per_rank_.push_back(o.str());
    account(rank, report, "outputs", "output", outputs_);
    account(rank, report, "failures", "error", failures_);
  }

  void missing(int rank) { out_.missing_ranks.push_back(rank); }

  merge_outcome finish() {
    for (const auto& [input, n] : planned_) {
      const int seen = seen_[input];
      if (seen < n) out_.unaccounted.push_back(input);
      if (seen > n) out_.repeated.push_back(input);
    }
    for (const auto& [input, n] : seen_) {
      if (planned_.count(input) == 0) out_.repeated.push_back(input);  // not in the plan at all
    }
    std::ostringstream o;
    o << "{\"ranks\":" << self_.ranks << ",\"run_id\":" << json_quoted(self_.run_id)
      << ",\"rank_source\":" << json_quoted(self_.source)
      << ",\"split\":\"round-robin: rank r processes frames i of the single-process plan with "
         "i % ranks == r\",\"total\":{\"frames_planned\":"
      << frames_planned_ << ",\"frames_ok\":" << out_.frames_ok
      << ",\"frames_failed\":" << out_.frames_failed << ",\"seconds\":" << seconds_
      << ",\"frames_per_second\":"
      << (seconds_ > 0 ? static_cast<double>(out_.frames_ok) / seconds_ : 0.0) << "},\"per_rank\":["
      << joined(per_rank_) << "],\"missing_ranks\":[" << ints(out_.missing_ranks)
      << R"(],"accounting":{"inputs":)" << frames_planned_
      << ",\"unaccounted\":" << strings(out_.unaccounted)
      << ",\"repeated\":" << strings(out_.repeated) << "},\"outputs\":[" << joined(outputs_)
      << "],\"failures\":[" << joined(failures_) << "]}\n";
    out_.json = o.str();
    return out_;
  }

 private:
  static std::string devices_json(const json& report) {
    std::vector<std::string> items;
    const json* devices = report.find("devices");
    if (devices != nullptr && devices->is_array()) {
      for (const json& d : devices->array()) {
        items.push_back("{\"device\":" + number_text(d.get_number("device")) +
                        ",\"streams\":" + number_text(d.get_number("streams")) +
                        ",\"frames_ok\":" + number_text(d.get_number("frames_ok")) + "}");
      }
    }
    return "[" + joined(items) + "]";
  }

  // Each {input, <detail>} of the report's list `list`, tagged with the rank, and counted.
  void account(int rank, const json& report, const char* list, const char* detail,
               std::vector<std::string>& into) {
    const json* entries = report.find(list);
    if (entries == nullptr || !entries->is_array()) return;
    for (const json& e : entries->array()) {
      const std::string input = e.get_string("input");
      ++seen_[input];
      into.push_back("{\"input\":" + json_quoted(input) + ",\"" + detail + "\":" +
                     json_quoted(e.get_string(detail)) + ",\"rank\":" + std::to_string(rank) + "}");
    }
  }

  static std::string joined(const std::vector<std::string>& items) {
    std::string out;
    for (const std::string& s : items) out += (out.empty() ? "" : ",") + s;
    return out;
  }
  static std::string ints(const std::vector<int>& v) {
    std::string out;
    for (const int i : v) out += (out.empty() ? "" : ",") + std::to_string(i);
    return out;
  }
  static std::string strings(const std::vector<std::string>& v) {
    std::vector<std::string> quoted;
    quoted.reserve(v.size());
    for (const std::string& s : v) quoted.push_back(json_quoted(s));
    return "[" + joined(quoted) + "]";
  }

  const rank_identity& self_;
  std::map<std::string, int> planned_;
  std::map<std::string, int> seen_;
  std::size_t frames_planned_ = 0;
  double seconds_ = 0;
  std::vector<std::string> per_rank_;
  std::vector<std::string> outputs_;
  std::vector<std::string> failures_;
  merge_outcome out_;
};

}  // namespace

merge_outcome merge_rank_reports(const std::vector<frame_source>& plan, const rank_identity& self,
                                 const std::string& merged_path, std::chrono::seconds timeout) {
  const std::vector<std::optional<json>> reports = wait_for_reports(self, merged_path, timeout);
  merger m(plan, self);
  for (int r = 0; r < self.ranks; ++r) {
    const auto& report = reports[static_cast<std::size_t>(r)];
    if (report) {
      m.add(r, rank_report_path(merged_path, r), *report);
    } else {
      m.missing(r);
    }
  }
  return m.finish();
}

}  // namespace pinpool::pipeline
