#include "common/channel/operations.h"

#include <set>
#include <string>

#include "gtest/gtest.h"

namespace virtiofsd {
namespace {

// Every field of Request's oneof has exactly one row, and every row is a field.
TEST(OperationsTest, TheTableHasOneRowPerProtocolOperation) {
  const google::protobuf::OneofDescriptor* oneof =
      proto::Request::descriptor()->FindOneofByName("op");
  ASSERT_NE(oneof, nullptr);
  std::set<int> fields;
  for (int i = 0; i < oneof->field_count(); ++i) {
    const int number = oneof->field(i)->number();
    fields.insert(number);
    EXPECT_TRUE(FindOperation(static_cast<proto::Request::OpCase>(number)).has_value())
        << "no row in common/channel/operations.h for Request." << oneof->field(i)->name();
  }
  std::set<int> rows;
  for (const OperationRule& rule : kOperations) {
    EXPECT_TRUE(rows.insert(rule.op).second) << "two rows for op " << rule.op;
    EXPECT_TRUE(fields.count(rule.op)) << "row " << rule.op << " is no Request field";
  }
}

// One-way operations have no result; every other one names a result the Reply has.
TEST(OperationsTest, ResultsFitTheEffect) {
  const google::protobuf::OneofDescriptor* results =
      proto::Reply::descriptor()->FindOneofByName("result");
  ASSERT_NE(results, nullptr);
  for (const OperationRule& rule : kOperations) {
    if (rule.effect == OpEffect::kOneWay) {
      EXPECT_EQ(rule.result, proto::Reply::RESULT_NOT_SET) << "op " << rule.op;
    } else {
      ASSERT_NE(rule.result, proto::Reply::RESULT_NOT_SET) << "op " << rule.op;
      const auto* field = proto::Reply::descriptor()->FindFieldByNumber(rule.result);
      ASSERT_NE(field, nullptr) << "op " << rule.op;
      EXPECT_EQ(field->containing_oneof(), results) << "op " << rule.op;
    }
  }
}

TEST(OperationsTest, UnknownCasesHaveNoRow) {
  EXPECT_FALSE(FindOperation(proto::Request::OP_NOT_SET).has_value());
  EXPECT_FALSE(FindOperation(static_cast<proto::Request::OpCase>(9999)).has_value());
}

}  // namespace
}  // namespace virtiofsd
