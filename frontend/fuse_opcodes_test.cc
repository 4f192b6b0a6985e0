#include "frontend/fuse_opcodes.h"

#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>

#include "common/channel/operations.h"
#include "gtest/gtest.h"

namespace virtiofsd {
namespace {

// Every `NAME = N` of enum fuse_opcode in the kernel header the build uses.
std::map<std::string, uint64_t> KernelOpcodes() {
  std::ifstream header("/usr/include/linux/fuse.h");
  std::stringstream text;
  text << header.rdbuf();
  const std::string all = text.str();
  const size_t start = all.find("enum fuse_opcode {");
  const size_t end = all.find("};", start);
  EXPECT_NE(start, std::string::npos) << "no enum fuse_opcode in <linux/fuse.h>";
  const std::string body = all.substr(start, end - start);
  std::map<std::string, uint64_t> opcodes;
  const std::regex entry(R"(\b([A-Z][A-Z0-9_]*)\s*=\s*([0-9]+))");
  for (std::sregex_iterator it(body.begin(), body.end(), entry), last; it != last; ++it) {
    opcodes[(*it)[1]] = std::stoull((*it)[2]);
  }
  return opcodes;
}

TEST(FuseOpcodesTest, EveryKernelOpcodeIsInTheTableExactlyOnce) {
  const std::map<std::string, uint64_t> kernel = KernelOpcodes();
  ASSERT_GT(kernel.size(), 45u);  // The parse found the enum.
  EXPECT_TRUE(kernel.count("FUSE_LOOKUP"));
  for (const auto& [name, value] : kernel) {
    int rows = 0;
    for (const FuseOpcodeRow& row : kFuseOpcodes) {
      if (row.name != name) continue;
      ++rows;
      EXPECT_EQ(row.opcode, value) << name;
      if (row.served) {
        EXPECT_TRUE(row.unserved_reason.empty()) << name;
      } else {
        EXPECT_FALSE(row.unserved_reason.empty()) << name << " is unserved without a reason";
      }
    }
    EXPECT_EQ(rows, 1) << name << " is in the opcode table " << rows << " times";
  }
  EXPECT_EQ(std::size(kFuseOpcodes), kernel.size())
      << "the table and the kernel's enum differ in size";
}

TEST(FuseOpcodesTest, EveryBrokerOperationIsSentBySomeServedOpcode) {
  for (const OperationRule& rule : kOperations) {
    // The broker client sends the handshake itself, before any FUSE request.
    if (rule.op == proto::Request::kHandshake) continue;
    bool sent = false;
    for (const FuseOpcodeRow& row : kFuseOpcodes) {
      if (row.served && OpcodeSends(row.opcode, rule.op)) sent = true;
    }
    EXPECT_TRUE(sent) << "broker operation "
                      << proto::Request::descriptor()->FindFieldByNumber(rule.op)->name()
                      << " is sent by no FUSE opcode: it has no frontend encoder";
  }
}

TEST(FuseOpcodesTest, ServedOpcodesSendOnlyBrokerOperations) {
  for (const FuseOpcodeRow& row : kFuseOpcodes) {
    if (!row.served) {
      EXPECT_EQ(row.send_count, 0u) << row.name;
    }
    for (size_t i = 0; i < row.send_count; ++i) {
      EXPECT_TRUE(FindOperation(row.sends[i]).has_value()) << row.name;
      EXPECT_NE(row.sends[i], proto::Request::kHandshake) << row.name;
    }
  }
}

TEST(FuseOpcodesTest, LookupsFindTheirRows) {
  EXPECT_TRUE(OpcodeSends(FUSE_LOOKUP, proto::Request::kLookup));
  EXPECT_TRUE(OpcodeSends(FUSE_SETLKW, proto::Request::kInterrupt));
  EXPECT_FALSE(OpcodeSends(FUSE_SETLK, proto::Request::kInterrupt));
  EXPECT_FALSE(OpcodeSends(FUSE_READ, proto::Request::kLookup));
  EXPECT_FALSE(OpcodeSends(FUSE_BMAP, proto::Request::kLookup));
  EXPECT_FALSE(OpcodeSends(9999, proto::Request::kLookup));
  ASSERT_TRUE(FindFuseOpcode(FUSE_BMAP).has_value());
  EXPECT_FALSE(FindFuseOpcode(FUSE_BMAP)->served);
  EXPECT_FALSE(FindFuseOpcode(9999).has_value());
}

}  // namespace
}  // namespace virtiofsd
