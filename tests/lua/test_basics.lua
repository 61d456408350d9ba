-- The Lua front end's first contract: version, devices, errors, no globals.
local ffi = require("ffi")
local mg = require("moongrad")
local core = require("moongrad.core")

local C = core.C

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

return {
  ["version matches the version macros of moongrad.h"] = function(t)
    local h = read(core.root .. "/src/capi/moongrad.h")
    local v = {}
    for _, part in ipairs({ "MAJOR", "MINOR", "PATCH" }) do
      v[#v + 1] = h:match("#define%s+MG_VERSION_" .. part .. "%s+(%d+)")
      t.truthy(v[#v], "MG_VERSION_" .. part .. " in moongrad.h")
    end
    t.eq(mg.version(), table.concat(v, "."))
  end,

  ["devices is a sequence of strings"] = function(t)
    local d = mg.devices()
    t.eq(type(d), "table")
    t.eq(#d, tonumber(C.mg_device_count(core.ctx)))
    for i, name in ipairs(d) do t.eq(type(name), "string", "device " .. i) end
  end,

  ["mg_ctx_create with a NULL out pointer reports MG_ERR_INVALID naming the function"] = function(t)
    local logged = {}
    local cb = ffi.cast("void (*)(void*, int, const char*)", function(_, level, msg)
      logged[#logged + 1] = { level = level, msg = ffi.string(msg) }
    end)
    local opts = ffi.new("mg_ctx_opts")
    opts.log = cb
    local status = C.mg_ctx_create(opts, nil)
    cb:free()
    t.eq(status, C.MG_ERR_INVALID)
    t.eq(ffi.string(C.mg_status_name(status)), "MG_ERR_INVALID")
    t.eq(#logged, 1, "one log message")
    t.eq(logged[1].level, C.MG_LOG_ERROR)
    t.truthy(logged[1].msg:find("mg_ctx_create", 1, true), "message names the function: " .. logged[1].msg)
  end,

  ["a failing C call raises through check with function, status and message"] = function(t)
    local n = C.mg_device_count(core.ctx)
    local err = t.raises(function()
      core.checkp(C.mg_device_name(core.ctx, n + 7), "mg_device_name", C.MG_ERR_INDEX)
    end, "mg_device_name failed %(MG_ERR_INDEX%)")
    t.truthy(err:find("index " .. (n + 7) .. " out of range", 1, true), err)
    t.eq(core.check(C.MG_OK, "mg_anything"), nil, "MG_OK does not raise")
  end,

  ["loading moongrad sets no globals"] = function(t)
    -- A fresh luajit (same environment as ours, so it finds the same build)
    -- lists the globals that appear while requiring moongrad.
    local probe = [[
      local before = {}
      for k in pairs(_G) do before[k] = true end
      local smt, nmt = getmetatable(""), debug.getmetatable(0)
      require("moongrad")
      local new = {}
      for k in pairs(_G) do if not before[k] then new[#new + 1] = tostring(k) end end
      if getmetatable("") ~= smt then new[#new + 1] = "<string metatable>" end
      if debug.getmetatable(0) ~= nmt then new[#new + 1] = "<number metatable>" end
      io.write("new globals: [", table.concat(new, ","), "]\n")
    ]]
    local p = assert(io.popen("luajit -e '" .. probe:gsub("'", "'\\''") .. "' 2>&1"))
    local out = p:read("*a")
    p:close()
    t.eq(out, "new globals: []\n")
  end,
}
