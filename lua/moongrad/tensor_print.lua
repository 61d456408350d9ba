-- torch7-style printing: the values (eliding the middle of big tensors), then a footer
-- "[moongrad.Tensor float32 of size 2x3 on REF]".
local T = require("moongrad.tensor")
local Tensor, shape_of, numel = T.Tensor, T.shape_of, T.numel

local EDGE = 3         -- values kept at each end of an elided dim
local ELIDE_OVER = 1000  -- elements above which dims longer than 2*EDGE are elided

local function fmt_number(v, dt, width, precision)
  if dt.is_bool then return string.format("%" .. width .. "s", v and "true" or "false") end
  if v ~= v then return string.format("%" .. width .. "s", "nan") end
  if v == math.huge then return string.format("%" .. width .. "s", "inf") end
  if v == -math.huge then return string.format("%" .. width .. "s", "-inf") end
  if not dt.is_float then return string.format("%" .. width .. "d", v) end
  return string.format("%" .. width .. "." .. precision .. "f", v)
end

-- Which indices of a dim of size n are shown (nil marks the elision).
local function shown(n, elide)
  local r = {}
  if not elide or n <= 2 * EDGE then
    for i = 1, n do r[#r + 1] = i end
  else
    for i = 1, EDGE do r[#r + 1] = i end
    r[#r + 1] = false
    for i = n - EDGE + 1, n do r[#r + 1] = i end
  end
  return r
end

function Tensor.tostring(t)
  local s, dt = shape_of(t), t.dtype
  local footer = string.format("[moongrad.Tensor %s of size %s on %s]", dt.name, #s == 0 and "[]" or table.concat(s, "x"), t.device)
  local n = numel(s)
  if n == 0 then return "[empty tensor]\n" .. footer end
  local v = T.values(t)
  local elide = n > ELIDE_OVER
  -- one width and precision for the whole tensor
  local precision, width, scale = 4, 1, 1
  if dt.is_float then
    local m = 0
    for i = 1, n do local a = math.abs(v[i]); if a == a and a ~= math.huge and a > m then m = a end end
    if m >= 1e5 or (m > 0 and m < 1e-4) then
      scale = 10 ^ math.floor(math.log10(m))
    end
  end
  local function cell(x)
    if dt.is_float and scale ~= 1 and x == x and math.abs(x) ~= math.huge then x = x / scale end
    return fmt_number(x, dt, 1, precision)
  end
  for i = 1, n do width = math.max(width, #cell(v[i])) end
  local stride = {}
  local acc = 1
  for d = #s, 1, -1 do stride[d] = acc; acc = acc * s[d] end
  local lines = {}
  if scale ~= 1 then lines[#lines + 1] = string.format("%g *", scale) end
  local function row(base)  -- the last dim at offset base
    if #s == 0 then return string.format("%" .. width .. "s", cell(v[1])) end
    local parts = {}
    for _, j in ipairs(shown(s[#s], elide)) do
      parts[#parts + 1] = j and string.format("%" .. width .. "s", cell(v[base + (j - 1) * stride[#s] + 1])) or string.rep(" ", width - 3) .. "..."
    end
    return " " .. table.concat(parts, " ")
  end
  local function block(d, base, prefix)  -- dims d..#s; 2 last dims form a matrix
    if d >= #s - 1 then
      if d == #s then lines[#lines + 1] = row(base); return end
      if prefix then lines[#lines + 1] = "(" .. table.concat(prefix, ",") .. ",.,.) = " end
      for _, i in ipairs(shown(s[d], elide)) do
        lines[#lines + 1] = i and row(base + (i - 1) * stride[d]) or " ..."
      end
      if prefix then lines[#lines + 1] = "" end
      return
    end
    for _, i in ipairs(shown(s[d], elide)) do
      if i then
        local p = { unpack(prefix or {}) }
        p[#p + 1] = i
        block(d + 1, base + (i - 1) * stride[d], p)
      else
        lines[#lines + 1] = "..."
        lines[#lines + 1] = ""
      end
    end
  end
  if #s == 0 then lines[#lines + 1] = row(0) else block(1, 0, nil) end
  if lines[#lines] == "" then lines[#lines] = nil end
  lines[#lines + 1] = footer
  return table.concat(lines, "\n")
end

return Tensor
