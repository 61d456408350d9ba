-- Build description for moongrad. Written in the subset that both premake4
-- (4.3, Debian's package, which the Makefile runs) and premake5 understand.
-- Outputs: release in build/{lib,bin}, debug (ASan/UBSan) in build/debug/{lib,bin}.

-- Select a configuration: premake5 has filter(), premake4 only configuration().
local function when(cfgname)
  if filter then filter("configurations:" .. cfgname) else configuration(cfgname) end
end
local function always()
  if filter then filter({}) else configuration("*") end
end

local outdir = { release = "build", debug = "build/debug" }

-- Per-config target and object dirs; objdir names the project so that no two
-- projects share one (premake4 would otherwise invent its own names).
local function dirs(name, sub)
  for cfg, out in pairs(outdir) do
    when(cfg)
      targetdir(out .. "/" .. sub)
      objdir("build/obj/" .. cfg .. "/" .. name)
  end
  always()
end

-- Executables link the shared lib and find it next to themselves: $$ is make's
-- escape for $, the single quotes keep the shell from expanding $ORIGIN.
local function links_moongrad()
  links({ "moongrad" })
  linkoptions({ "-Wl,-rpath,'$$ORIGIN/../lib'" })
end

solution("moongrad")
  configurations({ "release", "debug" })
  location("build")
  language("C++")
  includedirs({ "src", "." })
  -- -fno-tree-slp-vectorize: GCC 12.2 with AVX-512 (-march=native here) miscompiles a 256-bit
  -- constant whose upper half is zero (std::vector<int64_t>{1, 1, 0, 0} arrives as {1, 1, 1, 1});
  -- tests/cpp/test_toolchain.cpp guards it. Loop vectorization stays on.
  buildoptions({ "-std=c++20", "-Wall", "-Wextra", "-fno-strict-aliasing", "-fno-tree-slp-vectorize" })
  when("release")
    buildoptions({ "-O2", "-march=native", "-DNDEBUG" })
  when("debug")
    -- premake4 strips (-s) unless told to keep symbols; premake5 spells that symbols().
    if symbols then symbols("On") else flags({ "Symbols" }) end
    buildoptions({ "-O1", "-g", "-fno-omit-frame-pointer", "-fsanitize=address,undefined" })
    linkoptions({ "-fsanitize=address,undefined" })
  always()

project("moongrad")
  kind("SharedLib")
  files({ "src/**.cpp", "backends/**.cpp" })  -- absent folders just match nothing
  buildoptions({ "-fPIC" })  -- premake4 adds it too; harmless twice, needed where a generator does not
  -- Calls inside the library bind to its own functions: no PLT jump for each, and GCC may
  -- inline and specialize them as in an executable (the rewrite chain: 170.4 M -> 166.1 M
  -- instructions, docs/symbolic.md "Performance"). Nothing interposes the library's functions.
  buildoptions({ "-fno-semantic-interposition" })
  linkoptions({ "-Wl,-Bsymbolic-functions" })
  links({ "dl", "pthread" })
  -- LLVM 19 for the CPU backend's JIT. -isystem keeps -Wall -Wextra quiet about
  -- LLVM's own headers. Paths are those of `llvm-config-19 --includedir --ldflags
  -- --libs` on Debian 12, written out because premake4 4.3 has no os.outputof.
  buildoptions({ "-isystem /usr/lib/llvm-19/include" })
  libdirs({ "/usr/lib/llvm-19/lib" })
  links({ "LLVM-19" })
  dirs("moongrad", "lib")

-- VIZ (viz/, on top of the engine; nothing in src/ or backends/ includes it). Its data model
-- has no ImGui in it: a static library that the tests link on their own.
project("moongrad_vizmodel")
  kind("StaticLib")
  files({ "viz/model/*.cpp" })
  buildoptions({ "-fPIC" })  -- it goes into libmoongrad_viz.so
  dirs("moongrad_vizmodel", "lib")

-- The window: Debian's libimgui-dev ships the GLFW and OpenGL 3 backends compiled into
-- libimgui.a (headers in /usr/include/imgui/backends), which needs libstb for its font code.
project("moongrad_viz")
  kind("SharedLib")
  files({ "viz/*.cpp" })
  buildoptions({ "-fPIC", "-isystem /usr/include/imgui" })
  links({ "moongrad_vizmodel", "moongrad", "imgui", "stb", "glfw", "GL", "z", "dl" })
  linkoptions({ "-Wl,-rpath,'$$ORIGIN'" })  -- libmoongrad.so sits next to it
  dirs("moongrad_viz", "lib")

project("moongrad_tests")
  kind("ConsoleApp")
  files({ "tests/cpp/**.cpp" })
  links({ "moongrad_vizmodel" })
  links_moongrad()
  links({ "z" })
  dirs("moongrad_tests", "bin")

-- One executable per benchmark source: tests/bench/foo.cpp -> bin/bench_foo.
for _, src in ipairs(os.matchfiles("tests/bench/*.cpp")) do
  local name = "bench_" .. path.getbasename(src)
  project(name)
    kind("ConsoleApp")
    files({ src })
    links({ "moongrad_vizmodel" })
    links_moongrad()
    links({ "z" })
    dirs(name, "bin")
end
