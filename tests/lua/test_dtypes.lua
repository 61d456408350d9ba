-- Every dtype through the elementwise ops, with C semantics for integers (wrap-around,
-- truncating division) and rounding for the short floats. Expected values worked out by hand.
local mg = require("moongrad")
local Tensor = mg.Tensor

local ints = { "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64" }
local floats = { "float16", "bfloat16", "float32", "float64" }

return {
  ["add, sub, mul, max and comparisons on every integer dtype"] = function(t)
    for _, name in ipairs(ints) do
      local dt = mg[name]
      local a, b = Tensor({7, 100, 3}, {dtype = dt}), Tensor({2, 20, 3}, {dtype = dt})
      t.eq((a + b).dtype, dt, name)
      t.eq((a + b):totable(), {9, 120, 6}, name .. " add")
      t.eq((a - b):totable(), {5, 80, 0}, name .. " sub")
      t.eq((Tensor({7, 10}, {dtype = dt}) * Tensor({2, 12}, {dtype = dt})):totable(), {14, 120}, name .. " mul")
      t.eq(a:maximum(b):totable(), {7, 100, 3}, name .. " max")
      t.eq(a:lt(b):totable(), {false, false, false}, name .. " lt")
      t.eq(a:eq(b):totable(), {false, false, true}, name .. " eq")
      t.eq(a:div(b, {rounding_mode = "trunc"}):totable(), {3, 5, 1}, name .. " idiv")
      t.eq(a:fmod(b):totable(), {1, 0, 0}, name .. " fmod")
    end
  end,

  ["integer wrap-around at each width"] = function(t)
    t.eq((Tensor({127}, {dtype = mg.int8}) + 1):item(), -128)
    t.eq((Tensor({255}, {dtype = mg.uint8}) + 1):item(), 0)
    t.eq((Tensor({0}, {dtype = mg.uint8}) - 1):item(), 255)
    t.eq((Tensor({32767}, {dtype = mg.int16}) + 1):item(), -32768)
    t.eq((Tensor({65535}, {dtype = mg.uint16}) + 1):item(), 0)
    t.eq((Tensor({2147483647}, {dtype = mg.int32}) + 1):item(), -2147483648)
    t.eq((Tensor({4294967295}, {dtype = mg.uint32}) + 1):item(), 0)
    t.eq((Tensor({100}, {dtype = mg.int8}) * 3):item(), 44)
    t.eq((Tensor({-7}, {dtype = mg.int8}):div(2, {rounding_mode = "trunc"})):item(), -3)
    t.eq((Tensor({-7}, {dtype = mg.int32}) % 2):item(), 1)
  end,

  ["arithmetic on every float dtype"] = function(t)
    for _, name in ipairs(floats) do
      local dt = mg[name]
      local a = Tensor({1.5, -2.25, 0.5}, {dtype = dt})
      t.eq((a * 2).dtype, dt, name)
      t.eq((a * 2):totable(), {3, -4.5, 1}, name)
      t.eq((a - 1):totable(), {0.5, -3.25, -0.5}, name)
      t.eq((a / 0.5):totable(), {3, -4.5, 1}, name)
      t.eq(a:maximum(0):totable(), {1.5, 0, 0.5}, name)
    end
  end,

  ["the short floats round to nearest even"] = function(t)
    t.eq(Tensor({1 / 3}, {dtype = mg.float16}):item(), 0.333251953125)
    t.eq(Tensor({1 + 2 ^ -11}, {dtype = mg.float16}):item(), 1)          -- a tie goes to even
    t.eq(Tensor({1 + 3 * 2 ^ -11}, {dtype = mg.float16}):item(), 1 + 2 ^ -9)
    t.eq(Tensor({70000}, {dtype = mg.float16}):item(), math.huge)
    t.eq(Tensor({1 / 3}, {dtype = mg.bfloat16}):item(), 0.333984375)
    t.eq(Tensor({3.14159}, {dtype = mg.bfloat16}):item(), 3.140625)
    t.eq((Tensor({0.1}, {dtype = mg.float32}) + 0.2):item(), 0.30000001192092896)
    t.eq((Tensor({0.1}, {dtype = mg.float64}) + 0.2):item(), 0.30000000000000004)
    t.eq((Tensor({2048}, {dtype = mg.float16}) + 1):item(), 2048)  -- 2049 is not a float16
  end,

  ["bool arithmetic and casts between every pair of kinds"] = function(t)
    t.eq(Tensor{true, false}:cast(mg.int32):totable(), {1, 0})
    t.eq(Tensor{0, 2, -1}:cast(mg.bool):totable(), {false, true, true})
    t.eq(Tensor{2.9, -2.9}:cast(mg.int32):totable(), {2, -2})
    t.eq(Tensor({1e10, -1e10, 0 / 0}, {dtype = mg.float32}):cast(mg.int32):totable(), {2147483647, -2147483648, 0})
    t.eq(Tensor({300, -1}, {dtype = mg.int32}):cast(mg.uint8):totable(), {44, 255})
    t.eq(Tensor({1}, {dtype = mg.float32}):bitcast(mg.int32):item(), 1065353216)
    t.eq(Tensor({-1}, {dtype = mg.int8}):bitcast(mg.uint8):item(), 255)
    t.eq((Tensor{true, false} * Tensor{true, true}):totable(), {true, false})
  end,
}
