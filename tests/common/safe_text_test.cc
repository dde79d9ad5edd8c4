#include "common/safe_text.h"

#include "gtest/gtest.h"

namespace booking::common {
namespace {

TEST(SafeTextTest, KeepsValidTextAsItIs) {
  EXPECT_EQ(SafeText("plain ASCII", 100), "plain ASCII");
  EXPECT_EQ(SafeText("Grüße, €5, 🎫", 100), "Grüße, €5, 🎫");
  EXPECT_TRUE(IsSafeText("Grüße, €5, 🎫"));
}

TEST(SafeTextTest, CutsAtACharacterBoundaryNeverInsideOne) {
  // "é" is two bytes: a cut after 2 bytes of "aé" would split it.
  EXPECT_EQ(SafeText("aé", 2), "a");
  EXPECT_EQ(SafeText("aé", 3), "aé");
  const std::string euros = "€€€";  // 3 bytes each
  for (size_t max = 0; max <= euros.size(); ++max) {
    const std::string cut = SafeText(euros, max);
    EXPECT_TRUE(IsSafeText(cut)) << max;
    EXPECT_EQ(cut.size(), max / 3 * 3) << max;
  }
}

TEST(SafeTextTest, ReplacesEveryInvalidByteAndNul) {
  EXPECT_EQ(SafeText(std::string("a\0b", 3), 100),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(SafeText("\xE9t\xE9", 100), "\xEF\xBF\xBDt\xEF\xBF\xBD");  // cp1252 "été"
  EXPECT_EQ(SafeText("\xC3", 100), "\xEF\xBF\xBD");                    // a character cut short
  EXPECT_EQ(SafeText("\xC0\xAF", 100), "\xEF\xBF\xBD\xEF\xBF\xBD");    // overlong "/"
  EXPECT_EQ(SafeText("\xED\xA0\x80", 100), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
  EXPECT_EQ(SafeText("\xF4\x90\x80\x80", 100).size(), 12u);  // above U+10FFFF
  EXPECT_FALSE(IsSafeText("\xE9"));
  EXPECT_FALSE(IsSafeText(std::string("\0", 1)));
}

TEST(SafeTextTest, ABodyCutMidCharacterBecomesValid) {
  std::string body(199, 'x');
  body += "€ and more";  // the 200th byte is the first of "€"
  const std::string cut = SafeText(body.substr(0, 200), 200);
  EXPECT_TRUE(IsSafeText(cut));
  EXPECT_LE(cut.size(), 200u);
  EXPECT_EQ(cut.substr(0, 199), std::string(199, 'x'));
}

}  // namespace
}  // namespace booking::common
