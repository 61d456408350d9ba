-- Movement ops on top of the primitives: reshape, permute, expand, pad, shrink, flip and friends.
-- Dims are 1-based (negative from the end); slice bounds are inclusive.
local T = require("moongrad.tensor")
local Tensor, axis, shape_of, shape_str, numel = T.Tensor, T.axis, T.shape_of, T.shape_str, T.numel
local movement, sizes_and_opts = T.movement, T.sizes_and_opts
local V = require("moongrad.variable")

function Tensor.reshape(t, ...)
  local s = sizes_and_opts(...)
  local cur = shape_of(t)
  if T.has_variable(s) or T.has_variable(cur) then  -- the C side checks the element counts
    for i = 1, #s do
      if not V.is_variable(s[i]) and (type(s[i]) ~= "number" or s[i] ~= math.floor(s[i]) or s[i] < 0) then
        error("reshape: sizes must be integers >= 0 or variables (no -1 with variable sizes), got " .. tostring(s[i]), 2)
      end
    end
    return movement("reshape", t, s)
  end
  local want, infer, known = {}, nil, 1
  for i = 1, #s do
    local d = s[i]
    if type(d) ~= "number" or d ~= math.floor(d) or d < -1 then
      error("reshape: sizes must be integers >= 0 (or one -1), got " .. tostring(d), 2)
    end
    if d == -1 then
      if infer then error("reshape: only one size may be -1, got " .. shape_str(s), 2) end
      infer = i
    else
      known = known * d
    end
    want[i] = d
  end
  if infer then
    local total = numel(cur)
    if known == 0 or total % known ~= 0 then
      error(string.format("reshape: cannot reshape %s (%d elements) to %s", shape_str(cur), total, shape_str(s)), 2)
    end
    want[infer] = total / known
  end
  if numel(want) ~= numel(cur) then
    error(string.format("reshape: cannot reshape %s (%d elements) to %s (%d elements)", shape_str(cur), numel(cur), shape_str(want), numel(want)), 2)
  end
  return movement("reshape", t, want)
end
Tensor.view = Tensor.reshape

function Tensor.permute(t, ...)
  local order = sizes_and_opts(...)
  local n = #shape_of(t)
  if #order ~= n then error(string.format("permute: got %d dims for a tensor of %d dims", #order, n), 2) end
  local perm, seen = {}, {}
  for i = 1, n do
    local a = axis(order[i], n, "permute")
    if seen[a] then error("permute: dim " .. order[i] .. " appears twice in " .. shape_str(order), 2) end
    seen[a], perm[i] = true, a
  end
  return movement("permute", t, perm)
end

-- -1 keeps a dim; new leading dims may be added.
function Tensor.expand(t, ...)
  local s = sizes_and_opts(...)
  local cur = shape_of(t)
  if #s < #cur then error("expand: cannot expand " .. shape_str(cur) .. " to fewer dims " .. shape_str(s), 2) end
  local lead = #s - #cur
  local want, src = {}, {}
  for i = 1, #s do
    local c = cur[i - lead]
    local d = s[i]
    if d == -1 then
      if not c then error("expand: -1 is not allowed for a new leading dim in " .. shape_str(s), 2) end
      d = c
    end
    want[i] = d
    src[i] = c or 1
  end
  for i = 1, #want do
    if src[i] ~= want[i] and src[i] ~= 1 then
      error(string.format("expand: cannot expand %s to %s: size %s must be 1 or %s", shape_str(cur), shape_str(want), tostring(src[i]), tostring(want[i])), 2)
    end
  end
  if lead > 0 then t = movement("reshape", t, src) end
  return movement("expand", t, want)
end

function Tensor.broadcast_to(t, ...) return Tensor.expand(t, ...) end

-- spec: one {before, after} pair per dim, in dim order ({} or nil: no padding on that dim).
function Tensor.pad(t, spec, opts)
  local s = shape_of(t)
  opts = opts or {}
  if type(spec) ~= "table" then error("pad: expected a table of {before, after} pairs", 2) end
  if #spec > #s then error(string.format("pad: %d pairs for a tensor of %d dims %s", #spec, #s, shape_str(s)), 2) end
  local flat, any = {}, false
  for i = 1, #s do
    local p = spec[i] or {}
    local a, b = p[1] or 0, p[2] or 0
    if a ~= math.floor(a) or b ~= math.floor(b) then error("pad: amounts must be integers", 2) end
    flat[2 * i - 1], flat[2 * i] = a, b
    any = any or a ~= 0 or b ~= 0
  end
  local mode = opts.mode or "constant"
  if mode ~= "constant" then return Tensor._pad_mode(t, flat, mode) end
  -- negative amounts crop
  local crop, grow, cropping = {}, {}, false
  for i = 1, #s do
    local a, b = flat[2 * i - 1], flat[2 * i]
    if V.is_variable(s[i]) and (a ~= 0 or b ~= 0) then
      error(string.format("pad: dim %d of %s has a variable size, which can only be kept whole", i, shape_str(s)), 2)
    end
    crop[2 * i - 1], crop[2 * i] = math.max(-a, 0), V.is_variable(s[i]) and s[i] or s[i] - math.max(-b, 0)
    if not V.is_variable(s[i]) and crop[2 * i] < crop[2 * i - 1] then error("pad: cropping more than the size of dim " .. i .. " of " .. shape_str(s), 2) end
    grow[2 * i - 1], grow[2 * i] = math.max(a, 0), math.max(b, 0)
    cropping = cropping or a < 0 or b < 0
  end
  if not any then return t end
  if cropping then t = movement("shrink", t, crop) end
  local padded = movement("pad", t, grow)
  local value = opts.value or 0
  if value == 0 or value == false then return padded end
  local mask = movement("pad", Tensor.ones_like(t, { dtype = "bool" }), grow)
  return Tensor.where(mask, padded, value)
end

-- spec: one {first, last} pair per dim (1-based, inclusive; {} or nil: the whole dim).
function Tensor.shrink(t, spec)
  local s = shape_of(t)
  local flat = {}
  for i = 1, #s do
    local p = spec[i] or {}
    local a, b = p[1] or 1, p[2] or s[i]
    -- a variable: the end of a range from 1, or a variable dim kept whole (the C side checks)
    if V.is_variable(b) or V.is_variable(s[i]) then
      if a ~= 1 or (V.is_variable(s[i]) and b ~= s[i]) then
        error(string.format("shrink: with variable sizes a range must be {1, v} or the whole dim, got {%s, %s} for dim %d of %s",
          tostring(p[1] or 1), tostring(p[2] or s[i]), i, shape_str(s)), 2)
      end
      a = 1
    end
    if V.is_variable(b) then
      flat[2 * i - 1], flat[2 * i] = 0, b
      goto continue
    end
    if a < 0 then a = a + s[i] + 1 end
    if b < 0 then b = b + s[i] + 1 end
    if a < 1 or b > s[i] or b < a - 1 then
      error(string.format("shrink: range {%d, %d} out of bounds for dim %d of %s", p[1] or 1, p[2] or s[i], i, shape_str(s)), 2)
    end
    flat[2 * i - 1], flat[2 * i] = a - 1, b
    ::continue::
  end
  return movement("shrink", t, flat)
end

function Tensor.flip(t, ...)
  local dims = sizes_and_opts(...)
  local n = #shape_of(t)
  local axes = {}
  for i = 1, #dims do axes[i] = axis(dims[i], n, "flip") end
  return movement("flip", t, axes)
end

function Tensor.squeeze(t, d)
  local s = shape_of(t)
  local r = {}
  if d == nil then
    for i = 1, #s do if s[i] ~= 1 then r[#r + 1] = s[i] end end
  else
    local a = axis(d, #s, "squeeze") + 1
    for i = 1, #s do if i ~= a or s[i] ~= 1 then r[#r + 1] = s[i] end end
  end
  return movement("reshape", t, r)
end

function Tensor.unsqueeze(t, d)
  local s = shape_of(t)
  local a = axis(d, #s + 1, "unsqueeze") + 1
  table.insert(s, a, 1)
  return movement("reshape", t, s)
end

function Tensor.flatten(t, start, finish)
  local s = shape_of(t)
  if #s == 0 then return movement("reshape", t, { 1 }) end
  local a, b = axis(start or 1, #s, "flatten") + 1, axis(finish or -1, #s, "flatten") + 1
  if b < a then error("flatten: end dim " .. tostring(finish) .. " comes before start dim " .. tostring(start), 2) end
  local r, n = {}, 1
  for i = 1, #s do
    if i < a or i > b then r[#r + 1] = s[i] else n = n * s[i]; if i == b then r[#r + 1] = n end end
  end
  return movement("reshape", t, r)
end

function Tensor.unflatten(t, d, sizes)
  local s = shape_of(t)
  local a = axis(d, #s, "unflatten") + 1
  local r = {}
  for i = 1, a - 1 do r[#r + 1] = s[i] end
  for _, v in ipairs(sizes) do r[#r + 1] = v end
  for i = a + 1, #s do r[#r + 1] = s[i] end
  return Tensor.reshape(t, r)
end

function Tensor.transpose(t, d1, d2)
  local n = #shape_of(t)
  if n < 2 and d1 == nil then return t end
  local a, b = axis(d1 or -2, n, "transpose"), axis(d2 or -1, n, "transpose")
  local perm = {}
  for i = 1, n do perm[i] = i - 1 end
  perm[a + 1], perm[b + 1] = b, a
  return movement("permute", t, perm)
end

return Tensor
