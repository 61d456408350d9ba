-- Indexing (x[k]) and indexed assignment (x[k] = v), torch7 style, 1-based, inclusive slices.
-- Expected values are written out by hand.
local mg = require("moongrad")
local Tensor = mg.Tensor
local newaxis = Tensor.newaxis

-- {{0, 1, 2, 3}, {4, 5, 6, 7}, {8, 9, 10, 11}}
local function m34() return Tensor.arange(12):reshape(3, 4) end
-- y[i][j][k] = 100 i + 10 j + k (1-based i, j, k): shape {2, 3, 4}
local function c234()
  return Tensor{
    {{111, 112, 113, 114}, {121, 122, 123, 124}, {131, 132, 133, 134}},
    {{211, 212, 213, 214}, {221, 222, 223, 224}, {231, 232, 233, 234}},
  }
end

return {
  ["index: a number selects along dim 1 and the dim disappears"] = function(t)
    local x = m34()
    t.eq(x[1].shape, {4})
    t.eq(x[1]:totable(), {0, 1, 2, 3})
    t.eq(x[3]:totable(), {8, 9, 10, 11})
    t.eq(x[-1]:totable(), {8, 9, 10, 11})
    t.eq(x[-3]:totable(), {0, 1, 2, 3})
    local v = Tensor{5, 6, 7}
    t.eq(v[2].shape, {})
    t.eq(v[2]:item(), 6)
    t.eq(v[-1]:item(), 7)
    local y = c234()
    t.eq(y[2]:totable(), {{211, 212, 213, 214}, {221, 222, 223, 224}, {231, 232, 233, 234}})
    t.eq(y[2][3]:totable(), {231, 232, 233, 234})
    t.eq(y[2][3][-2]:item(), 233)
    t.eq(Tensor{1.5, -2.25}[2]:item(), -2.25)
    t.eq(Tensor{true, false}[2]:item(), false)
  end,

  ["index: a table of numbers selects one element as a 0-d tensor"] = function(t)
    local x = m34()
    t.eq(x[{2, 3}].shape, {})
    t.eq(x[{2, 3}]:item(), 6)
    t.eq(x[{-1, -1}]:item(), 11)
    t.eq(x[{3, 1}]:item(), 8)
    t.eq(c234()[{2, 1, 4}]:item(), 214)
    t.eq(c234()[{2, 1}]:totable(), {211, 212, 213, 214}, "fewer indices than dims: the rest are whole")
  end,

  ["index: inclusive slices {a, b}, {} for a whole dim, {a} keeps a dim of size 1"] = function(t)
    local x = m34()
    t.eq(x[{{1, 2}, 3}]:totable(), {2, 6})
    t.eq(x[{{2, 3}}]:totable(), {{4, 5, 6, 7}, {8, 9, 10, 11}})
    t.eq(x[{{}, {2, -1}}]:totable(), {{1, 2, 3}, {5, 6, 7}, {9, 10, 11}})
    t.eq(x[{{-2, -1}, {1, 2}}]:totable(), {{4, 5}, {8, 9}})
    t.eq(x[{{2, 2}, {3, 3}}]:totable(), {{6}})
    t.eq(x[{{}, 2}]:totable(), {1, 5, 9})
    t.eq(x[{}]:totable(), x:totable())
    t.eq(x[{{}, {}}]:totable(), x:totable())
    t.eq(x[{{}, {2}}].shape, {3, 1})
    t.eq(x[{{}, {2}}]:totable(), {{1}, {5}, {9}})
    t.eq(x[{{2}}]:totable(), {{4, 5, 6, 7}})
    t.eq(x[{{-1}}]:totable(), {{8, 9, 10, 11}})
    local y = c234()
    t.eq(y[{{}, 2, {3, 4}}]:totable(), {{123, 124}, {223, 224}})
    t.eq(y[{2, {1, 2}, -1}]:totable(), {214, 224})
  end,

  ["index: slices with steps, positive and negative"] = function(t)
    local x = m34()
    t.eq(x[{{}, {1, 4, 2}}]:totable(), {{0, 2}, {4, 6}, {8, 10}})
    t.eq(x[{{}, {2, 4, 2}}]:totable(), {{1, 3}, {5, 7}, {9, 11}})
    t.eq(x[{{1, 3, 2}, {1, 4, 3}}]:totable(), {{0, 3}, {8, 11}})
    t.eq(x[{{3, 1, -2}, {4, 1, -3}}]:totable(), {{11, 8}, {3, 0}})
    t.eq(x[{{}, {4, 1, -1}}]:totable(), {{3, 2, 1, 0}, {7, 6, 5, 4}, {11, 10, 9, 8}})
    t.eq(x[{{-1, 1, -1}, 1}]:totable(), {8, 4, 0})
    local r = Tensor.arange(10)
    t.eq(r[{{1, 10, 3}}]:totable(), {0, 3, 6, 9})
    t.eq(r[{{2, 9, 3}}]:totable(), {1, 4, 7})
    t.eq(r[{{2, 10, 4}}]:totable(), {1, 5, 9})
    t.eq(r[{{1, 10, 20}}]:totable(), {0})
    t.eq(r[{{10, 1, -3}}]:totable(), {9, 6, 3, 0})
    t.eq(r[{{9, 2, -4}}]:totable(), {8, 4})
    t.eq(r[{{-1, -3, -1}}]:totable(), {9, 8, 7})
    t.eq(r[{{1, -1, 2}}]:totable(), {0, 2, 4, 6, 8})
    t.eq(Tensor{0.5, 1.5, 2.5}[{{3, 1, -2}}]:totable(), {2.5, 0.5})
  end,

  ["index: empty slices and 0-size tensors"] = function(t)
    local x = m34()
    t.eq(x[{{3, 2}}].shape, {0, 4})
    t.eq(x[{{4, 3}}].shape, {0, 4})
    t.eq(x[{{1, 0}}].shape, {0, 4})
    t.eq(x[{{}, {4, 3}}].shape, {3, 0})
    t.eq(x[{{2, 1}, 2}].shape, {0})
    t.eq(x[{{1, 3, -1}}].shape, {0, 4})
    t.eq(x[{{}, {1, -5}}].shape, {3, 0})
    local z = Tensor.zeros(0, 3)
    t.eq(z[{{}, 2}].shape, {0})
    t.eq(z[{{1, 0}}].shape, {0, 3})
    t.eq(z[{{}, {2, 3}}].shape, {0, 2})
    t.eq(z[{{}, {1, 3, 2}}].shape, {0, 2})
    t.eq(Tensor.zeros(2, 0)[2].shape, {0})
    t.eq(Tensor.zeros(2, 0)[{{}, {1, 0}}].shape, {2, 0})
  end,

  ["index: newaxis inserts a dim of size 1"] = function(t)
    local x = m34()
    t.eq(x[newaxis].shape, {1, 3, 4})
    t.eq(x[{newaxis}].shape, {1, 3, 4})
    t.eq(x[{{}, newaxis, 2}].shape, {3, 1})
    t.eq(x[{{}, newaxis, 2}]:totable(), {{1}, {5}, {9}})
    t.eq(x[{1, newaxis}]:totable(), {{0, 1, 2, 3}})
    t.eq(x[{{}, {}, newaxis}].shape, {3, 4, 1})
    t.eq(x[{newaxis, 2, newaxis, {2, 3}}]:totable(), {{{5, 6}}})
    t.eq(Tensor(7)[newaxis]:totable(), {7})
    t.eq(tostring(newaxis), "mg.newaxis")
  end,

  ["index: integer tensors index by gather, 1-based"] = function(t)
    local x = m34()
    t.eq(x[Tensor{3, 1}]:totable(), {{8, 9, 10, 11}, {0, 1, 2, 3}})
    t.eq(x[Tensor{-1, 2, 2}]:totable(), {{8, 9, 10, 11}, {4, 5, 6, 7}, {4, 5, 6, 7}})
    t.eq(x[Tensor(2)]:totable(), {4, 5, 6, 7})
    t.eq(x[{{}, Tensor{{1, 2}, {4, 4}}}].shape, {3, 2, 2})
    t.eq(x[{{}, Tensor{{1, 2}, {4, 4}}}]:totable(),
      {{{0, 1}, {3, 3}}, {{4, 5}, {7, 7}}, {{8, 9}, {11, 11}}})
    t.eq(x[{Tensor{1, 3}, Tensor{2, 4}}]:totable(), {1, 11})
    t.eq(x[{Tensor{{1}, {3}}, Tensor{1, 4}}]:totable(), {{0, 3}, {8, 11}}, "index tensors broadcast together")
    t.eq(x[{{2, 3}, Tensor{4, 1}}]:totable(), {{7, 4}, {11, 8}})
    t.eq(x[{Tensor{2}, {1, 4, 3}}]:totable(), {{4, 7}})
    t.eq(x[Tensor({3, 1}, {dtype = mg.int64})]:totable(), {{8, 9, 10, 11}, {0, 1, 2, 3}})
    t.eq(x[Tensor({2}, {dtype = mg.uint8})]:totable(), {{4, 5, 6, 7}})
    t.eq(x[Tensor.zeros(0, {dtype = mg.int32})].shape, {0, 4})
    t.eq(Tensor{{1.5, -2}, {3.25, 4}}[Tensor{2, 1}]:totable(), {{3.25, 4}, {1.5, -2}})
    t.eq(Tensor{true, false, true}[Tensor{2, 3}]:totable(), {false, true})
    t.eq(Tensor{0 / 0, 1, math.huge}[Tensor{3, 2}]:totable(), {math.huge, 1})
    -- values outside 1..n select nothing: 0 (documented, not checked: that would need the values)
    t.eq(Tensor{5, 6, 7}[Tensor{4, 1, 0}]:totable(), {0, 5, 0})
  end,

  ["index: where tensor-index dims go follows numpy"] = function(t)
    local y = c234()
    -- adjacent advanced indices: in place
    t.eq(y[{{}, Tensor{3, 1}, Tensor{2, 2}}]:totable(), {{132, 112}, {232, 212}})
    t.eq(y[{{}, Tensor{3, 1}}]:totable(),
      {{{131, 132, 133, 134}, {111, 112, 113, 114}}, {{231, 232, 233, 234}, {211, 212, 213, 214}}})
    t.eq(y[{{}, 2, Tensor{4, 1}}]:totable(), {{124, 121}, {224, 221}})
    -- separated by a slice (a number counts as an advanced index): the index dims go first
    t.eq(y[{1, {}, Tensor{1, 2}}].shape, {2, 3})
    t.eq(y[{1, {}, Tensor{1, 2}}]:totable(), {{111, 121, 131}, {112, 122, 132}})
    t.eq(y[{Tensor{1, 2}, {}, Tensor{1, 2}}]:totable(), {{111, 121, 131}, {212, 222, 232}})
    t.eq(y[{Tensor{2}, {2, 3}, Tensor{{4}, {1}}}].shape, {2, 1, 2})
    t.eq(y[{Tensor{2}, {2, 3}, Tensor{{4}, {1}}}]:totable(), {{{224, 234}}, {{221, 231}}})
  end,

  ["index: errors name the op, the index and the shape"] = function(t)
    local x = m34()
    t.raises(function() return x[5] end, "index: 5 out of range for dim 1 of size 3 in {3, 4}", nil)
    t.raises(function() return x[-4] end, "index: %-4 out of range for dim 1 of size 3 in {3, 4}")
    t.raises(function() return x[0] end, "index: 0 out of range for dim 1 of size 3 in {3, 4} %(indices are 1%-based%)")
    t.raises(function() return x[{1, 5}] end, "index: 5 out of range for dim 2 of size 4 in {3, 4}")
    t.raises(function() return x[{1, 2, 3}] end, "index: too many indices %(3%) for a tensor of 2 dims {3, 4}")
    t.raises(function() return x[{{1, 5}}] end, "index: slice {1, 5} out of range for dim 1 of size 3 in {3, 4}")
    t.raises(function() return x[{{0, 2}}] end, "index: slice {0, 2} out of range for dim 1 of size 3 in {3, 4}")
    t.raises(function() return x[{{}, {6, 7}}] end, "index: slice {6, 7} out of range for dim 2 of size 4 in {3, 4}")
    t.raises(function() return x[{{}, {5}}] end, "index: slice {5} out of range for dim 2 of size 4 in {3, 4}")
    t.raises(function() return x[{{1, 2, 0}}] end, "index: slice step must not be 0")
    t.raises(function() return x[1.5] end, "index: index 1.5 for dim 1 is not an integer")
    t.raises(function() return x[{"a"}] end, "index: index 1 must be a number, a slice table, an integer tensor or mg.newaxis, got string a")
    t.raises(function() return x[{{1, "b"}}] end, "index: slice bounds must be integers")
    t.raises(function() return x[{{1, 2, 1, 1}}] end, "index: a slice is {}, {i}, {first, last} or {first, last, step}")
    t.raises(function() return x[{{}, {a = 1}}] end, "index: a slice is")
    t.raises(function() return x[{x = 1}] end, "index: the index table must be a sequence")
    t.raises(function() return x[{{1, nil, 2}}] end, "index: a slice table must be a sequence %(no holes%) for dim 1")
    t.raises(function() return x[Tensor{1.5}] end, "index: tensor indices must have an integer dtype, got float32")
    t.raises(function() return x[Tensor{true, false, true}] end, "index: bool tensor indices %(masks%) are not supported")
    t.raises(function() return x[{Tensor{1, 2}, Tensor{1, 2, 3}}] end, "index: tensor indices of shapes {2}, {3} do not broadcast together")
    t.raises(function() return Tensor(5)[1] end, "index: too many indices %(1%) for a tensor of 0 dims {}")
    t.raises(function() return Tensor.zeros(0, 3)[1] end, "index: 1 out of range for dim 1 of size 0 in {0, 3}")
  end,

  ["index_assign: numbers, rows, elements and slices write in place"] = function(t)
    local x = m34()
    x[{{}, 2}] = 0
    t.eq(x:totable(), {{0, 0, 2, 3}, {4, 0, 6, 7}, {8, 0, 10, 11}})
    x[{1, {2, 3}}] = Tensor{100, 200}
    t.eq(x:totable(), {{0, 100, 200, 3}, {4, 0, 6, 7}, {8, 0, 10, 11}})
    x[2] = Tensor{-1, -2, -3, -4}
    t.eq(x:totable(), {{0, 100, 200, 3}, {-1, -2, -3, -4}, {8, 0, 10, 11}})
    x[{3, 4}] = 42
    t.eq(x:totable(), {{0, 100, 200, 3}, {-1, -2, -3, -4}, {8, 0, 10, 42}})
    x[-1] = 5
    t.eq(x:totable(), {{0, 100, 200, 3}, {-1, -2, -3, -4}, {5, 5, 5, 5}})
    x[{{2}, {-2, -1}}] = Tensor{{70, 80}}
    t.eq(x:totable(), {{0, 100, 200, 3}, {-1, -2, 70, 80}, {5, 5, 5, 5}})
    t.eq(x.dtype, mg.int32)
    t.eq(x.shape, {3, 4})
  end,

  ["index_assign: broadcast rows and columns"] = function(t)
    local x = m34()
    x[{{1, 2}}] = Tensor{9, 8, 7, 6}
    t.eq(x:totable(), {{9, 8, 7, 6}, {9, 8, 7, 6}, {8, 9, 10, 11}})
    x[{{}, {2, 3}}] = Tensor{{1}, {2}, {3}}
    t.eq(x:totable(), {{9, 1, 1, 6}, {9, 2, 2, 6}, {8, 3, 3, 11}})
    x[{}] = Tensor{0, 1, 0, 1}
    t.eq(x:totable(), {{0, 1, 0, 1}, {0, 1, 0, 1}, {0, 1, 0, 1}})
    local y = Tensor.zeros(2, 3)
    y[{{}, 3}] = Tensor{{{4.5, 5.5}}}  -- leading size-1 dims are dropped, as torch does
    t.eq(y:totable(), {{0, 0, 4.5}, {0, 0, 5.5}})
  end,

  ["index_assign: strided, reversed and empty slices"] = function(t)
    local x = m34()
    x[{{}, {1, 4, 3}}] = -1
    t.eq(x:totable(), {{-1, 1, 2, -1}, {-1, 5, 6, -1}, {-1, 9, 10, -1}})
    x[{{}, {4, 1, -2}}] = Tensor{50, 60}
    t.eq(x:totable(), {{-1, 60, 2, 50}, {-1, 60, 6, 50}, {-1, 60, 10, 50}})
    x[{{3, 1, -2}, 3}] = Tensor{7, 8}
    t.eq(x:totable(), {{-1, 60, 8, 50}, {-1, 60, 6, 50}, {-1, 60, 7, 50}})
    x[{{3, 2}}] = 99
    t.eq(x:totable(), {{-1, 60, 8, 50}, {-1, 60, 6, 50}, {-1, 60, 7, 50}})
    local r = Tensor.arange(10)
    r[{{2, 10, 4}}] = Tensor{-2, -6, -10}
    t.eq(r:totable(), {0, -2, 2, 3, 4, -6, 6, 7, 8, -10})
    local z = Tensor.zeros(0, 3)
    z[{{}, 2}] = 1
    t.eq(z.shape, {0, 3})
  end,

  ["index_assign: newaxis, 0-d, float and bool tensors, dtype conversion"] = function(t)
    local x = m34()
    x[{newaxis, 1}] = Tensor{{1, 1, 1, 1}}
    t.eq(x[1]:totable(), {1, 1, 1, 1})
    local s = Tensor(5)
    s[{}] = 7
    t.eq(s:item(), 7)
    local f = Tensor{{0.5, 1.5}, {2.5, 3.5}}
    f[{2, 1}] = -0.25
    t.eq(f:totable(), {{0.5, 1.5}, {-0.25, 3.5}})
    local i = Tensor{1, 2, 3}
    i[2] = 7.9  -- converted to the tensor's dtype: truncated, as torch does
    t.eq(i:totable(), {1, 7, 3})
    i[{{1, 2}}] = Tensor{0.5, 2.5}
    t.eq(i:totable(), {0, 2, 3})
    t.eq(i.dtype, mg.int32)
    local b = Tensor{true, false, true}
    b[2] = true
    b[{{3}}] = false
    t.eq(b:totable(), {true, true, false})
    local h = Tensor({1, 2, 3}, {dtype = mg.float16})
    h[{{2, 3}}] = 0.5
    t.eq(h:totable(), {1, 0.5, 0.5})
  end,

  ["index_assign: tensor indices, repeated indices (the last wins), numpy placement"] = function(t)
    local x = m34()
    x[Tensor{3, 1}] = 0
    t.eq(x:totable(), {{0, 0, 0, 0}, {4, 5, 6, 7}, {0, 0, 0, 0}})
    x = m34()
    x[{Tensor{1, 3}, Tensor{2, 4}}] = Tensor{50, 60}
    t.eq(x:totable(), {{0, 50, 2, 3}, {4, 5, 6, 7}, {8, 9, 10, 60}})
    x = m34()
    x[Tensor{2, 2}] = Tensor{{1, 1, 1, 1}, {2, 2, 2, 2}}
    t.eq(x[2]:totable(), {2, 2, 2, 2})
    x = m34()
    x[Tensor{3, 1, 3}] = Tensor{{7}, {8}, {9}}
    t.eq(x:totable(), {{8, 8, 8, 8}, {4, 5, 6, 7}, {9, 9, 9, 9}})
    x = m34()
    x[{{}, Tensor{-1}}] = Tensor{{7}, {8}, {9}}
    t.eq(x:totable(), {{0, 1, 2, 7}, {4, 5, 6, 8}, {8, 9, 10, 9}})
    x = m34()
    x[{{2, 3}, Tensor{4, 1}}] = Tensor{{-4, -1}, {-8, -5}}
    t.eq(x:totable(), {{0, 1, 2, 3}, {-1, 5, 6, -4}, {-5, 9, 10, -8}})
    local y = c234()
    -- y[1, :, {1, 2}] has shape {2, 3}: value[b][j] goes to y[1][j][idx[b]]
    y[{1, {}, Tensor{1, 2}}] = Tensor{{-1, -2, -3}, {-4, -5, -6}}
    t.eq(y[1]:totable(), {{-1, -4, 113, 114}, {-2, -5, 123, 124}, {-3, -6, 133, 134}})
    t.eq(y[2]:totable(), {{211, 212, 213, 214}, {221, 222, 223, 224}, {231, 232, 233, 234}})
    local f = Tensor{0.5, 1.5, 2.5}
    f[Tensor{3}] = 9.75
    t.eq(f:totable(), {0.5, 1.5, 9.75})
  end,

  ["index_assign: tensors made from x before keep the old values"] = function(t)
    local x = m34()
    local copy = x + 0
    local row = x[1]
    local view = x:reshape(12)
    x[1] = 0
    x[{{}, 4}] = -1
    t.eq(x:totable(), {{0, 0, 0, -1}, {4, 5, 6, -1}, {8, 9, 10, -1}})
    t.eq(copy:totable(), {{0, 1, 2, 3}, {4, 5, 6, 7}, {8, 9, 10, 11}})
    t.eq(row:totable(), {0, 1, 2, 3})
    t.eq(view:totable(), {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11})
    -- a realized x works the same
    local r = m34():realize()
    local before = r * 1
    r[{2, 2}] = 100
    t.eq(r[2]:totable(), {4, 100, 6, 7})
    t.eq(before[2]:totable(), {4, 5, 6, 7})
    -- a tensor made after sees the new value
    t.eq((x + 1)[2]:totable(), {5, 6, 7, 0})
  end,

  ["index_assign: lazy chains equal step-by-step realization"] = function(t)
    local function steps(x, realize_each)
      local function r() if realize_each then x:realize() end end
      x[{{}, 1}] = x[{{}, 2}]; r()
      x[2] = x[1] * 2; r()
      x[{{1, 3, 2}, {2, 4, 2}}] = x[{{1, 3, 2}, {1, 3, 2}}] + 100; r()
      x[Tensor{3}] = x[{{1}}] - 1; r()
      return x:totable()
    end
    local lazy, eager = steps(m34(), false), steps(m34(), true)
    t.eq(lazy, eager)
    t.eq(lazy, {{1, 101, 2, 102}, {2, 2, 4, 6}, {0, 100, 1, 101}})
  end,

  ["index_assign: errors name the op and the shapes"] = function(t)
    local x = m34()
    t.raises(function() x[5] = 0 end, "index_assign: 5 out of range for dim 1 of size 3 in {3, 4}")
    t.raises(function() x[{{}, 2}] = Tensor{1, 2} end, "index_assign: cannot broadcast the value of shape {2} to the indexed shape {3}")
    t.raises(function() x[1] = Tensor{{1, 2, 3, 4}, {5, 6, 7, 8}} end, "index_assign: cannot broadcast the value of shape {2, 4} to the indexed shape {4}")
    t.raises(function() x[1] = "a" end, "index_assign: the value must be a number, a boolean or a tensor, got string")
    t.raises(function() x[{1, 2, 3}] = 0 end, "index_assign: too many indices")
    t.eq(x:totable(), {{0, 1, 2, 3}, {4, 5, 6, 7}, {8, 9, 10, 11}}, "a failed assignment changes nothing")
  end,
}
