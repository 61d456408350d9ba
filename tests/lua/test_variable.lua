-- mg.variable: sizes that vary along one bounded axis (docs/variables.md). Every result is
-- compared with the same code written with a plain number for the size.
local mg = require("moongrad")
local Tensor = mg.Tensor

local function compiled() return Tensor.zeros(1).device ~= "REF" end

local D, MAX = 4, 16
-- One step of attention over a cache of MAX positions, of which the first n are used.
local function attention()
  mg.manual_seed(3)
  local K, V = Tensor.rand(MAX, D):realize(), Tensor.rand(MAX, D):realize()
  return function(q, n)
    local k, v = K:shrink({ { 1, n }, {} }), V:shrink({ { 1, n }, {} })
    local w = (k:matmul(q) / math.sqrt(D)):softmax(1)  -- {n}
    return w:matmul(v), w
  end
end

local function pos_var() return mg.variable("pos", 1, MAX) end

return {
  ["variable: a shape holds the Variable; bind sets its value"] = function(t)
    local pos = pos_var()
    t.eq(mg.variable("pos", 1, MAX) == pos, true, "the same name and bounds give the same variable")
    local x = Tensor.zeros(MAX, 3):shrink({ { 1, pos }, {} })
    t.eq(x.shape[1] == pos, true)
    t.eq(x.shape[2], 3)
    t.eq(pos:bind(6), pos, "bind returns the variable")
    t.eq(pos:value(), 6)
    t.eq(tostring(pos), "pos=6")
    t.eq(#x:totable(), 6, "read with the value bound now")
    t.eq(x.shape[1], 6, "a realized tensor has the bound size")
  end,

  ["variable: elementwise ops and reductions over a variable axis match fixed sizes"] = function(t)
    local pos = pos_var()
    local x = (Tensor.rand(MAX, 5) * 4 - 2):realize()
    local function f(n)
      local s = x:shrink({ { 1, n }, {} })
      return { s:sum(1), s:mean(1), s:max(1), s:min(1), (s:exp() * s):sum(1), s:sum(2), s:mean(), s:softmax(1):sum(2) }
    end
    for _, n in ipairs({ 1, 2, 7, 16 }) do
      pos:bind(n)
      local got, want = f(pos), f(n)
      for i = 1, #want do t.allclose(got[i]:totable(), want[i]:totable(), 1e-5, "n = " .. n .. ", result " .. i) end
    end
  end,

  ["variable: attention over the first pos positions of a cache matches fixed sizes"] = function(t)
    local pos = pos_var()
    local attend = attention()
    local q = Tensor.rand(D):realize()
    for _, n in ipairs({ 3, 1, 16, 9 }) do
      pos:bind(n)
      local a, w = attend(q, pos)
      local b, w2 = attend(q, n)
      t.allclose(a:totable(), b:totable(), 1e-5, "output at n = " .. n)
      t.allclose(w:totable(), w2:totable(), 1e-5, "weights at n = " .. n)
      t.eq(#w:totable(), n)
    end
  end,

  ["variable: zeros, expand and reshape take a variable size"] = function(t)
    local pos = pos_var():bind(3)
    local z = Tensor.ones(pos, 2)
    t.eq(z:sum():item(), 6)
    local e = Tensor({ 1, 2 }):reshape(1, 2):expand(pos, 2)
    t.eq(e:totable(), { { 1, 2 }, { 1, 2 }, { 1, 2 } })
    local r = Tensor.arange(MAX * 2):reshape(MAX, 2):shrink({ { 1, pos }, {} }):reshape(2, pos)
    t.eq(r:totable(), { { 0, 1, 2 }, { 3, 4, 5 } }, "(pos, 2) viewed as (2, pos) keeps row-major order")
  end,

  ["variable: one set of kernels serves every value"] = function(t)
    if not compiled() then t.skip("REF compiles no kernels") end
    local pos = pos_var()
    local attend = attention()
    local q = Tensor.rand(D):realize()
    pos:bind(2)
    attend(q, pos)[1]:realize()
    local before = mg.stats().kernels_compiled
    for n = 3, MAX do
      pos:bind(n)
      attend(q, pos)[1]:realize()
    end
    t.eq(mg.stats().kernels_compiled - before, 0, "kernels compiled for 14 more values")
  end,

  ["variable: a jitted function replays with new values without capturing again"] = function(t)
    local pos = pos_var()
    local attend = attention()
    local calls = 0
    local step = mg.jit(function(q, n)
      calls = calls + 1
      local a, w = attend(q, n)
      return a, w
    end)
    local q = Tensor.rand(D):realize()
    for _, n in ipairs({ 2, 5, 16, 1, 11, 5 }) do
      local a, w = step(q, pos:bind(n))
      local b, w2 = attend(q, n)
      t.allclose(a:totable(), b:totable(), 1e-5, "output at n = " .. n)
      t.eq(#w:totable(), n, "the weights' length follows the value")
      t.allclose(w:totable(), w2:totable(), 1e-5, "weights at n = " .. n)
    end
    if compiled() then
      t.eq(calls, 2, "the function ran for the first call and the capture only")
      t.eq(step:info().mode, "replay")
    end
  end,

  ["variable: a jitted cache update writes position pos"] = function(t)
    -- the write is a mask on the whole cache: where(arange == pos - 1, new, cache)
    local pos = pos_var()
    local cache = Tensor.zeros(MAX, 2):contiguous():realize()
    local idx = Tensor.arange(MAX):reshape(MAX, 1)
    local step = mg.jit(function(row)
      local at = Tensor.ones(pos):sum():cast(mg.int32) - 1  -- pos as a 0-d tensor, on the device
      cache:assign(Tensor.where(idx:eq(at), row:reshape(1, 2):expand(MAX, 2), cache))
      return cache:shrink({ { 1, pos }, {} }):sum(1)
    end)
    local want = {}
    for n = 1, 6 do
      local s = step(Tensor({ n, 10 * n }), pos:bind(n))
      want[n] = { n, 10 * n }
      t.eq(s:totable(), { n * (n + 1) / 2, 5 * n * (n + 1) }, "running sums at n = " .. n)
    end
    t.eq(cache:shrink({ { 1, 6 }, {} }):totable(), want)
  end,

  ["variable: bad input gives clear errors"] = function(t)
    local pos = pos_var()
    t.raises(function() pos:bind(0) end, "value 0 outside its bounds %[1, 16%]")
    t.raises(function() pos:bind(1.5) end, "must be an integer")
    t.raises(function() mg.variable("pos", 1, 8) end, "exists with bounds %[1, 16%]")
    t.raises(function() mg.variable("bad name", 1, 8) end, "name must be")
    t.raises(function() mg.variable("w", 5, 2) end, "0 <= lo <= hi")
    t.raises(function() mg.variable("w", -1, 2) end, "0 <= lo <= hi")
    local unbound = mg.variable("never_bound", 1, 4)
    local x = Tensor.zeros(8):shrink({ { 1, unbound } })
    t.raises(function() x:realize() end, "'never_bound' is not bound")
    t.raises(function() return x.shape[1] * 2 end, "arithmetic on a variable size")
    t.raises(function() Tensor.zeros(8):shrink({ { 2, pos } }) end, "range must be {1, v}")
    t.raises(function() Tensor.zeros(8):shrink({ { 1, pos } }) end, "within the dim")
    local s = Tensor.zeros(MAX):shrink({ { 1, pos } })
    t.raises(function() s:shrink({ { 1, 2 } }) end, "whole dim")
    t.raises(function() s:pad({ { 1, 0 } }) end, "kept whole")
    t.raises(function() s:reshape(2, 8) end, "element counts differ")
    t.raises(function() Tensor.rand(pos) end, "cannot have a variable size")
    t.raises(function() return Tensor.zeros(MAX)[{ { 1, pos } }] end, "a variable size is a shrink")
    t.raises(function() return s + Tensor.zeros(MAX) end, "broadcast")
    local w = Tensor.ones(MAX, 2)
    w.requires_grad = true
    t.raises(function() w:shrink({ { 1, pos }, {} }):sum():backward() end, "gradient: not supported through variable sizes")
    pos:bind(4)
    t.eq(#s:totable(), 4, "still usable after the errors")
  end,
}
