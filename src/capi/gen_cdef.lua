-- Turns moongrad.h into the string LuaJIT's ffi.cdef reads, so the header
-- stays the one source of truth for the Lua side.
-- usage: luajit gen_cdef.lua <moongrad.h> <out/cdef.lua>
local hdr_path, out_path = arg[1], arg[2]
if not (hdr_path and out_path) then
  io.stderr:write("usage: luajit gen_cdef.lua <moongrad.h> <cdef.lua>\n")
  os.exit(2)
end

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

-- Comments first, so that a '#' or an "extern" inside one cannot confuse the rest.
local function strip_comments(s)
  s = s:gsub("/%*.-%*/", function(c) return (c:gsub("[^\n]", "")) end)  -- keep line count
  return (s:gsub("//[^\n]*", ""))
end

-- Drops preprocessor lines (with their continuations) and everything inside
-- #ifdef __cplusplus ... #endif, which is where the extern "C" guards live.
local function strip_preprocessor(s)
  local out, depth, skip_from, continued = {}, 0, nil, false
  for line in (s .. "\n"):gmatch("([^\n]*)\n") do
    local directive = line:match("^%s*#%s*(%a*)")
    if continued or directive then
      continued = line:match("\\%s*$") ~= nil
      if directive == "if" or directive == "ifdef" or directive == "ifndef" then
        depth = depth + 1
        if not skip_from and line:match("^%s*#%s*ifdef%s+__cplusplus%s*$") then skip_from = depth end
      elseif directive == "endif" then
        if skip_from == depth then skip_from = nil end
        depth = depth - 1
      end
    elseif not skip_from then
      out[#out + 1] = line
    end
  end
  return table.concat(out, "\n")
end

local function tidy(s)
  s = s:gsub("[ \t]+\n", "\n"):gsub("\n\n\n+", "\n\n")
  return (s:gsub("^%s+", ""):gsub("%s+$", "")) .. "\n"
end

local cdef = tidy(strip_preprocessor(strip_comments(read(hdr_path))))
assert(not cdef:find("extern", 1, true), "gen_cdef: extern left in cdef (guard not inside #ifdef __cplusplus?)")

-- A long bracket whose level does not occur in the text.
local eq = "="
while cdef:find("]" .. eq .. "]", 1, true) do eq = eq .. "=" end

local f = assert(io.open(out_path, "wb"))
f:write("-- Generated from " .. hdr_path .. " by src/capi/gen_cdef.lua at build time. Do not edit.\n",
  "return [", eq, "[\n", cdef, "]", eq, "]\n")
f:close()
