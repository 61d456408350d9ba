-- Memory stays flat when lazy tensors are built and dropped: handles are released by the
-- collector, graphs and buffers with them.
local mg = require("moongrad")
local Tensor = mg.Tensor

local function rss_kib()
  local f = io.open("/proc/self/status")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return tonumber(s:match("VmRSS:%s*(%d+)"))
end

return {
  ["100,000 lazy tensors built and dropped, 1,000 realized, hold flat memory"] = function(t)
    local x = Tensor.rand(32, 32):realize()
    local function round(n, realize_every)
      for i = 1, n do
        local y = (x * 2 + 1):exp2() - x
        if i % realize_every == 0 then y:realize() end
      end
      collectgarbage()
      collectgarbage()
    end
    round(20000, 100)  -- warm up: caches and the Lua heap reach their size
    local mem0, nodes0, tensors0, rss0 = mg.memory_used(), mg.live_nodes(), mg.live_tensors(), rss_kib()
    round(100000, 100)  -- 4 ops each, 1,000 realized
    local mem1, nodes1, tensors1, rss1 = mg.memory_used(), mg.live_nodes(), mg.live_tensors(), rss_kib()
    t.eq(mem1, mem0, "bytes held by buffers")
    t.eq(nodes1, nodes0, "live graph nodes")
    t.eq(tensors1, tensors0, "live tensor handles")
    -- ASan (CONFIG=debug) quarantines freed memory, so RSS says nothing there
    if rss0 and rss1 and os.getenv("MOONGRAD_CONFIG") ~= "debug" then t.truthy(rss1 < rss0 + 20 * 1024, "RSS grew from " .. rss0 .. " KiB to " .. rss1 .. " KiB") end
  end,

  ["the collector is stepped while tensors pile up"] = function(t)
    collectgarbage()
    local peak = 0
    for _ = 1, 20 do
      local y = Tensor.rand(256, 256):realize()  -- 256 KiB each, dropped at once
      peak = math.max(peak, mg.memory_used())
      y = nil
    end
    for _ = 1, 2000 do
      local _ = Tensor.ones(256, 256):contiguous():realize()
      peak = math.max(peak, mg.memory_used())
    end
    -- 2,000 dead 256 KiB buffers would be 500 MiB; the collector keeps far fewer alive
    t.truthy(peak < 64 * 1024 * 1024, "peak " .. peak .. " bytes")
  end,
}
