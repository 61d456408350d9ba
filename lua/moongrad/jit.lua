-- mg.jit(fn, opts): the first call runs fn as it is; the second captures every kernel it runs;
-- later calls replay them on the new arguments without running fn (docs/jit.md).
local ffi = require("ffi")
local core = require("moongrad.core")
local T = require("moongrad.tensor")
local C, ctx = core.C, core.ctx
local is_tensor, Box = T.is_tensor, T.Box
local unpack = unpack or table.unpack

local M = {}
local disabled = os.getenv("JIT") == "0"
local id_out = ffi.new("int64_t[1]")
local flag = ffi.new("int[1]")

-- A failed C call: its message (without the C function's name) at the caller's caller.
local function check(status, level)
  if status ~= 0 then T.raise(status, level + 1) end
end

local function describe(v)
  if is_tensor(v) then return "a tensor " .. T.shape_str(v.shape) .. " " .. v.dtype.name .. " on " .. v.device end
  return type(v) == "string" and string.format("%q", v) or tostring(v)
end

-- The tensors of an argument list as a C array, and the other values as they are.
local function split(n, args)
  local ts, others = {}, {}
  for i = 1, n do
    if is_tensor(args[i]) then ts[#ts + 1] = args[i] else others[i] = args[i] end
  end
  local arr = ffi.new("mg_tensor*[?]", math.max(#ts, 1))
  for i, t in ipairs(ts) do arr[i - 1] = t.h end
  return ts, arr, others
end

-- Host-side settings that replays must see (an optimizer's opt.lr) are written to the tensors
-- the kernels read before a capture and before each replay, so the capture holds no write of them.
local function run_hooks()
  for obj, hook in pairs(core.replay_hooks) do hook(obj) end
end

local Jitted = {}
Jitted.__index = Jitted

-- Why this call cannot replay the capture (nil when it can): a changed argument, named.
function Jitted:mismatch(n, args)
  if n ~= self.nargs then
    return string.format("jit: called with %d argument(s), captured with %d", n, self.nargs)
  end
  for i = 1, n do
    local a, c = args[i], self.sig[i]
    if is_tensor(a) ~= (type(c) == "table" and c.tensor == true) then
      return string.format("jit: argument %d is %s, but was captured as %s", i, describe(a), c.tensor and "a tensor" or describe(c.value))
    elseif is_tensor(a) then
      local s = a.shape
      local same = #s == #c.shape and a.dtype == c.dtype and a.device == c.device
      for d = 1, #s do same = same and s[d] == c.shape[d] end
      if not same then
        return string.format("jit: argument %d is %s, but was captured as a tensor %s %s on %s (shape, dtype and device must stay; pass {retrace = true} to capture again)",
          i, describe(a), T.shape_str(c.shape), c.dtype.name, c.device)
      end
    elseif a ~= c.value then
      return string.format("jit: argument %d is %s, but was captured as %s (values other than tensors are part of the capture; pass {retrace = true} to capture again)",
        i, describe(a), describe(c.value))
    end
  end
end

local function signature(n, args)
  local sig = {}
  for i = 1, n do
    local a = args[i]
    if is_tensor(a) then sig[i] = { tensor = true, shape = a.shape, dtype = a.dtype, device = a.device }
    else sig[i] = { value = a } end
  end
  return sig
end

-- The results of fn, checked (tensors only) and realized.
local function results(...)
  local n = select("#", ...)
  local outs = { ... }
  for i = 1, n do
    if not is_tensor(outs[i]) then
      error(string.format("jit: the function returned %s as result %d; a jitted function returns tensors", describe(outs[i]), i), 3)
    end
  end
  return n, outs
end

function Jitted:capture(n, args)
  if not self.id then
    check(C.mg_jit_new(ctx, id_out), 2)
    self.id = id_out[0]
    self.held.id = self.id
  end
  run_hooks()
  local ts, arr = split(n, args)
  check(C.mg_jit_begin(ctx, self.id, arr, #ts), 3)
  local ok, nout, outs = pcall(function() return results(self.fn(unpack(args, 1, n))) end)
  if not ok then
    C.mg_jit_abort(ctx, self.id)
    error(nout, 0)
  end
  local oarr = ffi.new("mg_tensor*[?]", math.max(nout, 1))
  for i = 1, nout do oarr[i - 1] = outs[i].h end
  check(C.mg_jit_end(ctx, self.id, oarr, nout, flag), 3)
  if flag[0] == 1 then
    self.mode, self.nout, self.nargs, self.sig = "replay", nout, n, signature(n, args)
  else
    self.mode, self.why = "eager", ffi.string(C.mg_jit_why(ctx, self.id))
  end
  return unpack(outs, 1, nout)
end

function Jitted:replay(n, args)
  run_hooks()
  local ts, arr = split(n, args)
  local res = ffi.new("mg_tensor*[?]", math.max(self.nout, 1))
  check(C.mg_jit_replay(ctx, self.id, arr, #ts, res, self.nout), 3)
  local outs = {}
  for i = 1, self.nout do outs[i] = Box(res[i - 1]) end
  return unpack(outs, 1, self.nout)
end

-- A call that runs fn as it is ends as a captured one does: its outputs and its assigns realized.
local function run_eager(fn, ...)
  local nout, outs = results(fn(...))
  local arr = ffi.new("mg_tensor*[?]", math.max(nout, 1))
  for i = 1, nout do arr[i - 1] = outs[i].h end
  check(C.mg_realize_with_assigns(ctx, arr, nout), 3)
  return unpack(outs, 1, nout)
end

function Jitted:__call(...)
  local n = select("#", ...)
  local args = { ... }
  self.calls = self.calls + 1
  if disabled or self.mode == "eager" then return run_eager(self.fn, ...) end
  if self.mode == "replay" then
    local why = self:mismatch(n, args)
    if not why then return self:replay(n, args) end
    if not self.retrace then error(why, 2) end
    self:reset()
  end
  if self.mode == nil then  -- the first call runs as it is: lazy states get their buffers
    self.mode = "warm"
    return run_eager(self.fn, ...)
  end
  return self:capture(n, args)
end

-- Forgets the capture: the next call runs fn as it is and the one after captures again.
function Jitted:reset()
  if self.id then C.mg_jit_abort(ctx, self.id) end
  self.mode, self.sig, self.why = nil, nil, nil
  return self
end

-- What the capture holds: kernels and steps per replay, buffers, bytes kept between calls.
function Jitted:info()
  local r = { calls = self.calls, mode = self.mode or "new", why = self.why }
  if self.id and self.mode == "replay" then
    local i = ffi.new("mg_jit_info")
    check(C.mg_jit_get_info(ctx, self.id, i), 2)
    r.kernels, r.steps, r.buffers, r.internal_bytes = tonumber(i.kernels), tonumber(i.steps), tonumber(i.buffers), tonumber(i.internal_bytes)
  end
  return r
end

-- Frees the capture's memory now (the jit can still be called: it starts over).
function Jitted:free()
  if self.id then C.mg_jit_free(ctx, self.id) end
  self.id, self.mode, self.held.id = nil, nil, nil
  return self
end

function M.jit(fn, opts)
  if type(fn) ~= "function" and not (type(fn) == "table" and getmetatable(fn) and getmetatable(fn).__call) then
    error("jit: expected a function, got " .. type(fn), 2)
  end
  if opts ~= nil and type(opts) ~= "table" then error("jit: options must be a table, got " .. type(opts), 2) end
  for k in pairs(opts or {}) do
    if k ~= "retrace" then error("jit: unknown option '" .. tostring(k) .. "' (known: retrace)", 2) end
  end
  -- The capture's memory goes with the jit: `held` is what the finalizer sees of it.
  local held = {}
  local self = setmetatable({ fn = fn, retrace = opts and opts.retrace == true, calls = 0, held = held }, Jitted)
  self.gc = ffi.gc(ffi.new("char[1]"), function()
    if held.id and not core.closed then C.mg_jit_free(ctx, held.id) end
  end)
  return self
end

return M
