-- The Lua test runner. usage: moongrad tests/lua/run.lua [--dev=NAME] [filter]
-- Runs every tests/lua/test_*.lua; a file returns { ["case name"] = fn, ... }
-- (run in sorted order) or a list of { "case name", fn } (run in list order).
-- --dev makes NAME the default device of every test (as DEV=NAME would), so the same tests
-- check each backend; tests/run_all.sh runs them on CPU and on REF (the oracle).
-- Only cases whose name contains `filter` (plain substring) run.
-- Last line: "lua[NAME]: N passed, N failed[, N skipped]"; exit 1 if any failed.
local filter, device
for _, a in ipairs(arg or {}) do
  local d = a:match("^%-%-dev=(.+)$")
  if d then device = d else filter = a end
end
if device then
  assert(not package.loaded["moongrad"], "run.lua: --dev must be set before moongrad is loaded")
  local ffi = require("ffi")
  ffi.cdef("int setenv(const char* name, const char* value, int overwrite);")
  ffi.C.setenv("DEV", device, 1)
  local mg = require("moongrad")
  local found = false
  for _, d in ipairs(mg.devices()) do found = found or d == device end
  if not found then
    print("lua[" .. device .. "]: 0 passed, 1 failed (device " .. device .. " is not available)")
    os.exit(1)
  end
end

local dir = (arg and arg[0] or "tests/lua/run.lua"):match("^(.*)/[^/]*$") or "."

-- LuaJIT has no directory listing; ls is fine on the systems we support.
local function test_files()
  local p = assert(io.popen("ls -1 '" .. dir:gsub("'", "'\\''") .. "'"))
  local files = {}
  for name in p:lines() do
    if name:match("^test_.*%.lua$") then files[#files + 1] = dir .. "/" .. name end
  end
  p:close()
  table.sort(files)
  return files
end

-- Assertion helpers handed to each case as `t`.
local SKIP = {}  -- marks a skip error (a table, so no traceback is added)

local function show(v)
  if type(v) == "string" then return (string.format("%q", v):gsub("\\\n", "\\n")) end
  if type(v) ~= "table" then return tostring(v) end
  local parts = {}
  for k, x in pairs(v) do parts[#parts + 1] = "[" .. show(k) .. "]=" .. show(x) end
  table.sort(parts)
  return "{" .. table.concat(parts, ", ") .. "}"
end

local function deep_eq(a, b)
  if a == b then return true end
  if type(a) ~= "table" or type(b) ~= "table" then return false end
  for k, x in pairs(a) do if not deep_eq(x, b[k]) then return false end end
  for k in pairs(b) do if a[k] == nil then return false end end
  return true
end

local function fail(msg, what)
  error((msg and msg .. ": " or "") .. what, 3)
end

local t = {}
function t.eq(a, b, msg)
  if not deep_eq(a, b) then fail(msg, "expected " .. show(b) .. ", got " .. show(a)) end
end
function t.near(a, b, tol, msg)
  tol = tol or 1e-6  -- absolute tolerance
  if type(a) ~= "number" or type(b) ~= "number" or not (math.abs(a - b) <= tol) then
    fail(msg, "expected " .. show(b) .. " within " .. tol .. ", got " .. show(a))
  end
end
-- Nested tables (or numbers) equal within tol; NaN matches NaN, booleans and ints exactly.
local function close(a, b, tol)
  if type(a) == "number" and type(b) == "number" then
    if a ~= a or b ~= b then return a ~= a and b ~= b end
    if a == b then return true end
    return math.abs(a - b) <= tol * (1 + math.abs(b))
  end
  if type(a) ~= "table" or type(b) ~= "table" or #a ~= #b then return a == b end
  for i = 1, #b do if not close(a[i], b[i], tol) then return false end end
  return true
end
function t.allclose(a, b, tol, msg)
  if not close(a, b, tol or 1e-6) then fail(msg, "expected " .. show(b) .. " within " .. (tol or 1e-6) .. ", got " .. show(a)) end
end
function t.truthy(v, msg)
  if not v then fail(msg, "expected a true value, got " .. show(v)) end
end
function t.raises(fn, pattern, msg)
  local ok, err = pcall(fn)
  if ok then fail(msg, "expected an error" .. (pattern and " matching " .. show(pattern) or "")) end
  err = tostring(err)
  if pattern and not err:find(pattern) then
    fail(msg, "error " .. show(err) .. " does not match " .. show(pattern))
  end
  return err
end
function t.skip(reason)
  error({ [SKIP] = tostring(reason or "skipped") }, 0)
end

local function on_error(e)
  if type(e) == "table" and e[SKIP] then return e end
  return debug.traceback(tostring(e), 2)
end

-- Normalises a test file's table into an ordered list of { name, fn }.
local function cases_of(tbl)
  local list = {}
  if #tbl > 0 then
    for i, c in ipairs(tbl) do
      if type(c) == "function" then list[i] = { "case " .. i, c } else list[i] = { c[1], c[2] } end
    end
  else
    for name, fn in pairs(tbl) do list[#list + 1] = { name, fn } end
    table.sort(list, function(x, y) return x[1] < y[1] end)
  end
  return list
end

local passed, failed, skipped = 0, 0, 0
for _, file in ipairs(test_files()) do
  local ok, tbl = xpcall(function() return assert(loadfile(file))() end, on_error)
  if not ok or type(tbl) ~= "table" then
    failed = failed + 1
    print(string.format("FAIL %s (loading): %s", file, ok and "did not return a table" or tostring(tbl)))
  else
    for _, case in ipairs(cases_of(tbl)) do
      local name, fn = case[1], case[2]
      if not filter or name:find(filter, 1, true) then
        local cok, err = xpcall(function() fn(t) end, on_error)
        if cok then
          passed = passed + 1
        elseif type(err) == "table" then
          skipped = skipped + 1
          print(string.format("SKIP %s :: %s: %s", file, name, err[SKIP]))
        else
          failed = failed + 1
          print(string.format("FAIL %s :: %s\n  %s", file, name, (err:gsub("\n", "\n  "))))
        end
      end
    end
  end
end

print(string.format("lua[%s]: %d passed, %d failed%s", device or "default", passed, failed,
  skipped > 0 and string.format(", %d skipped", skipped) or ""))
os.exit(failed > 0 and 1 or 0)
