-- The core of the Tensor API: creation, properties, broadcasting, promotion, arithmetic,
-- movement, reductions, values out, printing, and the errors bad input gets.
local mg = require("moongrad")
local Tensor = mg.Tensor

return {
  ["creation from nested tables infers shape and dtype"] = function(t)
    local x = Tensor{{1, 2, 3}, {4, 5, 6.5}}
    t.eq(x.shape, {2, 3})
    t.eq(x.dtype, mg.float32)
    t.eq(x.ndim, 2)
    t.eq(#x, 2)
    t.eq(x:numel(), 6)
    t.eq(x:totable(), {{1, 2, 3}, {4, 5, 6.5}})
    t.eq(Tensor{1, 2}.dtype, mg.int32)
    t.eq(Tensor{true, false}.dtype, mg.bool)
    t.eq(Tensor{true, false}:totable(), {true, false})
    t.eq(Tensor(3.5):item(), 3.5)
    t.eq(Tensor(7).shape, {})
    t.eq(Tensor({1, 2}, {dtype = mg.float64}).dtype, mg.float64)
    t.eq(Tensor({{}, {}}).shape, {2, 0})
    t.eq(Tensor{3e9}.dtype, mg.int64)  -- past int32
    t.eq(Tensor{3e9}:item(), 3e9)
    t.eq(Tensor{1e30}.dtype, mg.float32)  -- past 2^53: not an exact integer
    t.eq(mg.einsum("ij->ji", Tensor{{1, 2}}):totable(), {{1}, {2}})
  end,

  ["full, zeros, ones and the like variants"] = function(t)
    t.eq(Tensor.zeros(2, 3):totable(), {{0, 0, 0}, {0, 0, 0}})
    t.eq(Tensor.ones{2}:totable(), {1, 1})
    t.eq(Tensor.zeros(2, {dtype = mg.int8}).dtype, mg.int8)
    t.eq(Tensor.full({2, 2}, 7):totable(), {{7, 7}, {7, 7}})
    t.eq(Tensor.full({2}, 7).dtype, mg.int32)
    t.eq(Tensor.full({1}, 0.5).dtype, mg.float32)
    local x = Tensor{{1, 2}, {3, 4}}
    t.eq(Tensor.zeros_like(x):totable(), {{0, 0}, {0, 0}})
    t.eq(Tensor.full_like(x, 9):totable(), {{9, 9}, {9, 9}})
    t.eq(Tensor.ones_like(x, {dtype = mg.float16}).dtype, mg.float16)
  end,

  ["rand is uniform in [0, 1) and reproducible with manual_seed"] = function(t)
    mg.manual_seed(42)
    local a = Tensor.rand(1000):totable()
    mg.manual_seed(42)
    local b = Tensor.rand(1000):totable()
    t.eq(a, b)
    local sum = 0
    for i = 1, #a do t.truthy(a[i] >= 0 and a[i] < 1); sum = sum + a[i] end
    t.near(sum / #a, 0.5, 0.05)
  end,

  ["broadcasting follows numpy"] = function(t)
    local a = Tensor{{1}, {2}, {3}}
    local b = Tensor{10, 20}
    t.eq((a + b):totable(), {{11, 21}, {12, 22}, {13, 23}})
    t.eq((b * 2):totable(), {20, 40})
    t.eq((1 - b):totable(), {-9, -19})
    t.raises(function() return Tensor{1, 2, 3} + Tensor{1, 2} end, "add: cannot broadcast {3} with {2}")
  end,

  ["type promotion follows tinygrad"] = function(t)
    local i = Tensor{1, 2}
    t.eq((i + 1).dtype, mg.int32)
    t.eq((i + 1.5).dtype, mg.float32)
    t.eq((i + 1.5):totable(), {2.5, 3.5})
    t.eq((i / 2).dtype, mg.float32)
    t.eq((i / 2):totable(), {0.5, 1})
    t.eq((Tensor({1}, {dtype = mg.int8}) + Tensor({1}, {dtype = mg.uint8})).dtype, mg.int16)
    t.eq((Tensor({1}, {dtype = mg.float16}) + Tensor({1}, {dtype = mg.bfloat16})).dtype, mg.float32)
    t.eq((Tensor{true} + 1).dtype, mg.int32)
  end,

  ["integer division and modulo modes"] = function(t)
    local a, b = Tensor{7, -7, 7, -7}, Tensor{2, 2, -2, -2}
    t.eq(a:div(b, {rounding_mode = "trunc"}):totable(), {3, -3, -3, 3})
    t.eq(a:div(b, {rounding_mode = "floor"}):totable(), {3, -4, -4, 3})
    t.eq((a % b):totable(), {1, 1, -1, -1})  -- floored, like Lua's %
    t.eq(a:fmod(b):totable(), {1, -1, 1, -1})  -- C's
    t.eq(Tensor{7.5, -7.5}:div(2, {rounding_mode = "floor"}):totable(), {3, -4})
    t.eq((Tensor{2, 3} ^ 2):totable(), {4, 9})
  end,

  ["math functions"] = function(t)
    local x = Tensor{0, 1, 2}
    t.allclose(x:exp():totable(), {1, math.exp(1), math.exp(2)}, 1e-6)
    t.allclose(Tensor{1, 4, 9}:sqrt():totable(), {1, 2, 3})
    t.allclose(Tensor{1, math.exp(1)}:log():totable(), {0, 1}, 1e-6)
    t.allclose(Tensor{0, math.pi / 2}:cos():totable(), {1, 0}, 1e-6)
    t.eq(Tensor{-1.5, -0.5, 0.5, 1.5, 2.5}:round():totable(), {-2, -0, 0, 2, 2})
    t.eq(Tensor{-1.5, 1.5}:floor():totable(), {-2, 1})
    t.eq(Tensor{-1.5, 1.5}:ceil():totable(), {-1, 2})
    t.eq(Tensor{-3, 0, 4}:abs():totable(), {3, 0, 4})
    t.eq(Tensor{-3, 0, 4}:sign():totable(), {-1, 0, 1})
    t.eq(Tensor{1, 5, 9}:clamp(2, 6):totable(), {2, 5, 6})
    t.eq(Tensor{0 / 0, 1, math.huge}:isnan():totable(), {true, false, false})
    t.eq(Tensor{0 / 0, 1, math.huge}:isinf():totable(), {false, false, true})
  end,

  ["comparisons return bool tensors"] = function(t)
    local a, b = Tensor{1, 2, 3}, Tensor{3, 2, 1}
    t.eq(a:lt(b):totable(), {true, false, false})
    t.eq(a:le(b):totable(), {true, true, false})
    t.eq(a:gt(b):totable(), {false, false, true})
    t.eq(a:ge(b):totable(), {false, true, true})
    t.eq(a:eq(b):totable(), {false, true, false})
    t.eq(a:ne(2):totable(), {true, false, true})
    t.eq(Tensor.where(a:lt(b), a, b):totable(), {1, 2, 1})
  end,

  ["bitwise and logical ops"] = function(t)
    local a = Tensor{12, 10}
    t.eq(a:bitwise_and(6):totable(), {4, 2})
    t.eq(a:bitwise_or(1):totable(), {13, 11})
    t.eq(a:bitwise_xor(15):totable(), {3, 5})
    t.eq(a:bitwise_not():totable(), {-13, -11})
    t.eq(a:lshift(2):totable(), {48, 40})
    t.eq(a:rshift(2):totable(), {3, 2})
    t.eq(Tensor{true, false}:logical_not():totable(), {false, true})
    t.eq(Tensor{true, false}:logical_and(Tensor{true, true}):totable(), {true, false})
    t.eq(Tensor{true, false}:logical_or(false):totable(), {true, false})  -- a literal false operand
    t.eq(Tensor{true, false}:eq(false):totable(), {false, true})
    t.raises(function() return Tensor{1.5}:bitwise_and(1) end, "bitwise_and: not defined for float32")
  end,

  ["movement ops with 1-based dims"] = function(t)
    local x = Tensor{{1, 2, 3}, {4, 5, 6}}
    t.eq(x:reshape(3, 2):totable(), {{1, 2}, {3, 4}, {5, 6}})
    t.eq(x:reshape{-1}:totable(), {1, 2, 3, 4, 5, 6})
    t.eq(x:permute(2, 1):totable(), {{1, 4}, {2, 5}, {3, 6}})
    t.eq(x.T:totable(), {{1, 4}, {2, 5}, {3, 6}})
    t.eq(x:transpose(1, 2).shape, {3, 2})
    t.eq(x:flip(2):totable(), {{3, 2, 1}, {6, 5, 4}})
    t.eq(x:flip(-2):totable(), {{4, 5, 6}, {1, 2, 3}})
    t.eq(x:shrink{{}, {2, 3}}:totable(), {{2, 3}, {5, 6}})
    t.eq(x:pad{{1, 0}, {0, 1}}:totable(), {{0, 0, 0, 0}, {1, 2, 3, 0}, {4, 5, 6, 0}})
    t.eq(x:pad({{0, 0}, {1, 1}}, {value = 9}):totable(), {{9, 1, 2, 3, 9}, {9, 4, 5, 6, 9}})
    t.eq(Tensor{1, 2}:unsqueeze(1).shape, {1, 2})
    t.eq(Tensor{1, 2}:unsqueeze(-1).shape, {2, 1})
    t.eq(Tensor{{1, 2}}:squeeze().shape, {2})
    t.eq(Tensor{{{1}, {2}}}:flatten().shape, {2})
    t.eq(Tensor.zeros(2, 3, 4):flatten(2).shape, {2, 12})
    t.eq(Tensor.zeros(2, 12):unflatten(2, {3, 4}).shape, {2, 3, 4})
    t.eq(Tensor{{1}, {2}}:expand(2, 3):totable(), {{1, 1, 1}, {2, 2, 2}})
    t.eq(Tensor{1, 2}:expand(2, -1):totable(), {{1, 2}, {1, 2}})
  end,

  ["movement errors name the op and the shapes"] = function(t)
    local x = Tensor.zeros(2, 3)
    t.raises(function() return x:reshape(4, 2) end, "reshape: cannot reshape {2, 3} %(6 elements%) to {4, 2} %(8 elements%)")
    t.raises(function() return x:permute(1, 1) end, "permute: dim 1 appears twice")
    t.raises(function() return x:permute(1, 3) end, "permute: dim 3 out of range for a tensor of 2 dims")
    t.raises(function() return x:expand(4, 3) end, "expand: cannot expand {2, 3} to {4, 3}")
    t.raises(function() return x:shrink{{1, 5}} end, "shrink: range {1, 5} out of bounds for dim 1 of {2, 3}")
    t.raises(function() return x:sum(0) end, "sum: dim 0 out of range")
    t.raises(function() return x:flip(3) end, "flip: dim 3 out of range")
  end,

  ["reductions over a dim, several dims, or all"] = function(t)
    local x = Tensor{{1, 2, 3}, {4, 5, 6}}
    t.eq(x:sum():item(), 21)
    t.eq(x:sum(1):totable(), {5, 7, 9})
    t.eq(x:sum(2):totable(), {6, 15})
    t.eq(x:sum(-1, {keepdim = true}):totable(), {{6}, {15}})
    t.eq(x:sum{1, 2}:item(), 21)
    t.eq(x:prod(2):totable(), {6, 120})
    t.eq(x:max(1):totable(), {4, 5, 6})
    t.eq(x:min(2):totable(), {1, 4})
    t.eq(x:mean():item(), 3.5)
    t.eq(x:mean(2):totable(), {2, 5})
    t.eq(Tensor{true, true, false}:sum():item(), 2)
    t.eq(Tensor{true, true, false}:sum().dtype, mg.int32)
    t.eq(Tensor({200, 100}, {dtype = mg.uint8}):sum():item(), 300)
    t.eq(Tensor({-5, 3}, {dtype = mg.int8}):min():item(), -5)
    t.eq(Tensor.zeros(0):sum():item(), 0)
  end,

  ["values out: item, totable, ptr, realize"] = function(t)
    local x = (Tensor{1, 2, 3} * 2):realize()
    t.truthy(x:is_realized())
    local p = x:ptr()
    t.eq({p[0], p[1], p[2]}, {2, 4, 6})
    t.raises(function() return x:item() end, "item: tensor of shape {3} has 3 elements, expected 1")
    local a, b = Tensor{1} + 1, Tensor{2} + 2
    mg.realize(a, b)
    t.truthy(a:is_realized() and b:is_realized())
    t.eq(Tensor({1.5, 2.25}, {dtype = mg.float16}):totable(), {1.5, 2.25})
    t.eq(Tensor({1e10}, {dtype = mg.int64}):item(), 1e10)
  end,

  ["free releases the buffer; later use is an error"] = function(t)
    local before = mg.memory_used()
    local x = Tensor.ones(1000):contiguous():realize()
    t.truthy(mg.memory_used() >= before + 4000)
    x:free()
    t.eq(mg.memory_used(), before)
    t.raises(function() return x + 1 end, "after free")
    t.raises(function() return x:totable() end, "after free")
    t.raises(function() return x.shape end, "after free")
  end,

  ["printing: values then a footer"] = function(t)
    t.eq(tostring(Tensor{{1, 2, 3}, {4, 5, 6.5}}),
      " 1.0000 2.0000 3.0000\n 4.0000 5.0000 6.5000\n[moongrad.Tensor float32 of size 2x3 on " .. Tensor{1}.device .. "]")
    t.eq(tostring(Tensor{1, 20}), "  1 20\n[moongrad.Tensor int32 of size 2 on " .. Tensor{1}.device .. "]")
    t.eq(tostring(Tensor(5)), "5\n[moongrad.Tensor int32 of size [] on " .. Tensor{1}.device .. "]")
    local big = tostring(Tensor.zeros(100, 100))
    t.truthy(big:find("%.%.%.") ~= nil, "big tensors are elided")
    t.truthy(#big < 2000)
    t.truthy(tostring(Tensor.zeros(2, 2, 2)):find("%(1,%.,%.%) = ") ~= nil)
  end,

  ["bad input raises errors naming the op"] = function(t)
    t.raises(function() return Tensor{{1, 2}, {3}} end, "ragged")
    t.raises(function() return Tensor{"a"} end, "elements must be numbers or booleans")
    t.raises(function() return Tensor.zeros(2):cast("float128") end, "unknown dtype 'float128'")
    t.raises(function() return Tensor.zeros(2, {device = "TPU"}) end, "device 'TPU' is not available")
    t.raises(function() return Tensor.zeros(2):bitcast(mg.int8) end, "bitcast: cannot bitcast float32 to int8")
    t.raises(function() local x = Tensor.zeros(2); x.foo = 1 end, "cannot set field 'foo'")
    t.raises(function() return #Tensor(1) end, "0%-d tensor")
    t.raises(function() return Tensor.zeros(1e12, 1e12) end, "more elements than fit in 64 bits")
  end,
}
