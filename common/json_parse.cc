// Bounded, non-recursive JSON parsing (RapidJSON's iterative parser).

#include "common/json_parse.h"

#include <fmt/format.h>
#include <rapidjson/error/en.h>
#include <rapidjson/reader.h>

namespace skua::common {
namespace {

// Forwards SAX events to a Document while counting nesting and values (object keys included);
// refuses to go deeper or to hold more values than the bounds.
class Bounded {
 public:
  Bounded(rapidjson::Document& doc, int max_depth, uint64_t max_values)
      : doc_(doc), max_depth_(max_depth), max_values_(max_values) {}
  bool too_deep() const { return too_deep_; }
  bool too_many() const { return too_many_; }

  bool Null() { return Count() && doc_.Null(); }
  bool Bool(bool b) { return Count() && doc_.Bool(b); }
  bool Int(int i) { return Count() && doc_.Int(i); }
  bool Uint(unsigned u) { return Count() && doc_.Uint(u); }
  bool Int64(int64_t i) { return Count() && doc_.Int64(i); }
  bool Uint64(uint64_t u) { return Count() && doc_.Uint64(u); }
  bool Double(double d) { return Count() && doc_.Double(d); }
  bool RawNumber(const char* s, rapidjson::SizeType n, bool copy) {
    return Count() && doc_.RawNumber(s, n, copy);
  }
  bool String(const char* s, rapidjson::SizeType n, bool copy) {
    return Count() && doc_.String(s, n, copy);
  }
  bool Key(const char* s, rapidjson::SizeType n, bool copy) {
    return Count() && doc_.Key(s, n, copy);
  }
  bool StartObject() { return Count() && Enter() && doc_.StartObject(); }
  bool EndObject(rapidjson::SizeType n) {
    --depth_;
    return doc_.EndObject(n);
  }
  bool StartArray() { return Count() && Enter() && doc_.StartArray(); }
  bool EndArray(rapidjson::SizeType n) {
    --depth_;
    return doc_.EndArray(n);
  }

 private:
  bool Count() {
    if (++values_ <= max_values_) return true;
    too_many_ = true;
    return false;
  }
  bool Enter() {
    if (++depth_ <= max_depth_) return true;
    too_deep_ = true;
    return false;
  }

  rapidjson::Document& doc_;
  const int max_depth_;
  const uint64_t max_values_;
  int depth_ = 0;
  uint64_t values_ = 0;
  bool too_deep_ = false;
  bool too_many_ = false;
};

}  // namespace

std::optional<JsonError> ParseJson(std::string_view text, rapidjson::Document& doc, int max_depth,
                                   bool nan_and_inf, uint64_t max_values) {
  rapidjson::MemoryStream ms(text.data(), text.size());
  rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream> in(ms);
  rapidjson::Reader reader;
  bool too_deep = false, too_many = false;
  auto generate = [&](rapidjson::Document& d) {
    Bounded handler(d, max_depth, max_values);
    constexpr unsigned kBase = rapidjson::kParseIterativeFlag;
    if (nan_and_inf) {
      reader.Parse<kBase | rapidjson::kParseNanAndInfFlag>(in, handler);
    } else {
      reader.Parse<kBase>(in, handler);
    }
    too_deep = handler.too_deep();
    too_many = handler.too_many();
    return !reader.HasParseError();
  };
  doc.Populate(generate);
  if (too_deep) {
    return JsonError{reader.GetErrorOffset(),
                     fmt::format("nested deeper than {} levels", max_depth)};
  }
  if (too_many) {
    return JsonError{
        reader.GetErrorOffset(),
        fmt::format("more than {} values for a text of {} bytes", max_values, text.size())};
  }
  if (reader.HasParseError()) {
    return JsonError{reader.GetErrorOffset(),
                     rapidjson::GetParseError_En(reader.GetParseErrorCode())};
  }
  return std::nullopt;
}

}  // namespace skua::common
