-- cat, stack, split, chunk, roll, narrow, select, gather, scatter, diag, tril, triu, masked_fill,
-- repeat, repeat_interleave and pad's modes. Expected values are written out by hand.
local mg = require("moongrad")
local Tensor = mg.Tensor

local function shapes(list)
  local r = {}
  for i, x in ipairs(list) do r[i] = x.shape end
  return r
end
local function values(list)
  local r = {}
  for i, x in ipairs(list) do r[i] = x:totable() end
  return r
end

return {
  ["cat joins along a dim (default 1), promoting dtypes"] = function(t)
    local a, b = Tensor{{1, 2}, {3, 4}}, Tensor{{5, 6}}
    t.eq(Tensor.cat({a, b}):totable(), {{1, 2}, {3, 4}, {5, 6}})
    t.eq(Tensor.cat({a, b.T}, 2):totable(), {{1, 2, 5}, {3, 4, 6}})
    t.eq(Tensor.cat({a, a}, -1):totable(), {{1, 2, 1, 2}, {3, 4, 3, 4}})
    t.eq(a:cat(b, 1):totable(), {{1, 2}, {3, 4}, {5, 6}})
    t.eq(a:cat(b, b):totable(), {{1, 2}, {3, 4}, {5, 6}, {5, 6}})
    t.eq(Tensor.cat({Tensor{1}, Tensor{2, 3}, Tensor{4, 5, 6}}):totable(), {1, 2, 3, 4, 5, 6})
    t.eq(Tensor.cat({a}):totable(), {{1, 2}, {3, 4}})
    local f = Tensor.cat({Tensor{1, 2}, Tensor{0.5}})
    t.eq(f.dtype, mg.float32)
    t.eq(f:totable(), {1, 2, 0.5})
    t.eq(Tensor.cat({Tensor{true}, Tensor{false, true}}):totable(), {true, false, true})
    -- values cat must keep exactly: -0, inf, nan
    local odd = Tensor.cat({Tensor{-0.0, math.huge}, Tensor{0 / 0}})
    t.eq(1 / odd[1]:item(), -math.huge)
    t.eq(odd[2]:item(), math.huge)
    t.truthy(odd[3]:item() ~= odd[3]:item())
    local c = Tensor.cat({Tensor.zeros(2, 3, 1), Tensor.ones(2, 3, 2)}, 3)
    t.eq(c:totable(), {{{0, 1, 1}, {0, 1, 1}, {0, 1, 1}}, {{0, 1, 1}, {0, 1, 1}, {0, 1, 1}}})
  end,

  ["cat with empty pieces and 0-size tensors"] = function(t)
    t.eq(Tensor.cat({Tensor.zeros(0, 2), Tensor.ones(1, 2)}):totable(), {{1, 1}})
    t.eq(Tensor.cat({Tensor.ones(1, 2), Tensor.zeros(0, 2), Tensor.ones(1, 2) * 2}):totable(), {{1, 1}, {2, 2}})
    t.eq(Tensor.cat({Tensor.zeros(0, 2), Tensor.zeros(0, 2)}).shape, {0, 2})
    t.eq(Tensor.cat({Tensor.zeros(0, 2), Tensor.zeros(0, 3)}, 2).shape, {0, 5})
  end,

  ["cat errors"] = function(t)
    t.raises(function() return Tensor.cat({Tensor{{1, 2}}, Tensor{{1, 2, 3}}}) end,
      "cat: sizes must match except in dim 1: tensor 2 is {1, 3}, tensor 1 is {1, 2}")
    t.raises(function() return Tensor.cat({Tensor{{1, 2}}, Tensor{1, 2}}) end, "cat: tensor 2 has 1 dims {2}, tensor 1 has 2 {1, 2}")
    t.raises(function() return Tensor.cat({Tensor{1}, Tensor{2}}, 2) end, "cat: dim 2 out of range for a tensor of 1 dims")
    t.raises(function() return Tensor.cat({}) end, "cat: expected at least one tensor")
    t.raises(function() return Tensor.cat({Tensor{1}, 5}) end, "cat: element 2 is not a tensor")
    t.raises(function() return Tensor.cat({Tensor(1), Tensor(2)}) end, "cat: cannot concatenate 0%-d tensors")
  end,

  ["stack adds a dim"] = function(t)
    local a, b = Tensor{1, 2}, Tensor{3, 4}
    t.eq(Tensor.stack({a, b}):totable(), {{1, 2}, {3, 4}})
    t.eq(Tensor.stack({a, b}, 2):totable(), {{1, 3}, {2, 4}})
    t.eq(Tensor.stack({a, b}, -1):totable(), {{1, 3}, {2, 4}})
    t.eq(Tensor.stack({Tensor(1), Tensor(2), Tensor(3)}):totable(), {1, 2, 3})
    local m = Tensor{{1, 2}, {3, 4}}
    t.eq(Tensor.stack({m, m * 10}, 2):totable(), {{{1, 2}, {10, 20}}, {{3, 4}, {30, 40}}})
    t.eq(Tensor.stack({m, m * 10}, 3):totable(), {{{1, 10}, {2, 20}}, {{3, 30}, {4, 40}}})
    t.eq(a:stack(b):totable(), {{1, 2}, {3, 4}})
    t.eq(Tensor.stack({Tensor.zeros(0), Tensor.zeros(0)}).shape, {2, 0})
    t.raises(function() return Tensor.stack({a, Tensor{1, 2, 3}}) end, "stack: all tensors must have the same shape: tensor 2 is {3}, tensor 1 is {2}")
    t.raises(function() return Tensor.stack({a, b}, 4) end, "stack: dim 4 out of range for a tensor of 2 dims")
  end,

  ["split by size or sizes, chunk"] = function(t)
    local x = Tensor.arange(10)
    t.eq(values(x:split(4)), {{0, 1, 2, 3}, {4, 5, 6, 7}, {8, 9}})
    t.eq(values(x:split(5)), {{0, 1, 2, 3, 4}, {5, 6, 7, 8, 9}})
    t.eq(values(x:split(20)), {{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}})
    t.eq(values(x:split({3, 0, 7})), {{0, 1, 2}, {}, {3, 4, 5, 6, 7, 8, 9}})
    local m = Tensor{{1, 2, 3}, {4, 5, 6}}
    t.eq(values(m:split(2, 2)), {{{1, 2}, {4, 5}}, {{3}, {6}}})
    t.eq(values(m:split(1)), {{{1, 2, 3}}, {{4, 5, 6}}})
    t.eq(values(m:split({1, 2}, -1)), {{{1}, {4}}, {{2, 3}, {5, 6}}})
    t.eq(values(x:chunk(3)), {{0, 1, 2, 3}, {4, 5, 6, 7}, {8, 9}})
    t.eq(values(x:chunk(5)), {{0, 1}, {2, 3}, {4, 5}, {6, 7}, {8, 9}})
    t.eq(#Tensor.arange(6):chunk(4), 3, "like torch: chunks of ceil(6/4) = 2")
    t.eq(#Tensor.zeros(0, 2):chunk(1e12), 1, "an empty dim is one chunk, not a list of 1e12")
    t.eq(values(m:chunk(3, 2)), {{{1}, {4}}, {{2}, {5}}, {{3}, {6}}})
    t.eq(shapes(Tensor.zeros(0, 2):split(2)), {{0, 2}})
    t.raises(function() return x:split({3, 3}) end, "split: sizes {3, 3} add up to 6, but dim 1 of {10} has size 10")
    t.raises(function() return x:split(0) end, "split: size must be positive, got 0")
    t.raises(function() return x:split(2, 2) end, "split: dim 2 out of range")
    t.raises(function() return x:chunk(0) end, "chunk: number of chunks must be positive, got 0")
  end,

  ["narrow and select"] = function(t)
    local m = Tensor{{1, 2, 3, 4}, {5, 6, 7, 8}, {9, 10, 11, 12}}
    t.eq(m:narrow(1, 2, 2):totable(), {{5, 6, 7, 8}, {9, 10, 11, 12}})
    t.eq(m:narrow(2, 2, 3):totable(), {{2, 3, 4}, {6, 7, 8}, {10, 11, 12}})
    t.eq(m:narrow(-1, -2, 2):totable(), {{3, 4}, {7, 8}, {11, 12}})
    t.eq(m:narrow(2, 5, 0).shape, {3, 0})
    t.eq(m:select(1, 2):totable(), {5, 6, 7, 8})
    t.eq(m:select(2, -1):totable(), {4, 8, 12})
    t.eq(Tensor{7, 8}:select(1, 2):item(), 8)
    t.raises(function() return m:narrow(1, 3, 2) end, "narrow: start 3 and length 2 out of range for dim 1 of size 3 in {3, 4}")
    t.raises(function() return m:narrow(3, 1, 1) end, "narrow: dim 3 out of range for a tensor of 2 dims")
    t.raises(function() return m:select(2, 5) end, "select: 5 out of range for dim 2 of size 4 in {3, 4}")
    t.raises(function() return m:select(1, 0) end, "select: 0 out of range for dim 1 of size 3")
  end,

  ["gather with 1-based indices"] = function(t)
    local g = Tensor{{1, 2, 3}, {4, 5, 6}}
    t.eq(g:gather(2, Tensor{{3, 1}, {2, 2}}):totable(), {{3, 1}, {5, 5}})
    t.eq(g:gather(1, Tensor{{2, 1, 2}}):totable(), {{4, 2, 6}})
    t.eq(g:gather(1, Tensor{{2, 1, 2}, {1, 1, 1}, {2, 2, 2}}):totable(), {{4, 2, 6}, {1, 2, 3}, {4, 5, 6}})
    t.eq(g:gather(-1, Tensor{{-1}, {1}}):totable(), {{3}, {4}})
    t.eq(g:gather(2, Tensor{{1}}):totable(), {{1}}, "the index may be smaller in the other dims")
    t.eq(Tensor{10, 20, 30}:gather(1, Tensor{3, 3, 1, 2}):totable(), {30, 30, 10, 20})
    t.eq(Tensor{{0.5, -1.5}}:gather(2, Tensor{{2, 1, 2}}):totable(), {{-1.5, 0.5, -1.5}})
    t.eq(Tensor{true, false}:gather(1, Tensor{2, 1}):totable(), {false, true})
    local y = Tensor{{{1, 2}, {3, 4}}, {{5, 6}, {7, 8}}}
    t.eq(y:gather(2, Tensor{{{2, 1}}, {{1, 1}}}):totable(), {{{3, 2}}, {{5, 6}}})
    t.eq(y:gather(3, Tensor{{{2}, {2}}, {{1}, {2}}}):totable(), {{{2}, {4}}, {{5}, {8}}})
    t.eq(g:gather(2, Tensor.zeros(2, 0, {dtype = mg.int32})).shape, {2, 0})
    t.raises(function() return g:gather(2, Tensor{1, 2}) end, "gather: index {2} must have as many dims as the tensor {2, 3}")
    t.raises(function() return g:gather(2, Tensor{{1}, {1}, {1}}) end, "gather: index {3, 1} is larger than the tensor {2, 3} in dim 1")
    t.raises(function() return g:gather(2, Tensor{{1.5}}) end, "gather: index must have an integer dtype, got float32")
    t.raises(function() return g:gather(3, Tensor{{1}}) end, "gather: dim 3 out of range")
  end,

  ["scatter returns a new tensor; repeated positions: the last wins"] = function(t)
    local z = Tensor.zeros(3, 4)
    t.eq(z:scatter(1, Tensor{{2, 1, 3, 2}}, Tensor{{1, 2, 3, 4}}):totable(),
      {{0, 2, 0, 0}, {1, 0, 0, 4}, {0, 0, 3, 0}})
    t.eq(z:totable(), {{0, 0, 0, 0}, {0, 0, 0, 0}, {0, 0, 0, 0}}, "the input is unchanged")
    local zi = Tensor.zeros(2, 4, {dtype = mg.int32})
    t.eq(zi:scatter(2, Tensor{{4, 1}, {2, 2}}, Tensor{{7, 8}, {9, 10}}):totable(), {{8, 0, 0, 7}, {0, 10, 0, 0}})
    t.eq(zi:scatter(2, Tensor{{-1}}, 5):totable(), {{0, 0, 0, 5}, {0, 0, 0, 0}})
    t.eq(Tensor{1, 2, 3, 4, 5}:scatter(1, Tensor{5, 1}, Tensor{50, 10, 99}):totable(), {10, 2, 3, 4, 50},
      "src may be larger than the index")
    local x = Tensor{{1, 2, 3}, {4, 5, 6}}
    t.eq(x:scatter(1, Tensor{{2, 2, 1}, {1, 1, 2}}, Tensor{{10, 20, 30}, {40, 50, 60}}):totable(),
      {{40, 50, 30}, {10, 20, 60}})
    t.eq(x:scatter(2, Tensor{{1, 1, 1}}, Tensor{{7, 8, 9}}):totable(), {{9, 2, 3}, {4, 5, 6}})
    t.eq(Tensor{0.5, 1.5}:scatter(1, Tensor{2}, Tensor{-2.25}):totable(), {0.5, -2.25})
    t.eq(Tensor{false, false, false}:scatter(1, Tensor{3}, true):totable(), {false, false, true})
    local y = Tensor.zeros(2, 2, 2, {dtype = mg.int32})
    t.eq(y:scatter(3, Tensor{{{2}, {1}}, {{1}, {2}}}, Tensor{{{1}, {2}}, {{3}, {4}}}):totable(),
      {{{0, 1}, {2, 0}}, {{3, 0}, {0, 4}}})
    t.eq(x:scatter(1, Tensor.zeros(0, 3, {dtype = mg.int32}), 1):totable(), {{1, 2, 3}, {4, 5, 6}})
    t.raises(function() return x:scatter(1, Tensor{{1, 1, 1}}, Tensor{{1, 2}}) end, "scatter: index {1, 3} is larger than src {1, 2} in dim 2")
    t.raises(function() return x:scatter(1, Tensor{{1}}, "a") end, "scatter: src must be a tensor or a number, got string")
  end,

  ["diag both ways, with offsets"] = function(t)
    t.eq(Tensor{1, 2, 3}:diag():totable(), {{1, 0, 0}, {0, 2, 0}, {0, 0, 3}})
    t.eq(Tensor{1, 2}:diag(1):totable(), {{0, 1, 0}, {0, 0, 2}, {0, 0, 0}})
    t.eq(Tensor{1, 2}:diag(-1):totable(), {{0, 0, 0}, {1, 0, 0}, {0, 2, 0}})
    t.eq(Tensor{1.5}:diag():totable(), {{1.5}})
    t.eq(Tensor.zeros(0):diag().shape, {0, 0})
    local g = Tensor{{1, 2, 3}, {4, 5, 6}}
    t.eq(g:diag():totable(), {1, 5})
    t.eq(g:diag(1):totable(), {2, 6})
    t.eq(g:diag(2):totable(), {3})
    t.eq(g:diag(-1):totable(), {4})
    t.eq(g:diag(3).shape, {0})
    t.eq(g:diag(-2).shape, {0})
    t.eq(g.T:diag():totable(), {1, 5})
    t.eq(Tensor{{1, 2}, {3, 4}, {5, 6}}:diag(-1):totable(), {3, 6})
    t.raises(function() return Tensor.zeros(2, 2, 2):diag() end, "diag: expected a 1%-D or 2%-D tensor, got {2, 2, 2}")
  end,

  ["tril and triu over the last two dims"] = function(t)
    local m = Tensor{{1, 2, 3, 4}, {5, 6, 7, 8}, {9, 10, 11, 12}}
    t.eq(m:tril():totable(), {{1, 0, 0, 0}, {5, 6, 0, 0}, {9, 10, 11, 0}})
    t.eq(m:tril(1):totable(), {{1, 2, 0, 0}, {5, 6, 7, 0}, {9, 10, 11, 12}})
    t.eq(m:tril(-1):totable(), {{0, 0, 0, 0}, {5, 0, 0, 0}, {9, 10, 0, 0}})
    t.eq(m:triu():totable(), {{1, 2, 3, 4}, {0, 6, 7, 8}, {0, 0, 11, 12}})
    t.eq(m:triu(2):totable(), {{0, 0, 3, 4}, {0, 0, 0, 8}, {0, 0, 0, 0}})
    t.eq(m:triu(-1):totable(), {{1, 2, 3, 4}, {5, 6, 7, 8}, {0, 10, 11, 12}})
    local b = Tensor.ones(2, 2, 2)
    t.eq(b:tril():totable(), {{{1, 0}, {1, 1}}, {{1, 0}, {1, 1}}})
    t.eq(Tensor.ones(2, 2, {dtype = mg.bool}):triu():totable(), {{true, true}, {false, true}})
    t.eq(Tensor.ones(2, 2, {dtype = mg.bool}):triu().dtype, mg.bool)
    t.eq(Tensor.zeros(0, 3):tril().shape, {0, 3})
    t.raises(function() return Tensor{1, 2}:tril() end, "tril: expected a tensor of at least 2 dims, got {2}")
  end,

  ["masked_fill keeps the dtype and broadcasts the mask"] = function(t)
    local g = Tensor{{1, 2, 3}, {4, 5, 6}}
    t.eq(g:masked_fill(g:gt(3), -1):totable(), {{1, 2, 3}, {-1, -1, -1}})
    t.eq(g:masked_fill(Tensor{true, false, true}, 0):totable(), {{0, 2, 0}, {0, 5, 0}})
    t.eq(g:masked_fill(Tensor{{false}, {true}}, 9):totable(), {{1, 2, 3}, {9, 9, 9}})
    t.eq(g:masked_fill(g:eq(2), 7.9).dtype, mg.int32)
    local f = Tensor{0.5, 1.5}
    t.eq(f:masked_fill(Tensor{false, true}, -math.huge):totable(), {0.5, -math.huge})
    t.eq(f:masked_fill(Tensor{1, 0}, Tensor(2.5)):totable(), {2.5, 1.5})
    t.raises(function() return f:masked_fill(Tensor{true, false, true}, 0) end, "masked_fill: cannot broadcast the mask {3} to the tensor {2}")
    t.raises(function() return Tensor{1}:masked_fill(Tensor{{true}, {false}}, 0) end, "masked_fill: cannot broadcast the mask {2, 1} to the tensor {1}")
  end,

  ["repeat, tile and repeat_interleave"] = function(t)
    local a = Tensor{1, 2}
    local rep = a["repeat"]
    t.eq(rep(a, 3):totable(), {1, 2, 1, 2, 1, 2})
    t.eq(rep(a, 2, 2):totable(), {{1, 2, 1, 2}, {1, 2, 1, 2}})
    t.eq(rep(a, {2, 1, 1}):totable(), {{{1, 2}}, {{1, 2}}})
    local m = Tensor{{1, 2}, {3, 4}}
    t.eq(m:repeat_tensor(2, 1):totable(), {{1, 2}, {3, 4}, {1, 2}, {3, 4}})
    t.eq(m:repeat_tensor(1, 0).shape, {2, 0})
    t.eq(m:tile(2):totable(), {{1, 2, 1, 2}, {3, 4, 3, 4}})
    t.raises(function() return rep(m, 2) end, "repeat: 1 counts for a tensor of 2 dims {2, 2}")
    t.eq(m:repeat_interleave(2, 1):totable(), {{1, 2}, {1, 2}, {3, 4}, {3, 4}})
    t.eq(m:repeat_interleave(3, 2):totable(), {{1, 1, 1, 2, 2, 2}, {3, 3, 3, 4, 4, 4}})
    t.eq(m:repeat_interleave(2):totable(), {1, 1, 2, 2, 3, 3, 4, 4})
    t.eq(m:repeat_interleave(0, 1).shape, {0, 2})
    t.raises(function() return m:repeat_interleave(-1) end, "repeat_interleave: repeats must be >= 0, got %-1")
  end,

  ["roll along dims or flattened"] = function(t)
    local x = Tensor.arange(5)
    t.eq(x:roll(2):totable(), {3, 4, 0, 1, 2})
    t.eq(x:roll(-1):totable(), {1, 2, 3, 4, 0})
    t.eq(x:roll(7):totable(), {3, 4, 0, 1, 2})
    t.eq(x:roll(5):totable(), {0, 1, 2, 3, 4})
    local m = Tensor{{1, 2, 3}, {4, 5, 6}}
    t.eq(m:roll(1, 2):totable(), {{3, 1, 2}, {6, 4, 5}})
    t.eq(m:roll(1, 1):totable(), {{4, 5, 6}, {1, 2, 3}})
    t.eq(m:roll({1, -1}, {1, 2}):totable(), {{5, 6, 4}, {2, 3, 1}})
    t.eq(m:roll(1):totable(), {{6, 1, 2}, {3, 4, 5}})
    t.eq(Tensor.zeros(0, 2):roll(1, 1).shape, {0, 2})
    t.raises(function() return m:roll({1, 2}, {1}) end, "roll: 2 shifts for 1 dims")
    t.raises(function() return m:roll(1, 3) end, "roll: dim 3 out of range")
  end,

  ["pad modes reflect, replicate, circular"] = function(t)
    local r = Tensor{{1, 2, 3}}
    t.eq(r:pad({{0, 0}, {2, 2}}, {mode = "reflect"}):totable(), {{3, 2, 1, 2, 3, 2, 1}})
    t.eq(r:pad({{0, 0}, {2, 1}}, {mode = "replicate"}):totable(), {{1, 1, 1, 2, 3, 3}})
    t.eq(r:pad({{0, 0}, {2, 3}}, {mode = "circular"}):totable(), {{2, 3, 1, 2, 3, 1, 2, 3}})
    local m = Tensor{{1, 2, 3}, {4, 5, 6}, {7, 8, 9}}
    t.eq(m:pad({{1, 1}, {1, 1}}, {mode = "reflect"}):totable(),
      {{5, 4, 5, 6, 5}, {2, 1, 2, 3, 2}, {5, 4, 5, 6, 5}, {8, 7, 8, 9, 8}, {5, 4, 5, 6, 5}})
    t.eq(m:pad({{1, 0}, {0, 2}}, {mode = "replicate"}):totable(),
      {{1, 2, 3, 3, 3}, {1, 2, 3, 3, 3}, {4, 5, 6, 6, 6}, {7, 8, 9, 9, 9}})
    t.eq(m:pad({{0, 1}, {1, 0}}, {mode = "circular"}):totable(),
      {{3, 1, 2, 3}, {6, 4, 5, 6}, {9, 7, 8, 9}, {3, 1, 2, 3}})
    t.eq(m:pad({{-1, 0}, {1, 1}}, {mode = "replicate"}):totable(), {{4, 4, 5, 6, 6}, {7, 7, 8, 9, 9}},
      "negative amounts crop first")
    t.eq(Tensor{0.5, 1.5}:pad({{1, 1}}, {mode = "reflect"}):totable(), {1.5, 0.5, 1.5, 0.5})
    t.raises(function() return r:pad({{0, 0}, {3, 0}}, {mode = "reflect"}) end,
      "pad: reflect padding {3, 0} must be less than the size 3 of dim 2 of {1, 3}")
    t.raises(function() return r:pad({{0, 0}, {0, 4}}, {mode = "circular"}) end,
      "pad: circular padding {0, 4} must be at most the size 3 of dim 2 of {1, 3}")
    t.raises(function() return r:pad({{0, 0}, {1, 1}}, {mode = "wrap"}) end, "pad: unknown mode 'wrap'")
  end,
}
