#pragma once
// A minimal JSON reader for the trace tests: enough of RFC 8259 to read pinpool-trace's output
// (and to reject what is not JSON). Not for production use: no depth limit, doubles only.

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pinpool::test {

class json {
 public:
  enum class type { null, boolean, number, string, array, object };

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

  double number() const { return expect(type::number).number_; }
  bool boolean() const { return expect(type::boolean).boolean_; }
  const std::string& string() const { return expect(type::string).string_; }
  const std::vector<json>& array() const { return expect(type::array).array_; }
  const std::vector<std::pair<std::string, json>>& object() const {
    return expect(type::object).object_;
  }

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
  std::string get_string(std::string_view key, std::string fallback = {}) const {
    const json* v = find(key);
    return v && v->is_string() ? v->string_ : fallback;
  }
  /// @brief A number member, or `fallback`.
  double get_number(std::string_view key, double fallback = 0) const {
    const json* v = find(key);
    return v && v->is_number() ? v->number_ : fallback;
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
    json value() {
      json v;
      const char c = peek();
      if (c == '{') {
        v.kind_ = type::object;
        ++pos;
        if (peek() == '}') {
          ++pos;
          return v;
        }
        for (;;) {
          if (peek() != '"') fail("expected a key");
          std::string key = string_literal();
          if (peek() != ':') fail("expected ':'");
          ++pos;
          v.object_.emplace_back(std::move(key), value());
          const char d = peek();
          ++pos;
          if (d == '}') return v;
          if (d != ',') fail("expected ',' or '}'");
        }
      }
      if (c == '[') {
        v.kind_ = type::array;
        ++pos;
        if (peek() == ']') {
          ++pos;
          return v;
        }
        for (;;) {
          v.array_.push_back(value());
          const char d = peek();
          ++pos;
          if (d == ']') return v;
          if (d != ',') fail("expected ',' or ']'");
        }
      }
      if (c == '"') {
        v.kind_ = type::string;
        v.string_ = string_literal();
        return v;
      }
      if (c == 't' || c == 'f') {
        v.kind_ = type::boolean;
        v.boolean_ = c == 't';
        expect_word(c == 't' ? "true" : "false");
        return v;
      }
      if (c == 'n') {
        expect_word("null");
        return v;
      }
      v.kind_ = type::number;
      v.number_ = number_literal();
      return v;
    }
    double number_literal() {
      const std::size_t start = pos;
      if (pos < text.size() && text[pos] == '-') ++pos;
      const auto digits = [&] {
        const std::size_t from = pos;
        while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') ++pos;
        if (pos == from) fail("expected digits");
      };
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
    unsigned hex4() {
      if (pos + 4 > text.size()) fail("short \\u escape");
      unsigned v = 0;
      for (int i = 0; i < 4; ++i) {
        const char h = text[pos++];
        v <<= 4;
        if (h >= '0' && h <= '9') {
          v |= static_cast<unsigned>(h - '0');
        } else if (h >= 'a' && h <= 'f') {
          v |= static_cast<unsigned>(h - 'a' + 10);
        } else if (h >= 'A' && h <= 'F') {
          v |= static_cast<unsigned>(h - 'A' + 10);
        } else {
          fail("bad hex digit");
        }
      }
      return v;
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
    std::string string_literal() {
      ++pos;  // the opening quote
      std::string out;
      for (;;) {
        if (pos >= text.size()) fail("unterminated string");
        const char c = text[pos++];
        if (c == '"') return out;
        if (static_cast<unsigned char>(c) < 0x20) fail("control character in string");
        if (c != '\\') {
          out += c;
          continue;
        }
        if (pos >= text.size()) fail("unterminated escape");
        const char e = text[pos++];
        switch (e) {
          case '"':
            out += '"';
            break;
          case '\\':
            out += '\\';
            break;
          case '/':
            out += '/';
            break;
          case 'b':
            out += '\b';
            break;
          case 'f':
            out += '\f';
            break;
          case 'n':
            out += '\n';
            break;
          case 'r':
            out += '\r';
            break;
          case 't':
            out += '\t';
            break;
          case 'u': {
            std::uint32_t cp = hex4();
            if (cp >= 0xD800 && cp <= 0xDBFF && text.substr(pos, 2) == "\\u") {
              pos += 2;
              const std::uint32_t low = hex4();
              cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            }
            put_utf8(out, cp);
            break;
          }
          default:
            fail("bad escape");
        }
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

}  // namespace pinpool::test
