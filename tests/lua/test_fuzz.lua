-- The differential fuzzer's own parts (tests/fuzz/): its random numbers, the programs it
-- prints for replay, and the model that keeps its graphs defined.
local mg = require("moongrad")

local src = debug.getinfo(1, "S").source
local root = src:sub(1, 1) == "@" and src:sub(2):match("^(.*)/tests/lua/[^/]*$") or "."
local P = assert(loadfile(root .. "/tests/fuzz/program.lua"))()
local Mdl = assert(loadfile(root .. "/tests/fuzz/model.lua"))()
local Gen = assert(loadfile(root .. "/tests/fuzz/gen.lua"))({ program = P, model = Mdl })

local function same_values(a, b)
  if #a ~= #b then return false end
  for i = 1, #a do
    local x, y = a[i], b[i]
    if x ~= y and not (x ~= x and y ~= y) then return false end
  end
  return true
end

return {
  ["fuzz: random streams repeat per seed and differ between seeds"] = function(t)
    local a, b, c = P.rng(7), P.rng(7), P.rng(8)
    local xs, ys, zs = {}, {}, {}
    for i = 1, 20 do xs[i], ys[i], zs[i] = a:int(0, 1000000), b:int(0, 1000000), c:int(0, 1000000) end
    t.eq(xs, ys)
    t.truthy(not same_values(xs, zs), "seeds 7 and 8 gave the same stream")
    -- the first values of two seeds, pinned: a change here changes every seed's case, so
    -- seeds in old failure reports would no longer replay
    local function first3(seed)
      local r = P.rng(seed)
      return { r:int(0, 99), r:int(0, 99), r:int(0, 99) }
    end
    t.eq(first3(1), { 91, 54, 86 })
    t.eq(first3(2 ^ 40 + 5), { 13, 79, 32 })
    local f = P.rng(123)
    for _ = 1, 1000 do
      local x = f:float()
      t.truthy(x >= 0 and x < 1, "float() out of [0, 1): " .. x)
    end
  end,

  ["fuzz: the same seed builds the same program"] = function(t)
    local g1, g2 = Gen.generate(mg, 42), Gen.generate(mg, 42)
    t.eq(P.code(g1.prog, "REF"), P.code(g2.prog, "REF"))
    t.truthy(P.code(Gen.generate(mg, 43).prog, "REF") ~= P.code(g1.prog, "REF"))
  end,

  ["fuzz: a printed program replays to the values the fuzzer compared"] = function(t)
    for seed = 1, 12 do
      local g = Gen.generate(mg, seed)
      local want = {}
      for i, o in ipairs(g.prog.outputs) do want[i] = g.nodes[o]:realize():tolist() end
      local chunk = assert(loadstring(P.code(g.prog, "REF"), "=fuzz case " .. seed))
      local printed = {}
      setfenv(chunk, setmetatable({
        arg = { "REF" },
        print = function(_, x) printed[#printed + 1] = x:tolist() end,
      }, { __index = _G }))
      chunk()
      t.eq(#printed, #want, "seed " .. seed .. ": outputs printed")
      for i = 1, #want do
        t.truthy(same_values(printed[i], want[i]), "seed " .. seed .. ": output " .. i .. " differs on replay")
      end
    end
  end,

  ["fuzz: slice keeps the steps an output needs and nothing else"] = function(t)
    local f32 = mg.float32
    local prog = {
      steps = {
        { out = 1, input = { shape = { 2 }, dtype = f32, flat = { 1, 2 } } },
        { out = 2, input = { shape = { 2 }, dtype = f32, flat = { 3, 4 } } },
        { out = 3, recv = 1, fn = "neg", args = {}, nargs = 0 },
        { recv = 3, fn = "realize", args = {}, nargs = 0 },
        { out = 4, recv = 2, fn = "add", args = { P.ref(1) }, nargs = 1 },
        { out = 5, recv = 3, fn = "mul", args = { 2 }, nargs = 1 },
      },
      outputs = { 5 },
    }
    local sub = P.slice(prog, { 5 })
    local kept = {}
    for i, s in ipairs(sub.steps) do kept[i] = s.out or ("realize t" .. s.recv) end
    t.eq(kept, { 1, 3, "realize t3", 5 })
    local nodes = P.build(mg, sub, "REF")
    t.eq(nodes[5]:tolist(), { -2, -4 })
    t.eq(P.step_code(prog.steps[5]), "local t4 = t2:add(t1)")
    t.eq(P.value({ { 1, -1 }, {}, 0 / 0, -0.0, 1 / 0, mg.int8, keepdim = true }),
      "{{1, -1}, {}, 0/0, -0.0, 1/0, mg.int8, keepdim = true}")
  end,

  ["fuzz: the model keeps integers in their dtype's range"] = function(t)
    t.eq(Mdl.of_data(mg.uint8, { -1 }).m, 255)
    t.eq(Mdl.of_data(mg.int8, { 200 }).m, 56)
    t.eq(Mdl.of_data(mg.int64, { -5, 3 }).m, 5)
    -- an int8 cast of values up to 300 may hold anything an int8 holds
    t.eq(Mdl.convert(Mdl.int_info(mg.int32, 300), mg.int8).m, 128)
    t.eq(Mdl.convert(Mdl.int_info(mg.int32, 100), mg.int8).m, 100)
    -- the empty max is the dtype's lowest value
    t.eq(Mdl.reduce("max", Mdl.int_info(mg.int32, 5), 0, mg.int32).m, 2 ^ 31)
  end,

  ["fuzz: the model tells exact floats from rounded ones"] = function(t)
    local x = Mdl.of_data(mg.float32, { 0.25, -4, 3.75 })
    t.eq({ x.exact, x.d, x.m }, { true, 2, 4 })
    -- float16 holds k/4 up to 512 exactly, not k/4 up to 1024
    t.truthy(Mdl.convert(Mdl.of_data(mg.float32, { 511.75 }), mg.float16).exact)
    t.truthy(not Mdl.convert(Mdl.of_data(mg.float32, { 1023.75 }), mg.float16).exact)
    -- sums stay exact while the total fits the significand, whatever the order
    t.truthy(Mdl.reduce("sum", x, 1000, mg.float32).exact)
    local big = Mdl.reduce("sum", x, 2 ^ 21, mg.float32)
    t.truthy(not big.exact)
    t.near(big.e, 2 ^ 21 * 2 ^ -24 * 2 ^ 23, 2 ^ 21 * 2 ^ -24 * 2 ^ 23 * 1e-6)
    -- what a rounded value may not meet: casts to integers, comparisons, floor, division of it
    -- by something that may be 0
    local r = Mdl.unary.exp2(mg.float32, x)
    t.truthy(r and not r.exact)
    t.eq(Mdl.convert(r, mg.int32), nil)
    t.eq(Mdl.binop(mg, "lt", r, x, mg.float32), nil)
    t.eq(Mdl.unary.floor(mg.float32, r), nil)
    t.eq(Mdl.binary.div(mg.float32, r, Mdl.of_data(mg.float32, { 1, 0 })), nil)
    t.truthy(Mdl.binary.div(mg.float32, r, Mdl.of_data(mg.float32, { 2, -0.5 })))
    t.truthy(Mdl.binop(mg, "lt", x, x, mg.float32))
    -- near overflow is refused
    t.eq(Mdl.unary.exp2(mg.float16, Mdl.of_data(mg.float16, { 15.5 })), nil)
    t.eq(Mdl.tolerance(x), 0)
    t.eq(Mdl.tolerance(r), 2 * r.e)
  end,
}
