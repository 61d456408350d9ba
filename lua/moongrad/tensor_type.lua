-- The Tensor type: metamethods on the moongrad_tensor box (a struct cdata, so #x works in LuaJIT), and
-- Tensor(...) as the constructor. Loads every module that adds methods.
local ffi = require("ffi")
local T = require("moongrad.tensor")
require("moongrad.ops_movement")
require("moongrad.ops_arith")
require("moongrad.ops_reduce")
require("moongrad.tensor_print")
require("moongrad.ops_create")
-- filled by the indexing, scan and neural-network work of issue 3
require("moongrad.ops_index")
require("moongrad.ops_combine")
require("moongrad.ops_random")
require("moongrad.ops_scan")
require("moongrad.ops_nn")
require("moongrad.ops_activation")
local Tensor, props, fields, is_tensor = T.Tensor, T.props, T.fields, T.is_tensor

local mt = {}

function mt.__index(t, k)
  local p = props[k]
  if p then return p(t) end
  local m = Tensor[k]
  if m ~= nil then return m end
  if type(k) == "number" or type(k) == "table" or is_tensor(k) then
    if not Tensor.index then error("indexing is not available", 2) end
    return Tensor.index(t, k)
  end
  return nil
end

function mt.__newindex(t, k, v)
  if k == "grad" then
    if v ~= nil and not is_tensor(v) then error("grad must be a tensor or nil", 2) end
    fields[t] = fields[t] or {}
    fields[t].grad = v
  elseif k == "requires_grad" then
    fields[t] = fields[t] or {}
    fields[t].requires_grad = not not v
  elseif type(k) == "number" or type(k) == "table" or is_tensor(k) then
    if not Tensor.index_assign then error("indexed assignment is not available", 2) end
    Tensor.index_assign(t, k, v)
  else
    error("cannot set field '" .. tostring(k) .. "' of a tensor", 2)
  end
end

mt.__add = Tensor.add
mt.__sub = Tensor.sub
mt.__mul = Tensor.mul
mt.__div = function(a, b) return Tensor.div(a, b) end
mt.__mod = Tensor.mod
mt.__pow = Tensor.pow
mt.__unm = Tensor.neg
mt.__tostring = Tensor.tostring
function mt.__len(t)
  local s = t.shape
  if #s == 0 then error("#: a 0-d tensor has no length", 2) end
  return s[1]
end

-- The box releases its handle when collected.
function mt.__gc(t) T.C.mg_tensor_release(t.h) end

ffi.metatype(T.Box, mt)

setmetatable(Tensor, {
  __call = function(_, data, opts) return T.tensor_new(data, opts) end,
})

return T
