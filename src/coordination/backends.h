// The two lease backends behind coordination.h.
#pragma once

#include "millrace/coordination/coordination.h"

namespace millrace::coordination {

result<std::unique_ptr<coordinator>> make_postgres_coordinator(options o);
result<std::unique_ptr<coordinator>> make_zookeeper_coordinator(options o);
bool lease_name_ok(const std::string& name);

}  // namespace millrace::coordination
