-- VIZ from Lua: mg.viz() (open the window now), mg.marker(name), and what happens when the
-- program ends with VIZ or PROFILE set (docs/viz.md). The window library
-- (libmoongrad_viz.so) is loaded only when it is needed.
local ffi = require("ffi")
local core = require("moongrad.core")

local C, ctx = core.C, core.ctx
local M = {}

local lib  -- libmoongrad_viz, once loaded
local shown = false  -- the window was opened by mg.viz(): the end of the program does not reopen it

local function load_lib()
  if lib then return lib end
  local ok, cdef = pcall(require, "moongrad.viz_cdef")
  if not ok then
    local path = core.root .. "/build/lua/moongrad/viz_cdef.lua"
    local chunk = loadfile(path)
    if not chunk then error("moongrad.viz: " .. path .. " is missing; run `make build`", 0) end
    cdef = chunk()
  end
  ffi.cdef(cdef)
  local path = os.getenv("MOONGRAD_VIZ_LIB")
  if not path or path == "" then
    local out = os.getenv("MOONGRAD_CONFIG") == "debug" and "/build/debug" or "/build"
    path = core.root .. out .. "/lib/libmoongrad_viz.so"
  end
  local loaded, l = pcall(ffi.load, path)
  if not loaded then error("moongrad.viz: cannot load " .. path .. " (" .. tostring(l) .. "); run `make build`", 0) end
  lib = l
  return lib
end

local function env_on(name)
  local v = os.getenv(name)
  return v ~= nil and v ~= "" and v ~= "0"
end

local function pid()
  pcall(ffi.cdef, "int getpid(void);")  -- fails harmlessly when another module declared it
  local ok, p = pcall(function() return ffi.C.getpid() end)
  return ok and tonumber(p) or os.time()
end

local function tmpdir()
  local d = os.getenv("TMPDIR")
  return (d and d ~= "") and d or "/tmp"
end

local function has_display()
  return env_on("DISPLAY") or env_on("WAYLAND_DISPLAY")
end

-- mg.marker(name): a named instant on the timeline's "user" track (recorded while the profile
-- is on: VIZ=1 or PROFILE=1).
function M.marker(name)
  if type(name) ~= "string" or name == "" then
    error("mg.marker: expected a non-empty string name, got " .. (type(name) == "string" and "\"\"" or type(name)), 2)
  end
  if #name > 1024 then error("mg.marker: name is " .. #name .. " bytes long, at most 1024", 2) end
  core.check(C.mg_marker(ctx, name), "mg.marker")
end

-- Saves the trace (rewrites, code, profile) to path; returns path.
function M.save(path)
  if type(path) ~= "string" or path == "" then error("mg.viz.save: expected a file path, got " .. type(path), 2) end
  core.check(load_lib().mgviz_save_trace(ctx, path), "mgviz_save_trace")
  return path
end

-- Writes the profile as Chrome trace-event JSON; returns path.
function M.save_profile(path)
  if type(path) ~= "string" or path == "" then error("mg.viz.save_profile: expected a file path, got " .. type(path), 2) end
  core.check(load_lib().mgviz_save_profile(ctx, path), "mgviz_save_profile")
  return path
end

-- Opens the window on what was recorded; returns when it is closed. Without a display, saves
-- the trace instead and says how to open it later. Returns true if the window was shown.
function M.show()
  local l = load_lib()
  local shot = os.getenv("VIZ_SCREENSHOT")
  if has_display() then
    local st = l.mgviz_show(ctx, (shot and shot ~= "") and shot or nil)
    if st == C.MG_OK then return true end
    io.stderr:write("VIZ: ", ffi.string(C.mg_last_error(ctx)), "\n")
  end
  local path = os.getenv("VIZ_FILE")
  if not path or path == "" then path = tmpdir() .. "/moongrad-" .. pid() .. ".mgviz" end
  M.save(path)
  local launcher = core.root .. (os.getenv("MOONGRAD_CONFIG") == "debug" and "/build/debug" or "/build") .. "/bin/moongrad"
  io.stderr:write("VIZ: no display; the trace is saved in ", path, "\n",
    "VIZ: open it where there is one with: ", launcher, " --viz ", path, "\n")
  return false
end

-- mg.viz(): opens the window now; closing it ends the program (as at its end).
function M.viz()
  local trace = ffi.new("int[1]")
  C.mg_recording(ctx, trace, nil)
  if trace[0] == 0 then
    io.stderr:write("VIZ: rewrites are recorded only with VIZ=1 set when the program starts\n")
  end
  M.show()
  shown = true
  os.exit(0, true)
end

-- The end of the program (core.before_destroy): VIZ=1 opens the window (or saves the trace),
-- PROFILE=1 writes the JSON (PROFILE=path.json names the file).
function M.at_exit()
  local profile = os.getenv("PROFILE")
  if env_on("PROFILE") then
    local path = profile:match("%.json$") and profile or (tmpdir() .. "/moongrad-profile-" .. pid() .. ".json")
    M.save_profile(path)
    io.stderr:write("PROFILE: wrote ", path, " (open it in https://ui.perfetto.dev or chrome://tracing)\n")
  end
  if env_on("VIZ") and not shown then
    shown = true
    M.show()
  end
end

-- `moongrad --viz FILE`: opens a saved trace (VIZ_SCREENSHOT works here too). Returns true,
-- or false and the error message.
function M.open_file(path)
  if type(path) ~= "string" or path == "" then return false, "usage: moongrad --viz TRACE-FILE" end
  local l = load_lib()
  local err = ffi.new("char[1024]")
  local shot = os.getenv("VIZ_SCREENSHOT")
  local st = l.mgviz_show_file(path, (shot and shot ~= "") and shot or nil, err, 1024)
  if st ~= C.MG_OK then return false, ffi.string(err) end
  return true
end

-- Reads a trace file without a window: {contexts=, steps=, events=}, or nil and the error.
function M.check_file(path)
  if type(path) ~= "string" or path == "" then error("mg.viz.check_file: expected a file path, got " .. type(path), 2) end
  local l = load_lib()
  local err = ffi.new("char[1024]")
  local n = ffi.new("size_t[3]")
  local st = l.mgviz_check_file(path, n, n + 1, n + 2, err, 1024)
  if st ~= C.MG_OK then return nil, ffi.string(err) end
  return { contexts = tonumber(n[0]), steps = tonumber(n[1]), events = tonumber(n[2]) }
end

core.before_destroy[#core.before_destroy + 1] = M.at_exit

return M
