// The doctest runner: every tests/cpp/*.cpp adds its TEST_CASEs to this binary.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
