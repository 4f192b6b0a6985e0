// A gtest that runs every corpus file named on the command line, plus a few
// generated inputs, through the fuzz target linked with it.

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

std::vector<std::string>& CorpusFiles() {
  static std::vector<std::string> files;
  return files;
}

int RunInput(const std::string& input) {
  return LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
}

TEST(FuzzRegressionTest, CorpusRunsCleanly) {
  ASSERT_FALSE(CorpusFiles().empty()) << "the seed corpus is missing";
  for (const std::string& path : CorpusFiles()) {
    std::ifstream in(path, std::ios::binary);
    ASSERT_TRUE(in) << path;
    std::string input((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(RunInput(input), 0) << path;
  }
}

TEST(FuzzRegressionTest, RandomInputsRunCleanly) {
  std::mt19937 random(12345);  // Fixed seed: the same inputs every run.
  for (int i = 0; i < 2000; ++i) {
    std::string input(random() % 300, '\0');
    for (char& c : input) c = static_cast<char>(random());
    EXPECT_EQ(RunInput(input), 0);
  }
}

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  for (int i = 1; i < argc; ++i) CorpusFiles().push_back(argv[i]);
  return RUN_ALL_TESTS();
}
