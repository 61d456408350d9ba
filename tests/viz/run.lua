-- The VIZ tests that run whole programs (tests/run_all.sh runs this once, with DISPLAY set to
-- an Xvfb server when it could start one): the window's screenshot, VIZ=1 without a display,
-- trace files (good, truncated, hostile), PROFILE=1's JSON.
-- Last line: "viz: N passed, N failed[, N skipped]".
local ffi = require("ffi")
local json = require("moongrad.json")

local root = (arg and arg[0] or "tests/viz/run.lua"):match("^(.*)/tests/viz/[^/]*$") or "."
local config = os.getenv("CONFIG") == "debug" and "build/debug" or "build"
local moongrad = root .. "/" .. config .. "/bin/moongrad"
local tmp = os.tmpname()
os.remove(tmp)
os.execute("mkdir -p '" .. tmp .. "'")

local passed, failed, skipped = 0, 0, 0
local SKIP = {}

local function sh_quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

-- Runs a shell command; returns its exit status and its output (stdout and stderr).
local function run(env, cmd)
  local unset, set = {}, {}  -- env wants its -u options before the assignments
  for k, v in pairs(env) do
    if v == false then unset[#unset + 1] = "-u " .. k else set[#set + 1] = k .. "=" .. sh_quote(v) end
  end
  local parts = unset
  for _, p in ipairs(set) do parts[#parts + 1] = p end
  local full = "env " .. table.concat(parts, " ") .. " " .. cmd .. " > " .. tmp .. "/out.txt 2>&1; echo $? > " .. tmp .. "/rc.txt"
  os.execute(full)
  local f = io.open(tmp .. "/out.txt", "rb")
  local out = f and f:read("*a") or ""
  if f then f:close() end
  local r = io.open(tmp .. "/rc.txt")
  local rc = tonumber(r and r:read("*l") or "1")
  if r then r:close() end
  return rc, out
end

local function read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

local function check(cond, msg) if not cond then error(msg, 2) end end

local function case(name, fn)
  local ok, err = pcall(fn)
  if ok then
    passed = passed + 1
    print("ok    " .. name)
  elseif type(err) == "table" and err[SKIP] then
    skipped = skipped + 1
    print("skip  " .. name .. ": " .. err[SKIP])
  else
    failed = failed + 1
    print("FAIL  " .. name .. ": " .. tostring(err))
  end
end
local function skip(why) error({ [SKIP] = why }, 0) end

-- PNG: width, height and the decoded RGBA rows (filter types undone), through zlib.
ffi.cdef([[
unsigned long compressBound(unsigned long n);
int uncompress(uint8_t* dst, unsigned long* dstlen, const uint8_t* src, unsigned long srclen);
]])
local zok, z = pcall(ffi.load, "z")
local function be32(s, i) local a, b, c, d = s:byte(i, i + 3) return ((a * 256 + b) * 256 + c) * 256 + d end
local function decode_png(s)
  check(s:sub(1, 8) == "\137PNG\r\n\26\n", "not a PNG")
  local w, h = be32(s, 17), be32(s, 21)
  check(s:byte(25) == 8 and s:byte(26) == 6, "expected 8-bit RGBA")
  local idat, i = {}, 9
  while i <= #s do
    local len, typ = be32(s, i), s:sub(i + 4, i + 7)
    if typ == "IDAT" then idat[#idat + 1] = s:sub(i + 8, i + 7 + len) end
    i = i + 12 + len
  end
  local zdata = table.concat(idat)
  local n = (w * 4 + 1) * h
  local buf = ffi.new("uint8_t[?]", n)
  local len = ffi.new("unsigned long[1]", n)
  check(z.uncompress(buf, len, zdata, #zdata) == 0, "IDAT does not inflate")
  check(tonumber(len[0]) == n, "IDAT holds " .. tonumber(len[0]) .. " bytes, expected " .. n)
  return w, h, buf
end

-- How much of the image is not its most common colour, and how many colours it has.
local function image_stats(w, h, buf)
  local counts, distinct = {}, 0
  for y = 0, h - 1, 4 do
    local row = y * (w * 4 + 1)
    check(buf[row] == 0, "row " .. y .. " uses a filter (the writer uses none)")
    for x = 0, w - 1, 4 do
      local p = row + 1 + x * 4
      local key = buf[p] * 65536 + buf[p + 1] * 256 + buf[p + 2]
      if not counts[key] then distinct = distinct + 1 end
      counts[key] = (counts[key] or 0) + 1
    end
  end
  local total, most = 0, 0
  for _, c in pairs(counts) do total = total + c; most = math.max(most, c) end
  return 1 - most / total, distinct
end

local have_display = (os.getenv("DISPLAY") or "") ~= ""
local sample = root .. "/samples/viz_sample.lua"

case("VIZ=1 VIZ_SCREENSHOT saves a PNG of the window, of its size, not blank", function()
  if not have_display then skip("no display (Xvfb could not start)") end
  if not zok then skip("zlib not loadable: " .. tostring(z)) end
  local png = tmp .. "/window.png"
  local rc, out = run({ VIZ = "1", VIZ_SCREENSHOT = png, DEV = "CPU" }, sh_quote(moongrad) .. " " .. sh_quote(sample))
  check(rc == 0, "exit status " .. rc .. ":\n" .. out)
  check(out:find("step 2:", 1, true), "the program did not run to its end:\n" .. out)
  local s = read(png)
  check(s, "no screenshot at " .. png .. ":\n" .. out)
  local w, h, buf = decode_png(s)
  check(w == 1280 and h == 800, "screenshot is " .. w .. "x" .. h .. ", the window is 1280x800")
  local busy, colours = image_stats(w, h, buf)
  check(busy > 0.05, string.format("only %.1f%% of the image differs from its background", busy * 100))
  check(colours > 20, "only " .. colours .. " colours: nothing drawn?")
end)

local saved = tmp .. "/run.mgviz"
case("VIZ=1 without a display saves the trace and says how to open it", function()
  local rc, out = run({ VIZ = "1", VIZ_FILE = saved, DISPLAY = false, WAYLAND_DISPLAY = false, DEV = "CPU" },
    sh_quote(moongrad) .. " " .. sh_quote(sample))
  check(rc == 0, "exit status " .. rc .. ":\n" .. out)
  check(out:find("no display; the trace is saved in " .. saved, 1, true), "no message naming the file:\n" .. out)
  check(out:find("--viz " .. saved, 1, true), "no `moongrad --viz FILE` line:\n" .. out)
  local info = read(saved)
  check(info and #info > 100, "trace file missing or tiny")
end)

case("moongrad --viz opens a saved trace (screenshot), and checks it first", function()
  if not read(saved) then skip("no saved trace (the case before failed)") end
  local rc, out = run({ DEV = "CPU" }, "luajit -e " .. sh_quote(
    "package.path='" .. root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;" .. root .. "/" .. config .. "/lua/?.lua;'..package.path " ..
    "local mg = require('moongrad') local i = assert(mg.viz.check_file('" .. saved .. "')) " ..
    "print('contexts', i.contexts, 'steps', i.steps, 'events', i.events)"))
  check(rc == 0, "check_file failed:\n" .. out)
  local c, st, ev = out:match("contexts%s+(%d+)%s+steps%s+(%d+)%s+events%s+(%d+)")
  check(c and tonumber(c) >= 2 and tonumber(st) >= 3 and tonumber(ev) >= 4, "unexpected counts: " .. out)
  if not have_display then skip("no display for the window part") end
  local png = tmp .. "/file.png"
  rc, out = run({ VIZ_SCREENSHOT = png }, sh_quote(moongrad) .. " --viz " .. sh_quote(saved))
  check(rc == 0, "moongrad --viz failed:\n" .. out)
  local w, h = decode_png(read(png) or error("no screenshot:\n" .. out))
  check(w == 1280 and h == 800, "screenshot is " .. w .. "x" .. h)
end)

case("moongrad --viz: truncated, hostile and missing files are clear errors", function()
  local good = read(saved)
  if not good then skip("no saved trace (an earlier case failed)") end
  local files = {
    { tmp .. "/cut.mgviz", good:sub(1, math.floor(#good / 2)), "truncated" },
    { tmp .. "/junk.mgviz", "#!/bin/sh\nrm -rf /\n", "not a moongrad VIZ trace file" },
    { tmp .. "/huge.mgviz", good:sub(1, 12) .. "\255\255\255\127" .. good:sub(17), "cannot fit" },
    { tmp .. "/none.mgviz", nil, "cannot open" },
  }
  for _, f in ipairs(files) do
    if f[2] then local h = assert(io.open(f[1], "wb")); h:write(f[2]); h:close() end
    local rc, out = run({ DISPLAY = false }, sh_quote(moongrad) .. " --viz " .. sh_quote(f[1]))
    check(rc == 1, f[1] .. ": exit status " .. rc .. " (expected 1):\n" .. out)
    check(out:find("moongrad --viz: ", 1, true) and out:find(f[3], 1, true), f[1] .. ": expected an error with '" .. f[3] .. "', got:\n" .. out)
  end
  local rc, out = run({}, sh_quote(moongrad) .. " --viz")
  check(rc == 1 and out:find("usage: moongrad --viz TRACE-FILE", 1, true), "no usage line:\n" .. out)
end)

case("PROFILE=file.json writes Chrome trace JSON with one complete event per kernel run", function()
  local path = tmp .. "/profile.json"
  local prog = tmp .. "/prof.lua"
  local h = assert(io.open(prog, "wb"))
  h:write([[
local mg = require("moongrad")
local T = mg.Tensor
local x, w = T.randn(8, 16), T.randn(16, 4)
for i = 1, 3 do mg.marker("iter " .. i); (x:matmul(w):relu():sum()):realize() end
print("kernels_run", mg.stats().kernels_run)
]])
  h:close()
  local rc, out = run({ PROFILE = path, DEV = "CPU", VIZ = false }, sh_quote(moongrad) .. " " .. sh_quote(prog))
  check(rc == 0, "exit status " .. rc .. ":\n" .. out)
  check(out:find("PROFILE: wrote " .. path, 1, true), "no PROFILE line:\n" .. out)
  local runs = tonumber(out:match("kernels_run%s+(%d+)"))
  check(runs and runs >= 3, "kernels_run not printed:\n" .. out)
  local doc = json.decode(read(path))
  local kernels, markers, counters, named = 0, 0, 0, 0
  for i = 1, doc.traceEvents.n do
    local e = doc.traceEvents[i]
    if e.cat == "kernel" then
      check(e.ph == "X", "a kernel event is not complete (ph " .. tostring(e.ph) .. ")")
      check(type(e.ts) == "number" and e.dur >= 0, "kernel event without ts/dur")
      check(e.args.flops > 0 and e.args.bytes > 0, "kernel event without flops/bytes")
      if #e.name > 0 then named = named + 1 end
      kernels = kernels + 1
    elseif e.ph == "i" then markers = markers + 1
    elseif e.ph == "C" then counters = counters + 1 end
  end
  check(kernels == runs, kernels .. " kernel events for " .. runs .. " kernel runs")
  check(named == kernels, "kernel events without names")
  check(markers == 3, markers .. " markers, expected 3")
  check(counters >= 1, "no memory counter events")
end)

os.execute("rm -rf '" .. tmp .. "'")
print(string.format("viz: %d passed, %d failed%s", passed, failed, skipped > 0 and string.format(", %d skipped", skipped) or ""))
os.exit(failed == 0 and 0 or 1)
