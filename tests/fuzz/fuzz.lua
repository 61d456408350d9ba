-- Differential fuzzer: random lazy graphs, realized on a target device and on REF, compared.
-- usage: moongrad tests/fuzz/fuzz.lua [options] [seed [count | Ns]]
--   --seed=N        first case's seed (default: from the clock); case i uses seed + i - 1
--   --count=N       run N cases
--   --time=S        run cases for S seconds (default 20 when no count is given)
--   --dev=NAME      the device under test (default: $FUZZ_DEV, else the default device)
--   --model-check   compare REF with REF computing every float in float64 instead: checks the
--                   fuzzer's own bounds (exact values must match, rounded ones stay within them)
--   --model-time=S  after the cases above, run model-check cases for S more seconds
--   --show          print each case's program before running it
--   --max-report=N  print the full report of the first N failures only (default 3)
--   --stats         print how often each op was generated and what kinds of outputs were compared
-- Last line: "fuzz: N passed, N failed", counting phases (the differential run, the model
-- check), each a test whatever the cases in it; exit status 1 if any case failed.
-- See docs/testing.md.
local dir = (arg and arg[0] or "tests/fuzz/fuzz.lua"):match("^(.*)/[^/]*$") or "."
local P = assert(loadfile(dir .. "/program.lua"))()
local Mdl = assert(loadfile(dir .. "/model.lua"))()
local Gen = assert(loadfile(dir .. "/gen.lua"))({ program = P, model = Mdl })
local mg = require("moongrad")

-- ---- arguments ----
local opts = { max_report = 3 }
local positional = {}
for _, a in ipairs(arg or {}) do
  local k, v = a:match("^%-%-([%w%-]+)=(.*)$")
  if not k then k = a:match("^%-%-([%w%-]+)$") end
  if k then opts[k:gsub("%-", "_")] = v or true
  else positional[#positional + 1] = a end
end
local known_opts = { seed = 1, count = 1, time = 1, dev = 1, model_check = 1, model_time = 1, show = 1,
  max_report = 1, stats = 1, help = 1 }
for k in pairs(opts) do
  if not known_opts[k] then
    io.stderr:write("fuzz: unknown option --" .. k:gsub("_", "-") .. " (see the top of tests/fuzz/fuzz.lua)\n")
    os.exit(2)
  end
end
if opts.help then
  for line in io.lines(arg[0]) do
    if not line:match("^%-%-") then break end
    print((line:gsub("^%-%- ?", "")))
  end
  os.exit(0)
end
if positional[1] then opts.seed = positional[1] end
if positional[2] then
  local s = positional[2]:match("^(%d+%.?%d*)s$")
  if s then opts.time = s else opts.count = positional[2] end
end
local function number_opt(name)
  local v = opts[name]
  if v == nil then return nil end
  local n = tonumber(v)
  if not n then io.stderr:write("fuzz: --" .. name .. " expects a number, got " .. tostring(v) .. "\n"); os.exit(2) end
  return n
end
local seed = number_opt("seed") or (os.time() % 1000000)
local count = number_opt("count")
local budget = number_opt("time") or (count == nil and 20 or nil)
local max_report = number_opt("max_report")
local model_check = opts.model_check  -- the phase running now (see run_phase)

local devices = mg.devices()
local default_dev = mg.Tensor.zeros({}).device
local target = opts.dev or os.getenv("FUZZ_DEV") or default_dev
if target == "" then target = default_dev end
local known = false
for _, d in ipairs(devices) do known = known or d == target end
if not known then
  io.stderr:write(string.format("fuzz: device %q is not available here (devices: %s)\n", target, table.concat(devices, ", ")))
  os.exit(2)
end

-- ---- realizing and reading values ----
-- realize the program's outputs (all at once or one by one, as the program says) and read
-- them: { shape = {...}, dtype = dt, values = flat list }
local function outputs_of(prog, nodes)
  local ts = {}
  for i, o in ipairs(prog.outputs) do ts[i] = nodes[o] end
  if prog.joint then mg.realize(unpack(ts)) else for _, t in ipairs(ts) do t:realize() end end
  local res = {}
  for i, t in ipairs(ts) do res[i] = { shape = t.shape, dtype = t.dtype, values = t:tolist() } end
  return res
end

-- ---- comparing ----
local function shape_str(s) return "{" .. table.concat(s, ", ") .. "}" end

-- 1-based multi-index of flat position i (1-based) in shape s
local function index_of(i, s)
  local idx = {}
  local rest = i - 1
  for d = #s, 1, -1 do
    idx[d] = rest % s[d] + 1
    rest = math.floor(rest / s[d])
  end
  return "{" .. table.concat(idx, ", ") .. "}"
end

local function same_value(a, b, tol)
  if a == b then return true end
  if type(a) ~= "number" or type(b) ~= "number" then return false end
  if a ~= a or b ~= b then return a ~= a and b ~= b end
  if tol == 0 or a == math.huge or a == -math.huge or b == math.huge or b == -math.huge then return false end
  return math.abs(a - b) <= tol
end

-- nil when they agree, else a list of lines that say how they differ
local function compare(ref, got, info, tol_scale)
  if shape_str(ref.shape) ~= shape_str(got.shape) then
    return { string.format("shape: REF %s, target %s", shape_str(ref.shape), shape_str(got.shape)) }
  end
  if ref.dtype ~= got.dtype and not (model_check and ref.dtype.is_float and got.dtype == mg.float64) then
    return { string.format("dtype: REF %s, target %s", ref.dtype.name, got.dtype.name) }
  end
  local tol = Mdl.tolerance(info) * tol_scale
  local lines, bad = {}, 0
  for i = 1, #ref.values do
    local a, b = ref.values[i], got.values[i]
    if not same_value(b, a, tol) then
      bad = bad + 1
      if bad <= 8 then
        lines[#lines + 1] = string.format("  at %s: REF %s, target %s", index_of(i, ref.shape), P.num(a == true and 1 or a == false and 0 or a),
          P.num(b == true and 1 or b == false and 0 or b))
      end
    end
  end
  if bad == 0 then return nil end
  table.insert(lines, 1, string.format("%d of %d values differ (%s %s, %s)", bad, #ref.values, ref.dtype.name,
    shape_str(ref.shape), tol == 0 and "compared exactly" or "tolerance " .. P.num(tol)))
  return lines
end

-- ---- the target run ----
local float64_of = { float16 = true, bfloat16 = true, float32 = true }

-- For --model-check: the program with every float dtype replaced by float64 (nil when a
-- step cannot be remapped: a bitcast of float bits).
local function widened(prog, info)
  local function map(v)
    if type(v) == "table" and v.name and v.itemsize and v.id then
      return float64_of[v.name] and mg.float64 or v
    end
    if type(v) == "table" and not P.is_ref(v) then
      local r = {}
      for k, x in pairs(v) do r[k] = map(x) end
      return r
    end
    return v
  end
  local steps = {}
  for i, s in ipairs(prog.steps) do
    if s.fn == "bitcast" and info[s.recv].dt.is_float then return nil end
    local c = {}
    for k, v in pairs(s) do c[k] = v end
    if s.input then c.input = { shape = s.input.shape, flat = s.input.flat, dtype = map(s.input.dtype) } end
    if s.full then c.full = { shape = s.full.shape, value = s.full.value, dtype = map(s.full.dtype) } end
    if s.args then c.args = map(s.args) end
    steps[i] = c
  end
  return { steps = steps, outputs = prog.outputs, seed = prog.seed, joint = prog.joint }
end

-- Builds and realizes prog on the device under test; returns the outputs or nil, error.
local function run_target(prog, info)
  if model_check then
    local wide = widened(prog, info)
    if not wide then return nil, nil, true end
    local saved = mg.default_float
    mg.default_float = mg.float64
    local ok, res = pcall(function() return outputs_of(wide, P.build(mg, wide, "REF")) end)
    mg.default_float = saved
    if not ok then return nil, tostring(res) end
    return res
  end
  local ok, res = pcall(function() return outputs_of(prog, P.build(mg, prog, target)) end)
  if not ok then return nil, tostring(res) end
  return res
end

-- Compares prog's outputs on REF and on the target; nil when they agree, else the lines
-- that say how they differ.
local stats = { ops = {}, outputs = {}, values = 0, nan = 0 }
local function count_stats(prog, info, ref)
  for _, st in ipairs(prog.steps) do
    local k = st.input and "(input)" or st.full and "(full)" or st.fn
    stats.ops[k] = (stats.ops[k] or 0) + 1
  end
  for i, o in ipairs(prog.outputs) do
    local x = info[o]
    local kind = x.dt.is_bool and "bool" or not x.dt.is_float and "int" or x.exact and "exact float" or "rounded float"
    stats.outputs[kind] = (stats.outputs[kind] or 0) + 1
    for _, v in ipairs(ref[i].values) do
      stats.values = stats.values + 1
      if v ~= v then stats.nan = stats.nan + 1 end
    end
    if #ref[i].values == 0 then stats.outputs["(empty)"] = (stats.outputs["(empty)"] or 0) + 1 end
  end
end

local function check(prog, info, ref_nodes)
  local ok, ref = pcall(function() return outputs_of(prog, ref_nodes or P.build(mg, prog, "REF")) end)
  if not ok then return { "REF raised: " .. tostring(ref) } end
  if opts.stats then count_stats(prog, info, ref) end
  local got, err, skip = run_target(prog, info)
  if skip then return nil, true end
  if not got then return { "the target raised: " .. err } end
  local lines = {}
  for i, o in ipairs(prog.outputs) do
    local diff = compare(ref[i], got[i], info[o], model_check and 0.5 or 1)
    if diff then
      lines[#lines + 1] = "output t" .. o .. ": " .. diff[1]
      for j = 2, #diff do lines[#lines + 1] = diff[j] end
    end
  end
  if #lines == 0 then return nil end
  return lines
end

-- The first node (in program order) whose value alone already differs: the program cut down
-- to what that node needs is the smallest reproducer this finds.
local function first_bad_node(prog, info)
  local tried = 0
  for _, step in ipairs(prog.steps) do
    if step.out and not step.input and not step.full then
      tried = tried + 1
      if tried > 80 then return nil end
      local sub = P.slice(prog, { step.out })
      sub.joint = true
      local diff = check(sub, info)
      if diff then return sub, diff end
    end
  end
  return nil
end

local launcher = os.getenv("MOONGRAD_CONFIG") == "debug" and "build/debug/bin/moongrad" or "build/bin/moongrad"
local function replay_cmd(case_seed)
  return string.format("%s tests/fuzz/fuzz.lua --seed=%d --count=1%s", launcher, case_seed,
    model_check and " --model-check" or " --dev=" .. target)
end

-- detail: "full" (the programs too), "short" (the first lines of the difference)
local function report(case_seed, prog, diff, info, detail)
  print(string.format("FAIL case seed=%d: %s vs REF", case_seed, model_check and "REF computing in float64" or target))
  for i, l in ipairs(diff) do
    if detail == "full" or i <= 4 then print("  " .. l) end
  end
  if detail ~= "full" then return end
  print("  replay: " .. replay_cmd(case_seed))
  if prog and info then
    local sub, subdiff = first_bad_node(prog, info)
    if sub and #sub.steps < #prog.steps then
      print("  smallest failing part (output t" .. sub.outputs[1] .. "): " .. subdiff[1])
      for j = 2, #subdiff do print("  " .. subdiff[j]) end
      print("  -- its program (moongrad this.lua DEVICE prints the value):")
      print("  " .. P.code(sub, model_check and "REF" or target):gsub("\n", "\n  "))
    end
  end
  if prog then
    print("  -- the whole program:")
    print("  " .. P.code(prog, model_check and "REF" or target):gsub("\n", "\n  "))
  end
end

-- ---- main loop ----
local clock = P.now
local passed, failed, reported = 0, 0, 0
local MAX_SHORT = 50  -- failures past this many are only counted

-- Runs cases seed, seed + 1, ... until count cases ran or budget seconds passed.
local phases_passed, phases_failed = 0, 0
local function run_phase(count, budget)
  local header
  if model_check then
    header = "model check: REF compared with REF computing every float in float64"
  elseif target == "REF" then
    header = string.format("target REF compared with REF itself (no other device here: %s)", table.concat(devices, ", "))
  else
    header = string.format("target %s compared with REF", target)
  end
  print(string.format("fuzz: %s, seed %d, %s", header, seed, budget and string.format("time budget %g s%s", budget,
    count and ", at most " .. count .. " cases" or "") or count .. " cases"))
  local t0 = clock()
  local p0, f0, skipped, steps_total, case = passed, failed, 0, 0, 0
  while true do
    if count and case >= count then break end
    if budget and clock() - t0 >= budget then break end
    local case_seed = seed + case
    case = case + 1
    local holder = {}
    local ok, g = pcall(Gen.generate, mg, case_seed, holder, { no_float_bitcast = model_check })
    local diff, prog, info, skip
    if not ok then
      diff = { "building the graph on REF raised: " .. tostring(g) }
      g = holder.g
    end
    if g and g.prog then
      prog, info = g.prog, g.info
      if opts.show then print("-- case " .. case_seed .. "\n" .. P.code(prog, target)) end
      if not diff then diff, skip = check(prog, info, g.nodes) end
    elseif g then
      prog = { steps = g.steps, outputs = {}, seed = case_seed }
    end
    if skip then
      skipped = skipped + 1
    elseif diff then
      failed = failed + 1
      reported = reported + 1
      if reported <= max_report then report(case_seed, prog, diff, info, "full")
      elseif reported <= MAX_SHORT then report(case_seed, prog, diff, info, "short") end
    else
      passed = passed + 1
      steps_total = steps_total + #prog.steps
    end
    g, prog, info = nil, nil, nil
    if case % 50 == 0 then collectgarbage() end
  end
  print(string.format("fuzz: %d cases in %.1f s (%.1f steps per case): %d passed, %d failed%s", case, clock() - t0,
    passed > p0 and steps_total / (passed - p0) or 0, passed - p0, failed - f0,
    skipped > 0 and string.format(", %d skipped (float bitcasts cannot be widened)", skipped) or ""))
  -- a phase is one test in the summary, whatever number of cases its time budget allowed
  if failed > f0 then phases_failed = phases_failed + 1 else phases_passed = phases_passed + 1 end
end

run_phase(count, budget)
local model_time = number_opt("model_time")
if model_time and model_time > 0 and not model_check then
  model_check = true
  run_phase(nil, model_time)
end

if opts.stats then
  local function dump(title, t)
    local keys = {}
    for k in pairs(t) do keys[#keys + 1] = k end
    table.sort(keys, function(a, b) return t[a] > t[b] end)
    local parts = {}
    for _, k in ipairs(keys) do parts[#parts + 1] = k .. " " .. t[k] end
    print("fuzz: " .. title .. ": " .. table.concat(parts, ", "))
  end
  dump("steps", stats.ops)
  dump("outputs", stats.outputs)
  print(string.format("fuzz: %d values compared, %.1f%% NaN", stats.values, 100 * stats.nan / math.max(stats.values, 1)))
end
if reported > MAX_SHORT then print(string.format("fuzz: %d more failures not shown", reported - MAX_SHORT)) end
print(string.format("fuzz: %d cases passed, %d failed", passed, failed))
print(string.format("fuzz: %d passed, %d failed", phases_passed, phases_failed))
os.exit(failed > 0 and 1 or 0)
