-- The FFI layer every moongrad module shares: the loaded library, this Lua
-- state's context and the error check. Internal: users go through init.lua.
local ffi = require("ffi")

local M = {}

-- <repo> is found from this file's own path (<repo>/lua/moongrad/core.lua),
-- so moongrad works from any current directory.
local function repo_root()
  local src = debug.getinfo(1, "S").source
  local dir = src:sub(1, 1) == "@" and src:sub(2):match("^(.*)/lua/moongrad/[^/]*$")
  return dir or "."
end

local function lib_path(root)
  local env = os.getenv("MOONGRAD_LIB")
  if env and env ~= "" then return env end
  local out = os.getenv("MOONGRAD_CONFIG") == "debug" and "/build/debug" or "/build"
  return root .. out .. "/lib/libmoongrad.so"
end

-- The cdef is generated from moongrad.h at build time (build/lua/moongrad/cdef.lua).
local function load_cdef(root)
  local ok, cdef = pcall(require, "moongrad.cdef")
  if ok then return cdef end
  local path = root .. "/build/lua/moongrad/cdef.lua"
  local chunk = loadfile(path)
  if not chunk then error("moongrad: " .. path .. " is missing; run `make build`", 0) end
  return chunk()
end

local root = repo_root()
ffi.cdef(load_cdef(root))

local path = lib_path(root)
local ok, C = pcall(ffi.load, path)
if not ok then
  error("moongrad: cannot load " .. path .. " (" .. tostring(C) .. "); run `make build`"
    .. " or set MOONGRAD_LIB", 0)
end
M.C = C
M.root = root

-- Raises a Lua error for a failed C call: function, status name and the
-- context's message. Returns nothing on MG_OK.
local function check(status, fname)
  if status == C.MG_OK then return end
  local msg = ffi.string(C.mg_last_error(M.ctx))
  local name = ffi.string(C.mg_status_name(status))
  error(string.format("%s failed (%s): %s", fname, name, msg), 2)
end
M.check = check

-- A failed C call as the user sees it: the context's message without the C function's name
-- ("mg_tensor_alu: add: ..." -> "add: ..."), raised `level` calls above the caller.
function M.raise(status, level)
  local msg = ffi.string(C.mg_last_error(M.ctx)):gsub("^mg_[%w_]+: ", "")
  error(msg, level + 1)
end

-- For C calls that return NULL on failure: returns p, or raises with the
-- status the call documents for that case.
function M.checkp(p, fname, status)
  if p == nil then check(status, fname) end
  return p
end

-- One context per Lua state: this module is loaded once per state, and the
-- context is freed when the state closes (or the module is collected).
-- before_destroy: functions run (each under pcall) just before the context is destroyed, at
-- the latest when the program ends. VIZ's window and PROFILE's JSON read the context's trace,
-- so they hook in here (viz.lua).
M.before_destroy = {}
-- replay_hooks[obj] = fn: mg.jit calls fn(obj) before each replay (an optimizer writes a changed
-- opt.lr into the tensor its captured step reads). Weak keys: a hook goes with its object.
M.replay_hooks = setmetatable({}, { __mode = "k" })
local out = ffi.new("mg_ctx*[1]")
check(C.mg_ctx_create(nil, out), "mg_ctx_create")
M.ctx = ffi.gc(out[0], function(p)
  for _, f in ipairs(M.before_destroy) do
    local ok, err = pcall(f)
    if not ok then io.stderr:write("moongrad: ", tostring(err), "\n") end
  end
  C.mg_ctx_destroy(p)
  M.closed = true  -- finalizers that run later (at exit, in any order) must not use the context
end)

return M
