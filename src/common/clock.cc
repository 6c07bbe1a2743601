#include "millrace/common/clock.h"

namespace millrace {
namespace {

class system_clock_impl final : public clock {
public:
    wall_time wall_now() const override { return std::chrono::system_clock::now(); }
    mono_time mono_now() const override { return std::chrono::steady_clock::now(); }
};

}  // namespace

clock& clock::system() {
    static system_clock_impl instance;
    return instance;
}

}  // namespace millrace
