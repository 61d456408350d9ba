-- mg.jit and in-place assignment (docs/jit.md). Every result is compared with eager evaluation:
-- the same code run without the jit, or with a realize after every line.
local mg = require("moongrad")
local ffi = require("ffi")
local Tensor = mg.Tensor
local here = (arg and arg[0] or "tests/lua/run.lua"):match("^(.*)/tests/lua/[^/]*$") or "."

local function f32(l) return Tensor(l, { dtype = mg.float32 }) end
local function compiled() return mg.Tensor.zeros(1).device ~= "REF" end

-- The bytes of a tensor's values, for bit-identical comparisons.
local function bytes(x)
  local n = x:numel() * x.dtype.itemsize
  local buf = ffi.new("uint8_t[?]", math.max(n, 1))
  local core = require("moongrad.core")
  assert(core.C.mg_tensor_copyout(core.ctx, x.h, buf, n) == 0)
  return ffi.string(buf, n)
end

-- Runs the sample's model for `steps` training steps of batch 8 drawn from a fixed set of 64
-- images, with or without the jit; returns each step's loss bytes and the parameters' bytes.
local function train(steps, use_jit)
  mg.manual_seed(7)
  local model = assert(loadfile(here .. "/samples/mnist_model.lua"))()(mg)
  local params = mg.nn.parameters(model)
  local opt = mg.optim.Adam(params, { lr = 1e-3 })
  local X = (Tensor.rand(64, 1, 28, 28) * 255):realize()
  local Y = Tensor.randint({ 64 }, 1, 11):realize()
  local function step()
    local idx = Tensor.randint({ 8 }, 1, 65)
    opt:zero_grad()
    local loss = model(X[idx]):cross_entropy(Y[idx])
    loss:backward()
    opt:step(loss)
    return loss
  end
  local f = use_jit and mg.jit(step) or step
  local losses = {}
  for i = 1, steps do losses[i] = bytes(f()) end
  local ps = {}
  for i, p in ipairs(params) do ps[i] = bytes(p) end
  return losses, ps, use_jit and f:info() or nil
end

return {
  -- ---- assign, against a realize after every line ----
  ["assign: read before write sees the old value"] = function(t)
    local x = f32({ 1, 2, 3, 4 }):realize()
    local v = x * 10          -- lazy: reads x as it is now
    x:assign(x + 1)
    t.eq(x:tolist(), { 2, 3, 4, 5 })
    t.eq(v:tolist(), { 10, 20, 30, 40 })
  end,
  ["assign: write after write keeps program order, in the tensor's memory"] = function(t)
    local x = f32({ 1, 2, 3, 4 }):realize()
    local p = compiled() and x:ptr()
    x:assign(x * 2)
    x:assign(x + 1)
    t.eq(x:tolist(), { 3, 5, 7, 9 })
    if p then t.truthy(x:ptr() == p, "x keeps its memory") end
  end,
  ["assign: a slice assign writes only the slice, in place"] = function(t)
    local x = f32({ { 1, 2, 3 }, { 4, 5, 6 } }):realize()
    local p = compiled() and x:ptr()
    x[{ {}, 2 }] = f32({ 7, 8 })
    x[{ 1, { 1, 2 } }] = 0
    t.eq(x:totable(), { { 0, 0, 3 }, { 4, 8, 6 } })
    if p then t.truthy(x:ptr() == p, "x keeps its memory") end
  end,
  ["assign: two assigns into one buffer in one realize"] = function(t)
    local a = f32({ 1, 2, 3 }):realize()
    local b = a:reshape(3, 1)       -- a view of a's memory
    a:assign(a + 10)
    b:assign(b * 2)                 -- b's old value: a before the assign
    mg.realize(a, b)
    t.eq(a:tolist(), { 11, 12, 13 })
    t.eq(b:reshape(3):tolist(), { 2, 4, 6 })
  end,
  ["assign: a tensor that others view keeps them at the old value"] = function(t)
    local x = f32({ 1, 2, 3, 4 }):realize()
    local r = x:reshape(2, 2)        -- realized view of x's memory
    local s = x[{ { 2, 3 } }]        -- lazy view
    x:assign(x:flip(1))              -- reads other positions than it writes
    t.eq(x:tolist(), { 4, 3, 2, 1 })
    t.eq(r:totable(), { { 1, 2 }, { 3, 4 } })
    t.eq(s:tolist(), { 2, 3 })
  end,
  ["assign: a value that reduces over the tensor"] = function(t)
    local x = f32({ 1, 2, 3, 6 }):realize()
    x:assign(x - x:mean())
    t.eq(x:tolist(), { -2, -1, 0, 3 })
  end,
  ["assign: lazy and eager evaluation agree on a chain of updates"] = function(t)
    local function run(eager)
      local x = f32({ 1, 2, 3, 4 }):realize()
      local y = f32({ 0, 0, 0, 0 }):realize()
      local keep = {}
      for i = 1, 4 do
        y:assign(y + x * i)
        if eager then y:realize() end
        keep[i] = y * 1             -- a reader of y's value at this line
        if eager then keep[i]:realize() end
        x:assign(x:flip(1) + y)
        if eager then x:realize() end
      end
      local out = { x:tolist(), y:tolist() }
      for i = 1, 4 do out[#out + 1] = keep[i]:tolist() end
      return out
    end
    t.eq(run(false), run(true))
  end,
  ["assign: random programs of assigns, slice assigns, views and readers agree lazy and eager"] = function(t)
    -- A small generator of its own: each program is a list of lines over four 4x4 tensors;
    -- run once lazily and once with a realize after every line, every value read at the end.
    local function lcg(seed)
      local st = seed
      return function(n) st = (st * 1103515245 + 12345) % 2147483648; return st % n + 1 end
    end
    local function run(seed, eager)
      local r = lcg(seed)
      local xs = {}
      for i = 1, 4 do
        local v = {}
        for k = 1, 16 do v[k] = (k * (i + 1)) % 7 - 3 end
        xs[i] = f32(v):reshape(4, 4):contiguous():realize()
      end
      local seen = {}
      local function value(i)
        local x = xs[i]
        local k = r(7)
        if k == 1 then return x:flip(1)
        elseif k == 2 then return x:transpose(1, 2)
        elseif k == 3 then return x - x:sum(2):expand(4, 4) * 0.25
        elseif k == 4 then return x * 2 + xs[r(4)]
        elseif k == 5 then return x:matmul(xs[r(4)]) * 0.125
        elseif k == 6 then return x:reshape(16):flip(1):reshape(4, 4)
        else return x + 1 end
      end
      for _ = 1, 12 do
        local i, k = r(4), r(5)
        if k == 1 then xs[i]:assign(value(r(4)))
        elseif k == 2 then xs[i][{ { r(2), r(2) + 2 }, {} }] = value(r(4))[{ { 1, 1 }, {} }]
        elseif k == 3 then seen[#seen + 1] = xs[i] * 3            -- a lazy reader of this value
        elseif k == 4 then seen[#seen + 1] = xs[i]:reshape(16)    -- a view of it
        else xs[r(4)]:realize() end
        if eager then
          for _, x in ipairs(xs) do x:realize() end
          for _, v in ipairs(seen) do v:realize() end
        end
      end
      local out = {}
      for _, x in ipairs(xs) do out[#out + 1] = x:tolist() end
      for _, v in ipairs(seen) do out[#out + 1] = v:tolist() end
      return out
    end
    for seed = 1, 40 do t.eq(run(seed, false), run(seed, true), "program " .. seed) end
  end,
  ["assign: errors name the shapes, dtypes and devices"] = function(t)
    local x = f32({ 1, 2, 3 })
    t.raises(function() x:assign(f32({ 1, 2 })) end, "assign: shapes {3} and {2} differ")
    t.raises(function() x:assign(Tensor({ 1, 2, 3 }, { dtype = mg.int32 })) end, "assign: dtypes float32 and int32 differ")
  end,

  -- ---- mg.jit ----
  ["jit: replays a function with an assign it does not return"] = function(t)
    local w = f32({ 1, 2, 3, 4 }):realize()
    local f = mg.jit(function(x)
      local y = (x * w):sum()
      w:assign(w + 1)
      return y
    end)
    local ws = { 1, 2, 3, 4 }
    for i = 1, 6 do
      local y = f(f32({ 1, 1, 1, i }))
      local want = ws[1] + ws[2] + ws[3] + ws[4] * i
      t.eq(y:item(), want, "call " .. i)
      for k = 1, 4 do ws[k] = ws[k] + 1 end
      t.eq(w:tolist(), ws, "w after call " .. i)
    end
    local info = f:info()
    if compiled() then
      t.eq(info.mode, "replay")
      t.eq(info.kernels, 2)
    else
      t.eq(info.mode, "eager")
      t.truthy(info.why:find("REF"), info.why)
    end
  end,
  ["jit: outputs are fresh tensors each call"] = function(t)
    local f = mg.jit(function(x) return x * 2, x + 1 end)
    local outs = {}
    for i = 1, 4 do
      local a, b = f(f32({ i, i }))
      outs[i] = { a, b }
    end
    for i = 1, 4 do
      t.eq(outs[i][1]:tolist(), { 2 * i, 2 * i })
      t.eq(outs[i][2]:tolist(), { i + 1, i + 1 })
    end
  end,
  ["jit: a result that is an argument or a state is a copy, not an alias"] = function(t)
    local w = f32({ 1, 2 }):realize()
    local f = mg.jit(function(x) return x, w end)
    local x = f32({ 5, 6 }):realize()
    f(x); f(x)  -- the calls that run fn return what fn returns: x and w themselves
    for _ = 1, 3 do
      local a, b = f(x)
      a[{ 1 }] = 0
      b[{ 2 }] = 0
      a:realize(); b:realize()
      t.eq(x:tolist(), { 5, 6 })
      t.eq(w:tolist(), { 1, 2 })
      t.eq(a:tolist(), { 0, 6 })
      t.eq(b:tolist(), { 1, 0 })
    end
  end,
  ["jit: host data made inside and then assigned in place starts each replay afresh"] = function(t)
    local f = mg.jit(function(x)
      local acc = f32({ 10, 20 })
      acc:assign(acc + x)
      acc:assign(acc * 2)
      return acc + 0
    end)
    for i = 1, 5 do t.eq(f(f32({ i, -i })):tolist(), { (10 + i) * 2, (20 - i) * 2 }, "call " .. i) end
  end,
  ["jit: random tensors made inside get new values each replay, as eagerly"] = function(t)
    local function run(use_jit)
      mg.manual_seed(3)
      local fn = function(x) return x + Tensor.rand(4) end
      local f = use_jit and mg.jit(fn) or fn
      local r = {}
      for i = 1, 5 do r[i] = bytes(f(f32({ 0, 0, 0, 0 }))) end
      r[6] = bytes(Tensor.rand(2))  -- the RNG advanced as many draws
      return r
    end
    local a, b = run(true), run(false)
    t.eq(a, b)
    t.truthy(a[4] ~= a[5], "new values each call")
  end,
  ["jit: a training step of the sample's model replays bit-identically to eager"] = function(t)
    local l1, p1, info = train(5, true)
    local l2, p2 = train(5, false)
    for i = 1, 5 do t.truthy(l1[i] == l2[i], "loss of step " .. i .. " differs") end
    for i = 1, #p1 do t.truthy(p1[i] == p2[i], "parameter " .. i .. " differs after 5 steps") end
    if compiled() then
      t.eq(info.mode, "replay")
      t.truthy(info.kernels > 50, "kernels per replay: " .. tostring(info.kernels))
    end
  end,
  ["jit: a learning rate changed between replays is used, as eagerly"] = function(t)
    local function run(use_jit)
      local p = f32({ 1, 2, 3 }):realize()
      p.requires_grad = true
      local opt = mg.optim.SGD({ p }, { lr = 0.1, momentum = 0.9 })
      local fn = function(x)
        opt:zero_grad()
        local loss = (p * x):sum()
        loss:backward()
        opt:step(loss)
        return loss
      end
      local f = use_jit and mg.jit(fn) or fn
      for i = 1, 6 do
        opt.lr = 0.1 / i
        f(f32({ 1, -1, 2 }))
      end
      return bytes(p)
    end
    t.truthy(run(true) == run(false), "parameters differ from eager")
  end,
  ["jit: an argument that changes shape, dtype or device is an error naming it"] = function(t)
    local f = mg.jit(function(a, x) return a * x end)
    for _ = 1, 3 do f(f32({ 1, 2 }), f32({ 3, 4 })) end
    if not compiled() then t.skip("REF: the jit runs the function as it is") end
    t.raises(function() f(f32({ 1, 2 }), f32({ 1, 2, 3 })) end, "argument 2 is a tensor {3} float32")
    t.raises(function() f(Tensor({ 1, 2 }, { dtype = mg.float64 }), f32({ 1, 2 })) end, "argument 1 is a tensor {2} float64")
    t.raises(function() f(f32({ 1, 2 }), f32({ 1, 2 }):to("REF")) end, "argument 2 is a tensor {2} float32 on REF")
    t.raises(function() f(f32({ 1, 2 })) end, "called with 1 argument")
    local g = mg.jit(function(x, k) return x * k end)
    for _ = 1, 3 do g(f32({ 1 }), 2) end
    t.raises(function() g(f32({ 1 }), 3) end, "argument 2 is 3, but was captured as 2")
    local h = mg.jit(function(x) return x * 2 end, { retrace = true })
    for _ = 1, 3 do h(f32({ 1, 2 })) end
    t.eq(h(f32({ 1, 2, 3 })):tolist(), { 2, 4, 6 })
    t.eq(h(f32({ 1, 2, 3 })):tolist(), { 2, 4, 6 })
    t.eq(h(f32({ 4, 5, 6 })):tolist(), { 8, 10, 12 })
    t.eq(h:info().mode, "replay")
  end,
  ["jit: bad use is a clear error"] = function(t)
    t.raises(function() mg.jit(42) end, "jit: expected a function, got number")
    t.raises(function() mg.jit(function() end, { retrce = true }) end, "unknown option 'retrce'")
    local f = mg.jit(function() return 1 end)
    t.raises(function() f() end, "returned 1 as result 1; a jitted function returns tensors")
    local inner = mg.jit(function(x) return x + 1 end)
    local outer = mg.jit(function(x) return inner(x) * 2 end)
    for _ = 1, 2 do inner(f32({ 1 })) end
    outer(f32({ 1 }))
    if compiled() then t.raises(function() outer(f32({ 1 })) end, "jitted function called inside another") end
    -- a failing capture leaves the jit and the context usable
    local n = 0
    local flaky = mg.jit(function(x) n = n + 1; if n == 2 then error("boom") end; return x + 1 end)
    flaky(f32({ 1 }))
    t.raises(function() flaky(f32({ 1 })) end, "boom")
    t.eq(flaky(f32({ 1 })):tolist(), { 2 })
    t.eq(flaky(f32({ 2 })):tolist(), { 3 })
  end,
  ["jit: a jitted step run 1,000 times holds flat memory"] = function(t)
    local w = f32({ 1, 2, 3, 4 }):realize()
    local f = mg.jit(function(x)
      local y = (x * w):exp():sum() + Tensor.rand(4):sum()
      w:assign(w * 0.5 + 1)
      return y
    end)
    local x = f32({ 0.1, 0.2, 0.3, 0.4 }):realize()
    for _ = 1, 50 do f(x) end
    collectgarbage(); collectgarbage()
    local mem0, nodes0, tensors0 = mg.memory_used(), mg.live_nodes(), mg.live_tensors()
    for _ = 1, 1000 do f(x) end
    collectgarbage(); collectgarbage()
    t.eq(mg.memory_used(), mem0, "bytes held by buffers")
    t.eq(mg.live_nodes(), nodes0, "live graph nodes")
    t.eq(mg.live_tensors(), tensors0, "live tensors")
  end,
  ["jit: JIT=0 runs the function every call"] = function(t)
    local bin = os.getenv("MOONGRAD_CONFIG") == "debug" and "build/debug/bin/moongrad" or "build/bin/moongrad"
    local script = os.tmpname() .. ".lua"
    local f = assert(io.open(script, "w"))
    f:write([[
      local mg = require("moongrad")
      local n = 0
      local g = mg.jit(function(x) n = n + 1; return x + 1 end)
      for i = 1, 4 do g(mg.Tensor({ i })) end
      io.write(n, " ", g:info().mode, "\n")
    ]])
    f:close()
    local function run(env)
      local p = assert(io.popen(env .. " " .. bin .. " '" .. script .. "' 2>&1"))
      local out = p:read("*a")
      p:close()
      return out
    end
    t.eq(run("JIT=0"), "4 new\n")
    if compiled() then t.eq(run("JIT=1 DEV=CPU"), "2 replay\n") end
    os.remove(script)
  end,
}
