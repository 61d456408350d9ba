-- Fusion on compiled devices: how many kernels a computation takes, the schedule cache, and
-- temporaries freed inside a realize. Values are checked too (against plain Lua arithmetic).
local mg = require("moongrad")
local Tensor = mg.Tensor

local function compiled(t)
  if mg.Tensor{1}.device == "REF" then t.skip("kernel counts belong to compiled devices (REF evaluates graphs op by op)") end
end

-- Kernels launched while fn runs.
local function kernels(fn)
  local before = mg.stats().kernels_run
  local r = fn()
  return mg.stats().kernels_run - before, r
end

local function rows(n, m, f)
  local r = {}
  for i = 1, n do
    r[i] = {}
    for j = 1, m do r[i][j] = f(i, j) end
  end
  return r
end

return {
  ["(a+b)*c is one kernel"] = function(t)
    compiled(t)
    local a, b, c = Tensor{1, 2, 3}, Tensor{10, 20, 30}, Tensor{2, 2, 2}
    local n, v = kernels(function() return ((a + b) * c):totable() end)
    t.eq(n, 1)
    t.eq(v, {22, 44, 66})
  end,

  ["(a*b):sum() is one kernel"] = function(t)
    compiled(t)
    local a, b = Tensor(rows(4, 5, function(i, j) return i + j end)), Tensor(rows(4, 5, function(i, j) return i - j end))
    local n, v = kernels(function() return (a * b):sum():item() end)
    t.eq(n, 1)
    local want = 0
    for i = 1, 4 do for j = 1, 5 do want = want + (i + j) * (i - j) end end
    t.eq(v, want)
  end,

  ["x:matmul(w):add(b):relu() is one kernel"] = function(t)
    compiled(t)
    local x = Tensor(rows(3, 4, function(i, j) return (i * j) % 5 - 2 end))
    local w = Tensor(rows(4, 2, function(i, j) return i - 2 * j end))
    local b = Tensor{1, -30}
    local n, v = kernels(function() return x:matmul(w):add(b):relu():totable() end)
    t.eq(n, 1)
    for i = 1, 3 do
      for j = 1, 2 do
        local s = ({1, -30})[j]
        for k = 1, 4 do s = s + ((i * k) % 5 - 2) * (k - 2 * j) end
        t.eq(v[i][j], math.max(s, 0))
      end
    end
  end,

  ["softmax over one axis is at most 3 kernels"] = function(t)
    compiled(t)
    local x = Tensor(rows(3, 5, function(i, j) return (i * 7 + j * 3) % 11 / 4 end))
    local n, v = kernels(function() return x:softmax(2):totable() end)
    t.truthy(n <= 3, "softmax took " .. n .. " kernels")
    for i = 1, 3 do
      local e, s = {}, 0
      for j = 1, 5 do e[j] = math.exp((i * 7 + j * 3) % 11 / 4); s = s + e[j] end
      for j = 1, 5 do t.near(v[i][j], e[j] / s, 1e-6) end
    end
  end,

  ["a 3-layer MLP forward is at most 3 kernels"] = function(t)
    compiled(t)
    mg.manual_seed(3)
    local x = Tensor.rand(8, 16)
    local w1, w2, w3 = Tensor.rand(16, 32), Tensor.rand(32, 32), Tensor.rand(32, 4)
    local b1, b2, b3 = Tensor.rand(32), Tensor.rand(32), Tensor.rand(4)
    local n, v = kernels(function()
      return x:matmul(w1):add(b1):relu():matmul(w2):add(b2):relu():matmul(w3):add(b3):totable()
    end)
    t.truthy(n <= 3, "the MLP took " .. n .. " kernels")
    local ref = x:to("REF"):matmul(w1:to("REF")):add(b1:to("REF")):relu():matmul(w2:to("REF")):add(b2:to("REF")):relu()
      :matmul(w3:to("REF")):add(b3:to("REF")):totable()
    t.allclose(v, ref, 1e-5)
  end,

  ["a second identical step reuses the schedule and compiles nothing"] = function(t)
    compiled(t)
    local function step(a, b) return ((a * b):sum(2) + a:max(2)):totable() end
    step(Tensor{{1, 2}, {3, 4}}, Tensor{{5, 6}, {7, 8}})
    local s0 = mg.stats()
    local v = step(Tensor{{1, 0}, {2, 9}}, Tensor{{4, 4}, {1, 1}})
    local s1 = mg.stats()
    t.eq(v, {1 * 4 + 1, 2 + 9 + 9})
    t.eq(s1.schedule_cache_hits - s0.schedule_cache_hits, 1)
    t.eq(s1.schedules_made - s0.schedules_made, 0)
    t.eq(s1.kernels_compiled - s0.kernels_compiled, 0)
  end,

  ["temporaries die inside the realize that made them"] = function(t)
    compiled(t)
    local x = Tensor.rand(64, 256)
    collectgarbage()
    local before = mg.memory_used()
    local y = x:softmax(2)
    y:realize()
    t.eq(mg.memory_used() - before, 64 * 256 * 4, "only the result is held")
  end,

  ["movement ops fuse: permute, pad, shrink, flip and expand need no copies"] = function(t)
    compiled(t)
    local x = Tensor(rows(3, 4, function(i, j) return i * 10 + j end))
    local n, v = kernels(function()
      return (x:permute(2, 1):flip(1):pad({{1, 0}, {0, 1}})[{{2, 5}, {1, 3}}] + x:sum(2):reshape(1, 3):expand(4, 3)):totable()
    end)
    t.eq(n, 2, "the sum is realized once (it is expanded), everything else fuses into one kernel")
    local sums = {}
    for i = 1, 3 do sums[i] = 0; for j = 1, 4 do sums[i] = sums[i] + i * 10 + j end end
    local want = rows(4, 3, function(a, b) return (5 - a) + b * 10 + sums[b] end)
    t.eq(v, want)
  end,

  ["a second run of a program compiles nothing: compiled code is cached on disk (CACHELEVEL=0: not)"] = function(t)
    compiled(t)
    local bin = os.getenv("MOONGRAD_CONFIG") == "debug" and "build/debug/bin/moongrad" or "build/bin/moongrad"
    local dir = os.tmpname()
    os.remove(dir)
    local script = dir .. ".lua"
    local f = assert(io.open(script, "w"))
    f:write([[
      local mg = require("moongrad")
      local x = mg.Tensor{{1, 2, 3}, {4, 5, 6}}
      local v = ((x * 2 + 1):sum(2) + x:max()):totable()
      assert(v[1] == 15 + 6 and v[2] == 33 + 6, "wrong values")
      local s = mg.stats()
      io.write(s.backend_compiles, " ", s.backend_cache_hits, "\n")
    ]])
    f:close()
    local function run(env)
      local p = assert(io.popen(env .. " XDG_CACHE_HOME='" .. dir .. "' " .. bin .. " '" .. script .. "' 2>&1"))
      local out = p:read("*a")
      p:close()
      local c, h = out:match("^(%d+) (%d+)")
      t.truthy(c, "the child printed " .. out)
      return tonumber(c), tonumber(h)
    end
    local c1, h1 = run("")
    local c2, h2 = run("")
    local c3 = run("CACHELEVEL=0")
    os.execute("rm -rf '" .. dir .. "' '" .. script .. "'")
    t.truthy(c1 > 0, "the first run compiles")
    t.eq(h1, 0, "nothing cached at first")
    t.eq(c2, 0, "the second run compiles nothing")
    t.eq(h2, c1, "it finds every kernel on disk")
    t.eq(c3, c1, "CACHELEVEL=0 does not read the disk cache")
  end,

  ["a lazy value on another device is realized there, copied, and the copy fused with the rest"] = function(t)
    compiled(t)
    local x = Tensor({1, 2, 3}, {device = "REF"})
    local y = (x * 10 + 1):to("CPU")  -- lazy on REF, then a copy
    local s0 = mg.stats()
    local v = (y * 2 + Tensor{1, 1, 1}):totable()
    local s1 = mg.stats()
    t.eq(v, {23, 43, 63})
    t.eq(s1.copies - s0.copies, 1)
    t.eq(s1.kernels_run - s0.kernels_run, 1, "the copied value feeds one fused kernel")
    t.eq(x:to("CPU"):to("REF"):to("CPU"):totable(), {1, 2, 3})
  end,

  ["a costly value that is expanded is computed once into a buffer, a cheap one is recomputed"] = function(t)
    compiled(t)
    local x = Tensor{0.5, 1, 1.5, 2}
    local costly = (x:exp() * 2 + 1):sin():reshape(4, 1):expand(4, 8)
    local n, v = kernels(function() return (costly * 3):totable() end)
    t.eq(n, 2, "the sin(exp(x)*2+1) part, then the expanded product")
    for i, xi in ipairs({0.5, 1, 1.5, 2}) do
      for j = 1, 8 do t.near(v[i][j], 3 * math.sin(math.exp(xi) * 2 + 1), 1e-5) end
    end
    local cheap = (x + 1):reshape(4, 1):expand(4, 8)
    local m = kernels(function() return (cheap * 3):totable() end)
    t.eq(m, 1)
  end,

  ["a convolution's input gradient is one kernel: its windows are summed where they are computed"] = function(t)
    compiled(t)
    mg.manual_seed(3)
    local x, w, dy = Tensor.rand(2, 3, 7, 7):realize(), Tensor.rand(4, 3, 3, 3):realize(), Tensor.rand(2, 4, 5, 5):realize()
    local g = (x:conv2d(w) * dy):sum():gradient(x)
    local n, v = kernels(function() return g:totable() end)
    t.eq(n, 1)
    -- dx[n][c][i][j] = sum over o, a, b of dy[n][o][i-a][j-b] * w[o][c][a][b]
    local X, W, D = x:totable(), w:totable(), dy:totable()
    for b = 1, 2 do for c = 1, 3 do for i = 1, 7 do for j = 1, 7 do
      local want = 0
      for o = 1, 4 do for a = 1, 3 do for q = 1, 3 do
        local y, z = i - a + 1, j - q + 1
        if y >= 1 and y <= 5 and z >= 1 and z <= 5 then want = want + D[b][o][y][z] * W[o][c][a][q] end
      end end end
      t.near(v[b][c][i][j], want, 1e-4)
    end end end end
    t.truthy(X, "x realized")
  end,

  ["x[idx] over a long dim is one load per element: the one-hot sum folds"] = function(t)
    compiled(t)
    local n = 200000
    local y = Tensor.arange(n):reshape(n / 2, 2):realize()  -- lazy arange: folded to positions too
    local idx = Tensor({ 5, n / 2, 1, -1 }, { dtype = mg.int32 })
    local k, v = kernels(function() return y[idx]:totable() end)
    t.eq(v, { { 8, 9 }, { n - 2, n - 1 }, { 0, 1 }, { n - 2, n - 1 } })
    t.eq(k, 2, "the normalized indices, then the gather")
    local s = Tensor.arange(50000):sum():item()
    t.eq(s, 50000 * 49999 / 2)
  end,

  ["reductions of constants nest inside other reductions (each accumulator updated once)"] = function(t)
    -- fuzz seed 671: min of constants inside cumsum inside log_softmax, all in one kernel
    local x = Tensor.full({ 3 }, -2, { dtype = mg.float32 })
    local c = x:min(-1, { keepdim = true }):cumsum(1)
    t.eq(c:reshape(1, 1, 1, 1):log_softmax(3):item(), 0)
    t.eq((Tensor.ones(4, 5):sum(2):max() + Tensor.arange(6):sum()):item(), 20)
  end,

  ["a float sum of constants under a broadcast is stored once, an integer one (arange) is folded"] = function(t)
    compiled(t)
    local n, v = kernels(function() return Tensor.ones(300):cumsum():reshape(300, 1):expand(300, 300):sum():item() end)
    t.eq(n, 2, "the cumsum, then the broadcast sum")
    t.eq(v, 300 * 300 * 301 / 2)
    local m, w = kernels(function() return (Tensor.arange(300):reshape(300, 1) + Tensor.zeros({ 300, 300 }, { dtype = mg.int32 })):sum():item() end)
    t.eq(m, 1, "the arange folds into the sum's kernel")
    t.eq(w, 300 * 300 * 299 / 2)
  end,
}
