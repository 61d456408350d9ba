-- A small JSON reader and writer (RFC 8259), enough for safetensors headers. Internal.
-- decode(s): objects -> Lua tables (a duplicate key is an error), arrays -> sequences with
-- field n (their length, as null elements leave holes) and the metatable json.array (so that
-- an object with a key "n" is never taken for an array), strings -> Lua strings (UTF-8),
-- numbers -> Lua numbers, true/false -> booleans, null -> json.null.
-- Errors: "at byte N: what was found, what was expected" (level 0; callers add the file).
-- encode(v): tables with string keys are objects (keys sorted, so output is stable; other
-- keys are dropped), sequences (or empty tables) and decoded arrays are arrays.
local M = {}

M.null = setmetatable({}, { __tostring = function() return "json.null" end })
M.array = { __name = "json.array" }

function M.is_array(v) return type(v) == "table" and getmetatable(v) == M.array end
function M.is_object(v) return type(v) == "table" and v ~= M.null and getmetatable(v) == nil end

local MAX_DEPTH = 128
local byte, sub, find, char = string.byte, string.sub, string.find, string.char

local function fail(pos, what)
  error(string.format("at byte %d: %s", pos, what), 0)
end

local function describe(s, i)
  if i > #s then return "the end of the text" end
  local c = sub(s, i, i)
  if c:match("^[%w%p ]$") then return "'" .. c .. "'" end
  return string.format("byte 0x%02x", byte(c))
end

local function skip_ws(s, i)
  -- space, tab, newline, carriage return
  local _, e = find(s, "^[ \t\n\r]*", i)
  return e + 1
end

local function utf8(cp)
  if cp < 0x80 then return char(cp) end
  if cp < 0x800 then return char(0xC0 + math.floor(cp / 64), 0x80 + cp % 64) end
  if cp < 0x10000 then
    return char(0xE0 + math.floor(cp / 4096), 0x80 + math.floor(cp / 64) % 64, 0x80 + cp % 64)
  end
  return char(0xF0 + math.floor(cp / 262144), 0x80 + math.floor(cp / 4096) % 64,
              0x80 + math.floor(cp / 64) % 64, 0x80 + cp % 64)
end

local escapes = { ['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f", n = "\n", r = "\r", t = "\t" }

local function hex4(s, i)
  local h = sub(s, i, i + 3)
  if not h:match("^%x%x%x%x$") then fail(i, "expected 4 hex digits after \\u, found '" .. h .. "'") end
  return tonumber(h, 16)
end

-- s[i] is the opening quote; returns the string and the index after the closing quote.
local function read_string(s, i)
  local parts, j = {}, i + 1
  while true do
    local k = find(s, '[%z\1-\31"\\]', j)
    if not k then fail(i, "unterminated string") end
    if k > j then parts[#parts + 1] = sub(s, j, k - 1) end
    local c = sub(s, k, k)
    if c == '"' then return table.concat(parts), k + 1 end
    if c ~= "\\" then fail(k, "control character (" .. describe(s, k) .. ") inside a string; expected it escaped") end
    local e = sub(s, k + 1, k + 1)
    if escapes[e] then
      parts[#parts + 1] = escapes[e]
      j = k + 2
    elseif e == "u" then
      local cp = hex4(s, k + 2)
      j = k + 6
      if cp >= 0xD800 and cp <= 0xDBFF then
        if sub(s, j, j + 1) ~= "\\u" then fail(k, "a high surrogate \\u" .. sub(s, k + 2, k + 5) .. " without its low surrogate") end
        local lo = hex4(s, j + 2)
        if lo < 0xDC00 or lo > 0xDFFF then fail(j, "expected a low surrogate (\\uDC00..\\uDFFF) after a high one") end
        cp = 0x10000 + (cp - 0xD800) * 1024 + (lo - 0xDC00)
        j = j + 6
      elseif cp >= 0xDC00 and cp <= 0xDFFF then
        fail(k, "a lone low surrogate \\u" .. sub(s, k + 2, k + 5))
      end
      parts[#parts + 1] = utf8(cp)
    else
      fail(k, "unknown escape '\\" .. e .. "' in a string")
    end
  end
end

local function read_number(s, i)
  -- -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
  local j = i
  if sub(s, j, j) == "-" then j = j + 1 end
  local c = sub(s, j, j)
  if c == "0" then
    j = j + 1
  elseif c:match("^[1-9]$") then
    local _, e = find(s, "^%d+", j)
    j = e + 1
  else
    fail(j, "expected a digit, found " .. describe(s, j))
  end
  if sub(s, j, j) == "." then
    local _, e = find(s, "^%d+", j + 1)
    if not e then fail(j + 1, "expected a digit after '.', found " .. describe(s, j + 1)) end
    j = e + 1
  end
  c = sub(s, j, j)
  if c == "e" or c == "E" then
    j = j + 1
    c = sub(s, j, j)
    if c == "+" or c == "-" then j = j + 1 end
    local _, e = find(s, "^%d+", j)
    if not e then fail(j, "expected a digit in the exponent, found " .. describe(s, j)) end
    j = e + 1
  end
  return tonumber(sub(s, i, j - 1)), j
end

local read_value

local function read_array(s, i, depth, on_dup)
  local arr, n = setmetatable({}, M.array), 0
  i = skip_ws(s, i + 1)
  if sub(s, i, i) == "]" then arr.n = 0; return arr, i + 1 end
  while true do
    local v
    v, i = read_value(s, i, depth, on_dup)
    n = n + 1
    if v ~= M.null then arr[n] = v end
    i = skip_ws(s, i)
    local c = sub(s, i, i)
    if c == "]" then arr.n = n; return arr, i + 1 end
    if c ~= "," then fail(i, "expected ',' or ']' in an array, found " .. describe(s, i)) end
    i = skip_ws(s, i + 1)
  end
end

local function read_object(s, i, depth, on_dup)
  local obj = {}
  i = skip_ws(s, i + 1)
  if sub(s, i, i) == "}" then return obj, i + 1 end
  while true do
    if sub(s, i, i) ~= '"' then fail(i, "expected a string key, found " .. describe(s, i)) end
    local key, at = nil, i
    key, i = read_string(s, i)
    if obj[key] ~= nil then
      if on_dup then on_dup(key, depth, at) end
      fail(at, "duplicate key \"" .. key .. "\"")
    end
    i = skip_ws(s, i)
    if sub(s, i, i) ~= ":" then fail(i, "expected ':' after a key, found " .. describe(s, i)) end
    local v
    v, i = read_value(s, skip_ws(s, i + 1), depth, on_dup)
    obj[key] = v
    i = skip_ws(s, i)
    local c = sub(s, i, i)
    if c == "}" then return obj, i + 1 end
    if c ~= "," then fail(i, "expected ',' or '}' in an object, found " .. describe(s, i)) end
    i = skip_ws(s, i + 1)
  end
end

function read_value(s, i, depth, on_dup)
  local c = sub(s, i, i)
  if c == "{" or c == "[" then
    if depth >= MAX_DEPTH then fail(i, "nested deeper than " .. MAX_DEPTH .. " levels") end
    if c == "{" then return read_object(s, i, depth + 1, on_dup) end
    return read_array(s, i, depth + 1, on_dup)
  end
  if c == '"' then return read_string(s, i) end
  if c == "-" or c:match("^%d$") then return read_number(s, i) end
  if sub(s, i, i + 3) == "true" then return true, i + 4 end
  if sub(s, i, i + 4) == "false" then return false, i + 5 end
  if sub(s, i, i + 3) == "null" then return M.null, i + 4 end
  fail(i, "expected a JSON value, found " .. describe(s, i))
end

-- Parses a whole JSON text (whitespace around the value is allowed, nothing else).
-- on_duplicate(key, depth, pos), if given, is called (to raise its own error) when an object
-- repeats a key; depth is 1 for the outermost object.
function M.decode(s, on_duplicate)
  if type(s) ~= "string" then error("json.decode: expected a string, got " .. type(s), 2) end
  local v, i = read_value(s, skip_ws(s, 1), 0, on_duplicate)
  i = skip_ws(s, i)
  if i <= #s then fail(i, "unexpected " .. describe(s, i) .. " after the JSON value") end
  return v
end

-- ---- writing ----
local function quote(str)
  return '"' .. str:gsub('[%z\1-\31"\\]', function(c)
    local e = ({ ['"'] = '\\"', ["\\"] = "\\\\", ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t",
                 ["\b"] = "\\b", ["\f"] = "\\f" })[c]
    return e or string.format("\\u%04x", byte(c))
  end) .. '"'
end

local function number(x)
  if x ~= x or x == math.huge or x == -math.huge then error("json.encode: " .. tostring(x) .. " has no JSON form", 0) end
  if x == math.floor(x) and math.abs(x) < 2 ^ 63 then return string.format("%.0f", x) end
  return string.format("%.17g", x)
end

local function write(v, out, depth)
  if depth > MAX_DEPTH then error("json.encode: nested deeper than " .. MAX_DEPTH .. " levels (a cycle?)", 0) end
  local t = type(v)
  if v == M.null then out[#out + 1] = "null"
  elseif t == "string" then out[#out + 1] = quote(v)
  elseif t == "number" then out[#out + 1] = number(v)
  elseif t == "boolean" then out[#out + 1] = tostring(v)
  elseif t == "table" then
    local keys, nstr = {}, 0
    local decoded = getmetatable(v) == M.array  -- an array from decode: length n, holes are nulls
    if not decoded then
      for k in pairs(v) do
        if type(k) == "string" then nstr = nstr + 1; keys[#keys + 1] = k end
      end
    end
    if nstr == 0 then
      out[#out + 1] = "["
      for i = 1, decoded and v.n or #v do
        if i > 1 then out[#out + 1] = "," end
        local x = v[i]
        if x == nil then x = M.null end
        write(x, out, depth + 1)
      end
      out[#out + 1] = "]"
    else
      table.sort(keys)
      out[#out + 1] = "{"
      for i, k in ipairs(keys) do
        if i > 1 then out[#out + 1] = "," end
        out[#out + 1] = quote(k)
        out[#out + 1] = ":"
        write(v[k], out, depth + 1)
      end
      out[#out + 1] = "}"
    end
  else
    error("json.encode: cannot encode a " .. t, 0)
  end
end

function M.encode(v)
  local out = {}
  write(v, out, 0)
  return table.concat(out)
end

return M
