#include "experiments/results.h"

#include <gtest/gtest.h>

#include <string>

#include "absl/strings/str_cat.h"

namespace experiments {
namespace {

// What JsonString writes, JsonStringField reads back: quotes, backslashes, newlines, tabs and
// control characters included.
TEST(JsonStringField, ReadsBackWhatJsonStringWrote) {
  for (const std::string& value : {std::string("plain"), std::string(""),
                                  std::string("a \"quoted\" \\ path\nnext\tline"),
                                  std::string("ctrl \x01\x1f end")}) {
    const std::string json =
        absl::StrCat("{\"seed\": 1, \"value\": ", JsonString(value), ", \"n\": 2}");
    EXPECT_EQ(JsonStringField(json, "value"), value) << json;
  }
}

// The field's own key, not the same words inside another string value (escaped there), and not
// a field that is missing or cut off.
TEST(JsonStringField, FindsTheKeyNotTheWordsInAValue) {
  const std::string json = absl::StrCat("{\"settings\": ", JsonString("\"method\": \"fake\""),
                                        ", \"method\": \"CG\"}");
  EXPECT_EQ(JsonStringField(json, "method"), "CG");
  EXPECT_FALSE(JsonStringField(json, "seed").has_value());
  EXPECT_FALSE(JsonStringField("{\"method\": \"C", "method").has_value());
  EXPECT_FALSE(JsonStringField("{\"method\": \"C\\", "method").has_value());
}

}  // namespace
}  // namespace experiments
