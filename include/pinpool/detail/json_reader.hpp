#pragma once
/// @file detail/json_reader.hpp
/// @brief A small JSON reader, the counterpart of detail/json.hpp's writer: enough of RFC 8259
/// to read what pinpool writes (pool_stats::to_json, the sample pipeline's report, pinpool-trace's
/// Chrome trace) and to reject what is not JSON. Internal: shared by the sample pipeline's
/// report merge and the tests. No depth limit, numbers as doubles.

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pinpool::detail {

class json {
 public:
  enum class type { null, boolean, number, string, array, object };

  /// @brief Parses `text`. @throws std::runtime_error naming the offset of the first error.
  static json parse(std::string_view text) {
    reader r{text, 0};
    json v = r.value();
    r.skip_space();
    if (r.pos != text.size()) r.fail("trailing characters");
    return v;
  }

  type kind() const noexcept { return kind_; }
  bool is_object() const noexcept { return kind_ == type::object; }
  bool is_array() const noexcept { return kind_ == type::array; }
  bool is_string() const noexcept { return kind_ == type::string; }
  bool is_number() const noexcept { return kind_ == type::number; }

  /// @name The value as its type. @throws std::runtime_error when it is of another type.
  /// @{
  double number() const { return expect(type::number).number_; }
  bool boolean() const { return expect(type::boolean).boolean_; }
  const std::string& string() const { return expect(type::string).string_; }
  const std::vector<json>& array() const { return expect(type::array).array_; }
  /// Members in file order.
  const std::vector<std::pair<std::string, json>>& object() const {
    return expect(type::object).object_;
  }
  /// @}

  /// @brief The member `key`, or nullptr (also when this is not an object).
  const json* find(std::string_view key) const noexcept {
    if (kind_ != type::object) return nullptr;
    for (const auto& [k, v] : object_) {
      if (k == key) return &v;
    }
    return nullptr;
  }
  /// @brief The member `key`. @throws std::runtime_error when missing.
  const json& operator[](std::string_view key) const {
    const json* v = find(key);
    if (v == nullptr) throw std::runtime_error("json: no member '" + std::string(key) + "'");
    return *v;
  }
  /// @brief A string member, or `fallback` when missing or not a string.
  std::string get_string(std::string_view key, const std::string& fallback = {}) const {
    const json* v = find(key);
    return v != nullptr && v->is_string() ? v->string_ : fallback;
  }
  /// @brief A number member, or `fallback` when missing or not a number.
  double get_number(std::string_view key, double fallback = 0) const {
    const json* v = find(key);
    return v != nullptr && v->is_number() ? v->number_ : fallback;
  }

 private:
  const json& expect(type t) const {
    if (kind_ != t) throw std::runtime_error("json: value of another type");
    return *this;
  }

  struct reader {
    std::string_view text;
    std::size_t pos;

    [[noreturn]] void fail(const char* what) const {
      throw std::runtime_error(std::string("json: ") + what + " at offset " + std::to_string(pos));
    }
    void skip_space() {
      while (pos < text.size() &&
             (text[pos] == ' ' || text[pos] == '\n' || text[pos] == '\r' || text[pos] == '\t')) {
        ++pos;
      }
    }
    char peek() {
      skip_space();
      if (pos >= text.size()) fail("unexpected end");
      return text[pos];
    }
    void expect_word(std::string_view w) {
      if (text.substr(pos, w.size()) != w) fail("bad literal");
      pos += w.size();
    }
    // After an item of an object or array: true at ',', false at `close` (consumed either way).
    bool next_item(char close, const char* error) {
      const char d = peek();
      ++pos;
      if (d == close) return false;
      if (d != ',') fail(error);
      return true;
    }

    json value() {
      const char c = peek();
      if (c == '{') return object();
      if (c == '[') return array();
      json v;
      if (c == '"') {
        v.kind_ = type::string;
        v.string_ = string_literal();
      } else if (c == 't' || c == 'f') {
        v.kind_ = type::boolean;
        v.boolean_ = c == 't';
        expect_word(c == 't' ? "true" : "false");
      } else if (c == 'n') {
        expect_word("null");
      } else {
        v.kind_ = type::number;
        v.number_ = number_literal();
      }
      return v;
    }
    // An object or array of `kind` from its opening character on: `item(v)` reads each item
    // into `v`; `close` ends the list.
    template <class Item>
    json list(type kind, char close, const char* error, Item item) {
      json v;
      v.kind_ = kind;
      ++pos;  // '{' or '['
      if (peek() == close) {
        ++pos;
        return v;
      }
      do {
        item(v);
      } while (next_item(close, error));
      return v;
    }
    json object() {
      return list(type::object, '}', "expected ',' or '}'", [this](json& v) {
        if (peek() != '"') fail("expected a key");
        std::string key = string_literal();
        if (peek() != ':') fail("expected ':'");
        ++pos;
        v.object_.emplace_back(std::move(key), value());
      });
    }
    json array() {
      return list(type::array, ']', "expected ',' or ']'",
                  [this](json& v) { v.array_.push_back(value()); });
    }

    void digits() {
      const std::size_t from = pos;
      while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') ++pos;
      if (pos == from) fail("expected digits");
    }
    double number_literal() {
      const std::size_t start = pos;
      if (pos < text.size() && text[pos] == '-') ++pos;
      digits();
      if (pos < text.size() && text[pos] == '.') {
        ++pos;
        digits();
      }
      if (pos < text.size() && (text[pos] == 'e' || text[pos] == 'E')) {
        ++pos;
        if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) ++pos;
        digits();
      }
      return std::stod(std::string(text.substr(start, pos - start)));
    }

    std::string string_literal() {
      ++pos;  // the opening quote
      std::string out;
      for (;;) {
        if (pos >= text.size()) fail("unterminated string");
        const char c = text[pos++];
        if (c == '"') return out;
        if (static_cast<unsigned char>(c) < 0x20) fail("control character in string");
        if (c == '\\') {
          escape(out);
        } else {
          out += c;
        }
      }
    }
    // The escape after a backslash, appended to `out`.
    void escape(std::string& out) {
      if (pos >= text.size()) fail("unterminated escape");
      const char e = text[pos++];
      switch (e) {
        case '"':
        case '\\':
        case '/':
          out += e;
          return;
        case 'b':
          out += '\b';
          return;
        case 'f':
          out += '\f';
          return;
        case 'n':
          out += '\n';
          return;
        case 'r':
          out += '\r';
          return;
        case 't':
          out += '\t';
          return;
        case 'u':
          put_utf8(out, code_point());
          return;
        default:
          fail("bad escape");
      }
    }
    // \uXXXX after the 'u', with a surrogate pair's second half where one follows.
    std::uint32_t code_point() {
      std::uint32_t cp = hex4();
      if (cp >= 0xD800 && cp <= 0xDBFF && text.substr(pos, 2) == "\\u") {
        pos += 2;
        const std::uint32_t low = hex4();
        cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
      }
      return cp;
    }
    unsigned hex4() {
      if (pos + 4 > text.size()) fail("short \\u escape");
      unsigned v = 0;
      for (int i = 0; i < 4; ++i) v = (v << 4) | hex_digit(text[pos++]);
      return v;
    }
    unsigned hex_digit(char h) const {
      if (h >= '0' && h <= '9') return static_cast<unsigned>(h - '0');
      if (h >= 'a' && h <= 'f') return static_cast<unsigned>(h - 'a' + 10);
      if (h >= 'A' && h <= 'F') return static_cast<unsigned>(h - 'A' + 10);
      fail("bad hex digit");
    }
    static void put_utf8(std::string& out, std::uint32_t c) {
      if (c < 0x80) {
        out += static_cast<char>(c);
      } else if (c < 0x800) {
        out += static_cast<char>(0xC0 | (c >> 6));
        out += static_cast<char>(0x80 | (c & 0x3F));
      } else if (c < 0x10000) {
        out += static_cast<char>(0xE0 | (c >> 12));
        out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (c & 0x3F));
      } else {
        out += static_cast<char>(0xF0 | (c >> 18));
        out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (c & 0x3F));
      }
    }
  };

  type kind_ = type::null;
  bool boolean_ = false;
  double number_ = 0;
  std::string string_;
  std::vector<json> array_;
  std::vector<std::pair<std::string, json>> object_;
};

}  // namespace pinpool::detail
